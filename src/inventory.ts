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
import { WindowSchema } from './migration/window';

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

/**
 * Which OpenClaw release phase D installs (issue 18): `installer` (the SOP's: whatever the installer gives),
 * `docker` (the Docker-era release itself, as the scan's bot listing read it), or a pinned release (`2026.9.6`).
 */
const versionPolicy = "'installer', 'docker' or a release such as 2026.9.6";
export const OpenclawVersionSchema = z.union(
  [z.enum(['installer', 'docker']), z.string().regex(/^\d{4}\.\d{1,2}\.\d{1,2}$/, versionPolicy)],
  { error: versionPolicy },
);

/** The release in a `--version` line (`2026.2.19`, `OpenClaw 2026.9.6 (eb377ac)`); none when it holds none. */
export function releaseIn(versionLine: string): string | undefined {
  return /\b(\d{4}\.\d{1,2}\.\d{1,2})\b/.exec(versionLine)?.[1];
}

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

/**
 * A Proxmox node's name in an inventory: PVE's node names are host names; the one-node shorthand's node is named by
 * its host, which may be an IP address (hence ':').
 */
export const nodeName = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'a node name (letters, digits, . _ - :)')
  .refine((s) => !/^\d+$/.test(s), 'a node name with a letter or a dot (a number is a vmid)');

/** Even with allowConcurrencyAboveSop: one fleet, or one node of it, does not take more migrations at once. */
export const MAX_CONCURRENCY = 20;

/**
 * One node of `nodes`: how to reach it over SSH, its bot ledger (default /root/openclaw-bot-ledger.tsv), and how
 * many of a fleet's migrations it takes at once (default: the fleet's `concurrency`).
 */
export const InventoryNodeSchema = strictObject({
  ...SshEndpointSchema.shape,
  ledgerPath: ledgerPath.optional(),
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
});
export type InventoryNode = z.output<typeof InventoryNodeSchema>;

/** The SSH endpoint of a node entry: what a migrateVm run's `node` is. */
export function nodeEndpoint({ ledgerPath: _, concurrency: __, ...endpoint }: InventoryNode): SshEndpoint {
  return endpoint;
}

export const InventoryVmSchema = strictObject({
  vmid,
  ip: ipAddress,
  name: z
    .string()
    .max(63)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a VM name (letters, digits, . _ -)')
    .optional(),
  /** the name of its node in `nodes`; may be left out when there is one node */
  node: nodeName.optional(),
  /** set for machines reached straight over SSH instead of through the node's guest agent */
  ssh: SshEndpointSchema.optional(),
  /** this VM's own choice of the pre-staged order, over the inventory's `prestage` */
  prestage: z.boolean().optional(),
  /** this VM's own maintenance window, over the inventory's `window` */
  window: WindowSchema.optional(),
  /** this VM's own version policy, over the inventory's `openclawVersion` */
  openclawVersion: OpenclawVersionSchema.optional(),
});

/** Enough for the 500-VM benchmark four times over; a fleet's input and its VM table stay far below the payload limit. */
export const MAX_FLEET_VMS = 2000;
/** Nodes of one inventory: a cluster's size is bounded by corosync well below this. */
export const MAX_NODES = 100;

/** Nodes by name, as an inventory's `nodes` (and discover's input) has them. */
export const NodesSchema = z
  .record(nodeName, InventoryNodeSchema, {
    // zod says 'Invalid key in record' alone: the rule the name broke is the useful part
    error: (issue) =>
      issue.code === 'invalid_key' ? `${issue.issues.map((inner) => inner.message).join('; ')}` : undefined,
  })
  .refine((nodes) => Object.keys(nodes).length >= 1, 'at least one node')
  .refine((nodes) => Object.keys(nodes).length <= MAX_NODES, `at most ${MAX_NODES} nodes`);

/**
 * A fleet of OpenClaw VMs behind one or more Proxmox nodes, as written: `nodes` (a name each) with every VM naming
 * its node, or the one-node shorthand `node` (+ `ledgerPath`). The lab writes one, operators and `discover` theirs.
 */
