import { z } from 'zod';
import { InventorySchema, MAX_CONCURRENCY, MAX_FLEET_VMS, nodeName } from '../inventory';
import { parseInput, VmOverridesSchema } from '../migration/input';
import { FleetGateSchema } from '../migration/messages';
import { OutageMsSchema } from '../migration/outage';
import { strictObject, vmid } from '../schema';
import { VmProgressSchema } from './messages';

/** SOP §2.1: 2 at a time, 3 at most. */
export const SOP_MAX_CONCURRENCY = 3;

const aboveSop = (concurrency: number) =>
  `${concurrency} is above the SOP's limit of ${SOP_MAX_CONCURRENCY} (§2.1); set allowConcurrencyAboveSop to insist`;

/** Everything one migrateFleet run needs; validated before any VM starts. */
export const MigrateFleetInputSchema = strictObject({
  inventory: InventorySchema,
  /**
   * migrations in flight at once, from start to close (a run waiting for approval holds its slot), over all nodes;
   * a node's own `concurrency` in the inventory bounds it further
   */
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(2),
  /** above 3 goes against the SOP; only with this set */
  allowConcurrencyAboveSop: z.boolean().default(false),
  /** on each node, its first N VMs of the inventory migrate one at a time, and must complete, before it fans out */
  canary: z.number().int().min(0).max(100).default(1),
  /** no new VM starts once this many have failed, rolled back or been rejected */
  failureBudget: z.number().int().min(1).max(1_000_000).default(1),
  /** applied to every VM's migrateVm input: timeouts, runAs, ports, dryRun, startedBy, approvers, fourEyes */
  vmOverrides: VmOverridesSchema.default({}),
  /**
   * pre-staged fleets only: up to this many VMs more than `concurrency` run their scan, backup and pre-staging (A, B,
   * D, E₁, F, G₁) while others cut over; `concurrency` then bounds only the VMs between C and their end (issue 23)
   */
  prestageAhead: z.number().int().min(0).max(MAX_FLEET_VMS).optional(),
  /** children started per run before the fleet drains and continues as new, bounding each run's history */
  childrenPerRun: z.number().int().min(1).max(500).default(100),
}).superRefine((input, ctx) => {
  if (input.concurrency > SOP_MAX_CONCURRENCY && !input.allowConcurrencyAboveSop) {
    ctx.addIssue({
      code: 'custom',
      path: ['concurrency'],
      message: aboveSop(input.concurrency),
    });
  }
  // zod runs this on an inventory it refused too: there may be none
  const prestage = input.vmOverrides.prestage ?? (input.inventory as Partial<typeof input.inventory>).prestage;
  if (input.prestageAhead && prestage !== true)
    ctx.addIssue({
      code: 'custom',
      path: ['prestageAhead'],
      message: `${input.prestageAhead} VMs ahead need a pre-staged fleet: set prestage in the inventory (or vmOverrides)`,
    });
  for (const [name, node] of Object.entries((input.inventory as Partial<typeof input.inventory>).nodes ?? {})) {
    if (node.concurrency === undefined) continue;
    const path = ['inventory', 'nodes', name, 'concurrency'];
    if (node.concurrency > SOP_MAX_CONCURRENCY && !input.allowConcurrencyAboveSop)
      ctx.addIssue({
        code: 'custom',
        path,
        message: aboveSop(node.concurrency),
      });
    else if (node.concurrency > input.concurrency)
      ctx.addIssue({
        code: 'custom',
        path,
        message: `${node.concurrency} is above the fleet's concurrency (${input.concurrency}), which bounds every node: raise the fleet's, or lower this`,
      });
  }
});

export type MigrateFleetInput = z.input<typeof MigrateFleetInputSchema>;
export type MigrateFleetParams = z.output<typeof MigrateFleetInputSchema>;

export function parseMigrateFleetInput(input: unknown): MigrateFleetParams {
  return parseInput(MigrateFleetInputSchema, input, 'migrateFleet input');
}

/** Text the fleet wrote itself (errors quote its children's failures): bounded by the payload limit, not by rule. */
const reported = z.string().max(1 << 20);

/**
 * What one fleet run hands the next when it continues as new: the run's second argument, so a raw start could
 * forge it, and it is checked like the first.
 */
export const FleetCarrySchema = strictObject({
  vms: z
    .array(
      strictObject({
        vmid,
        name: z.string().max(63).optional(),
        node: nodeName.optional(),
        state: z.enum(['queued', 'running', 'completed', 'rejected', 'planned', 'rolled-back', 'failed', 'skipped']),
        phase: VmProgressSchema.shape.phase.optional(),
        waitingFor: reported.optional(),
        workflowId: z.string().max(300).optional(),
        startedAt: z.iso.datetime().optional(),
        endedAt: z.iso.datetime().optional(),
        durationMs: z.number().int().min(0).optional(),
        recordPath: z.string().max(4096).optional(),
        error: reported.optional(),
        problems: z.array(reported).max(100).optional(),
        outageMs: OutageMsSchema.optional(),
      }),
    )
    .max(MAX_FLEET_VMS),
  gate: FleetGateSchema,
  runs: z.number().int().min(0),
  startedAt: z.iso.datetime(),
});
export type FleetCarry = z.output<typeof FleetCarrySchema>;
