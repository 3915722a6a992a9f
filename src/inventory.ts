import { z } from 'zod';

/** `SHA256:` and 43 base64 characters, as `ssh-keygen -l -E sha256` prints a key's fingerprint. */
export const HostKeyFingerprintSchema = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'a host-key fingerprint as ssh-keygen -l prints it: SHA256:<43 base64 chars>');

export const SshEndpointSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1).default('root'),
  /** path of the private key; absent = the ssh agent (SSH_AUTH_SOCK) */
  privateKeyPath: z.string().min(1).optional(),
  hostKeySha256: HostKeyFingerprintSchema,
});
export type SshEndpoint = z.output<typeof SshEndpointSchema>;

export const InventoryVmSchema = z.object({
  vmid: z.number().int().min(100).max(999_999_999),
  ip: z.string().min(1),
  name: z.string().optional(),
  /** set for machines reached straight over SSH instead of through the node's guest agent */
  ssh: SshEndpointSchema.optional(),
});

/** A fleet of OpenClaw VMs behind one Proxmox node: the lab writes one, operators write theirs. */
export const InventorySchema = z.object({
  node: SshEndpointSchema,
  panelRelease: z.object({
    repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name'),
    tag: z.string().min(1),
    baseUrl: z.string().url().default('https://api.github.com'),
  }),
  installCommand: z.string().min(1).optional(),
  /** the node's bot ledger (default /root/openclaw-bot-ledger.tsv) */
  ledgerPath: z.string().startsWith('/').optional(),
  vms: z
    .array(InventoryVmSchema)
    .min(1)
    .superRefine((vms, ctx) => {
      const seen = new Set<number>();
      vms.forEach((vm, i) => {
        if (seen.has(vm.vmid)) ctx.addIssue({ code: 'custom', path: [i, 'vmid'], message: `vmid ${vm.vmid} twice` });
        seen.add(vm.vmid);
      });
    }),
});
export type Inventory = z.output<typeof InventorySchema>;
