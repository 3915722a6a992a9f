import { z } from 'zod';
import { NodesSchema } from '../inventory';
import { strictObject } from '../schema';

/** What one discover run reads: nodes by name, as an inventory's `nodes` has them. */
export const DiscoverInputSchema = strictObject({
  nodes: NodesSchema,
  /** write each VM's state back as a Proxmox tag (`qm set --tags`), its other tags kept; off by default */
  tag: z.boolean().default(false),
  /** nodes read at once */
  nodesAtOnce: z.number().int().min(1).max(20).default(4),
});
export type DiscoverInput = z.input<typeof DiscoverInputSchema>;
