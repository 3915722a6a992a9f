import { z } from 'zod';
import {
  absolutePath,
  githubRepo,
  hostKeyFingerprint,
  hostName,
  ipAddress,
  ledgerPath,
  linuxUser,
  personName,
  port,
  releaseBaseUrl,
  releaseTag,
  shellCommandLine,
  strictObject,
  vmid,
} from './schema';

export const HostKeyFingerprintSchema = hostKeyFingerprint;

export const SshEndpointSchema = strictObject({
  host: hostName,
  port: port.default(22),
  user: linuxUser.default('root'),
  /** path of the private key; absent = the ssh agent (SSH_AUTH_SOCK) */
  privateKeyPath: absolutePath.optional(),
  hostKeySha256: HostKeyFingerprintSchema,
});
export type SshEndpoint = z.output<typeof SshEndpointSchema>;

export const PanelReleaseSchema = strictObject({
  repo: githubRepo,
  tag: releaseTag,
  baseUrl: releaseBaseUrl.prefault('https://api.github.com'),
});

/** Who may approve or reject, and whether the one who started a run may approve it (four eyes). */
export const ApproverPolicyShape = {
  /** names that may decide; absent = anyone */
  approvers: z.array(personName).min(1).max(100).optional(),
  /** whoever started the run may not approve it */
  fourEyes: z.boolean().optional(),
};

export const InventoryVmSchema = strictObject({
  vmid,
  ip: ipAddress,
  name: z
    .string()
    .max(63)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a VM name (letters, digits, . _ -)')
    .optional(),
  /** set for machines reached straight over SSH instead of through the node's guest agent */
  ssh: SshEndpointSchema.optional(),
  /** this VM's own choice of the pre-staged order, over the inventory's `prestage` */
  prestage: z.boolean().optional(),
});

/** Enough for the 500-VM benchmark four times over; a fleet's input and its VM table stay far below the payload limit. */
export const MAX_FLEET_VMS = 2000;

/** A fleet of OpenClaw VMs behind one Proxmox node: the lab writes one, operators write theirs. */
export const InventorySchema = strictObject({
  node: SshEndpointSchema,
  panelRelease: PanelReleaseSchema,
  installCommand: shellCommandLine.optional(),
  /** the node's bot ledger (default /root/openclaw-bot-ledger.tsv) */
  ledgerPath: ledgerPath.optional(),
  /** phase I removes each VM's OpenClaw images too (after acceptance and approval); default: they stay */
  removeImages: z.boolean().optional(),
  /** every VM migrates pre-staged (Docker stopped only for the final copy and the start) unless it says otherwise */
  prestage: z.boolean().optional(),
  ...ApproverPolicyShape,
  vms: z
    .array(InventoryVmSchema)
    .min(1)
    .max(MAX_FLEET_VMS)
    .superRefine((vms, ctx) => {
      const seen = new Set<number>();
      vms.forEach((vm, i) => {
        if (seen.has(vm.vmid)) ctx.addIssue({ code: 'custom', path: [i, 'vmid'], message: `vmid ${vm.vmid} twice` });
        seen.add(vm.vmid);
      });
    }),
});
export type Inventory = z.output<typeof InventorySchema>;
