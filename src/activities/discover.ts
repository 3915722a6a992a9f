import { Context } from '@temporalio/activity';
import {
  classify,
  parseAgentAddresses,
  parseNodeListing,
  parseProbe,
  tagsWithState,
  type DiscoveredVm,
  type NodeListing,
  type VmFacts,
} from '../discover/facts';
import { nodeEndpoint, type InventoryNode } from '../inventory';
import { DEFAULT_LEDGER_PATH } from '../migration/node-lock';
import { guestFor, nodeFor, RemoteError } from '../remote';
import { failure } from '../failures';
import { oneLine } from '../schema';
import { asFailure, lastLines, onNode } from './guest-command';
import { guestScript } from './guest-scripts';

/** discover-node.sh: `qm list`, each VM's `qm config`, `iptables -t nat -S`, the ledger; $1 = the ledger. */
export const discoverNodeScript = guestScript('discover-node.sh');
/** discover-guest.sh: containers, units, ~/.openclaw, /data/openclaw, the docker-removed marker, free disk. */
export const discoverGuestScript = guestScript('discover-guest.sh');

/** VMs looked into at once on one node: each is a few qm calls and one guest command over the pooled connection. */
const VMS_AT_ONCE = 4;
const PROBE_TIMEOUT_MS = 60_000;

export interface DiscoverNodeInput {
  name: string;
  node: InventoryNode;
}

/**
 * One node, read-only: its VMs and their config, NAT rules and ledger, then for each running VM with an agent its
 * addresses and the probe (discover-guest.sh through `qm guest exec`), VMS_AT_ONCE at a time. A VM whose agent
 * fails is `agent-down` with qm's words; only the node's own failure fails the activity.
 */
export async function discoverNode({ name, node }: DiscoverNodeInput): Promise<DiscoveredVm[]> {
  const endpoint = nodeEndpoint(node);
  const context = Context.current();
  const listed = await onNode(endpoint, {
    label: 'discover-node',
    script: discoverNodeScript,
    args: [node.ledgerPath ?? DEFAULT_LEDGER_PATH],
  });
  if (listed.exitCode !== 0)
    throw failure(
      'GuestCommandFailed',
      `discover on node ${name}: exit ${listed.exitCode}\n${lastLines(listed.stderr)}`,
    );
  const listing = parseNodeListing(listed.stdout);
  const found: DiscoveredVm[] = [];
  const queue = [...listing.vms];
  const worker = async () => {
    for (let vm = queue.shift(); vm; vm = queue.shift()) {
      const facts = await vmFacts(endpoint, vm);
      found.push(discovered(name, listing, facts));
      context.heartbeat({ done: found.length, of: listing.vms.length });
    }
  };
  await Promise.all(Array.from({ length: VMS_AT_ONCE }, worker));
  return found.sort((a, b) => a.vmid - b.vmid);
}

async function vmFacts(endpoint: ReturnType<typeof nodeEndpoint>, listed: NodeListing['vms'][number]) {
  const facts: VmFacts = { listed, addresses: [] };
  if (listed.status !== 'running' || !listed.config?.agent) return facts;
  const vmid = String(listed.vmid);
  try {
    const interfaces = await nodeFor(endpoint).qm(['guest', 'cmd', vmid, 'network-get-interfaces']);
    if (interfaces.exitCode !== 0) return { ...facts, agentError: qmWords(interfaces) };
    facts.addresses = parseAgentAddresses(interfaces.stdout);
    const probe = await guestFor({ vmid: listed.vmid, transport: 'qga', node: endpoint }).run(
      { label: 'discover', script: discoverGuestScript, timeoutMs: PROBE_TIMEOUT_MS },
      { signal: Context.current().cancellationSignal },
    );
    if (probe.exitCode !== 0) return { ...facts, agentError: `the probe exited ${probe.exitCode}: ${qmWords(probe)}` };
    facts.probe = parseProbe(probe.stdout);
  } catch (err) {
    // the node itself failing (its key, its sshd) fails the whole node; the VM's agent failing is this VM's state
    if (err instanceof RemoteError && err.name !== 'GuestUnreachable' && err.name !== 'GuestExecFailed')
      throw asFailure(err);
    if (!(err instanceof RemoteError)) throw err;
    facts.agentError = oneLine(err.message, 300);
  }
  return facts;
}

const qmWords = (result: { stdout: string; stderr: string; exitCode: number }) =>
  oneLine(result.stderr.trim() || result.stdout.trim() || `exit ${result.exitCode}`, 300);

function discovered(node: string, listing: NodeListing, facts: VmFacts): DiscoveredVm {
  const { listed } = facts;
  const ledger = listing.ledger.find((row) => row.vmid === listed.vmid);
  const ip = facts.addresses[0] ?? (ledger?.ip || undefined);
  const { state, why, release } = classify(facts);
  return {
    vmid: listed.vmid,
    node,
    // qm list's `VM <vmid>` stands for no name
    ...(listed.config?.name ? { name: listed.config.name } : {}),
    status: listed.status,
    state,
    why,
    ...(ip ? { ip } : {}),
    tags: listed.config?.tags ?? [],
    ...(release ? { release } : {}),
    ...(facts.probe?.freeBytes !== undefined ? { freeBytes: facts.probe.freeBytes } : {}),
    nat: listing.nat
      .filter((rule) => ip && rule.ip === ip)
      .map((rule) => `${rule.dport}→${rule.port}`)
      .sort(),
    ...(ledger?.mode ? { ledgerMode: ledger.mode } : {}),
  };
}

/**
 * `--tag`, the one write discover makes, after it has read everything: each VM's state as a Proxmox tag
 * (`qm set <vmid> --tags`), its other tags kept; a VM already so tagged is left alone.
 */
export async function tagDiscoveredVms({ node, vms }: { node: InventoryNode; vms: DiscoveredVm[] }): Promise<number> {
  let changed = 0;
  for (const vm of vms) {
    const tags = tagsWithState(vm.tags, vm.state);
    if (!tags) continue;
    const result = await nodeFor(nodeEndpoint(node))
      .qm(['set', String(vm.vmid), '--tags', tags.join(';')])
      .catch((err: unknown) => {
        throw asFailure(err);
      });
    if (result.exitCode !== 0) throw failure('GuestCommandFailed', `qm set ${vm.vmid} --tags: ${qmWords(result)}`);
    changed++;
  }
  return changed;
}