const WrittenInventorySchema = strictObject({
  /** the one-node shorthand: the same as `nodes` with this one node, named by its host */
  node: SshEndpointSchema.optional(),
  /** with `node`: the node's bot ledger (default /root/openclaw-bot-ledger.tsv); with `nodes` each node says */
  ledgerPath: ledgerPath.optional(),
  nodes: NodesSchema.optional(),
  panelRelease: PanelReleaseSchema,
  installCommand: shellCommandLine.optional(),
  /** which release phase D installs on every VM unless it says otherwise; default `installer` */
  openclawVersion: OpenclawVersionSchema.optional(),
  /** phase I removes each VM's OpenClaw images too (after acceptance and approval); default: they stay */
  removeImages: z.boolean().optional(),
  /** every VM migrates pre-staged (Docker stopped only for the final copy and the start) unless it says otherwise */
  prestage: z.boolean().optional(),
  /** when a VM's outage may start (phase C): every VM's unless it has its own (src/migration/window.ts) */
  window: WindowSchema.optional(),
  ...ApproverPolicyShape,
  vms: z
    .array(InventoryVmSchema)
    .min(1)
    .max(MAX_FLEET_VMS)
    .superRefine((vms, ctx) => {
      const seen = new Map<number, string | undefined>();
      vms.forEach((vm, i) => {
        if (seen.has(vm.vmid)) {
          const other = seen.get(vm.vmid);
          const twoNodes = other !== undefined && vm.node !== undefined && other !== vm.node;
          const message = twoNodes ? `vmid ${vm.vmid} on two nodes: ${other} and ${vm.node}` : `vmid ${vm.vmid} twice`;
          ctx.addIssue({ code: 'custom', path: [i, 'vmid'], message });
        } else seen.set(vm.vmid, vm.node);
      });
    }),
});

/** Where the written form leaves the nodes ambiguous or wrong; each problem names its field. */
function checkNodes(written: z.output<typeof WrittenInventorySchema>, ctx: z.RefinementCtx): void {
  const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (written.node && written.nodes) return problem(['nodes'], 'either `node` (one node) or `nodes`, not both');
  if (!written.node && !written.nodes)
    return problem(['node'], 'expected object: `node` (the one node) or `nodes` (a name each)');
  if (written.nodes) {
    if (written.ledgerPath) problem(['ledgerPath'], 'with `nodes`, each node has its own ledgerPath');
    const names = Object.keys(written.nodes);
    const byKey = new Map<string, string>();
    for (const name of names) {
      const key = written.nodes[name].hostKeySha256;
      const other = byKey.get(key);
      if (other !== undefined)
        problem(['nodes', name, 'hostKeySha256'], `the host key of node ${other} too: one machine named twice?`);
      else byKey.set(key, name);
    }
    written.vms.forEach((vm, i) => {
      if (vm.node === undefined) {
        if (names.length > 1) problem(['vms', i, 'node'], `which node: one of ${names.join(', ')}`);
      } else if (!names.includes(vm.node))
        problem(['vms', i, 'node'], `node ${vm.node} is not in nodes (${names.join(', ')})`);
    });
  } else {
    written.vms.forEach((vm, i) => {
      if (vm.node !== undefined) problem(['vms', i, 'node'], 'a node name needs `nodes`; with `node` there is one');
    });
  }
}

/**
 * The inventory in its one canonical form: `nodes` (the shorthand's node named by its host, its `ledgerPath` in
 * it) and every VM naming its node. Parsing this form again gives it back unchanged.
 */
function canonical<Written extends z.output<typeof WrittenInventorySchema>>({
  node,
  ledgerPath: shorthandLedger,
  nodes,
  vms,
  ...rest
}: Written) {
  const canonicalNodes: Record<string, InventoryNode> = nodes ?? {
    [node!.host]: { ...node!, ...(shorthandLedger ? { ledgerPath: shorthandLedger } : {}) },
  };
  const only = Object.keys(canonicalNodes)[0];
  return { nodes: canonicalNodes, ...rest, vms: vms.map((vm) => ({ ...vm, node: vm.node ?? only })) };
}

export const InventorySchema = WrittenInventorySchema.superRefine(checkNodes).transform(canonical);
/**
 * What `discover` starts from: an inventory whose VMs may be none (the nodes are what it looks at; its settings go
 * into the inventory it writes).
 */
export const DiscoverySourceSchema = WrittenInventorySchema.extend({
  vms: z.array(InventoryVmSchema).max(MAX_FLEET_VMS).default([]),
})
  .superRefine(checkNodes)
  .transform(canonical);
export type Inventory = z.output<typeof InventorySchema>;
/** An inventory as written (either form), as a fleet's input or a file may hold it. */
export type InventoryInput = z.input<typeof InventorySchema>;
export type InventoryVm = Inventory['vms'][number];

/** The node of a one-node inventory (the lab's, a shorthand's), as an SSH endpoint; refused for several nodes. */
export function soleNode(inventory: Inventory): SshEndpoint {
  const nodes = Object.values(inventory.nodes);
  if (nodes.length !== 1) throw new Error(`the inventory has ${nodes.length} nodes, not one`);
  return nodeEndpoint(nodes[0]);
}
