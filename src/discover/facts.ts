import { z } from 'zod';
import { isIpAddress, oneLine, strictObject, vmid } from '../schema';

/**
 * What `discover` reads from a node and its VMs, parsed from qm's, iptables' and the probe's own output, and the
 * state each VM is in. Pure: the activity feeds it recorded text, the tests too.
 */

/** A VM of `qm list`: PVE's `printf "%10s %-20s %-10s %-10s %12.2f %-10s\n"` (VMID NAME STATUS MEM BOOTDISK PID). */
export interface ListedVm {
  vmid: number;
  name: string;
  /** running, stopped, paused, … as qm prints it */
  status: string;
}

/** `qm list`: a name may hold spaces (`VM 105` when none is set), so the last four words are the fixed columns. */
export function parseQmList(text: string): ListedVm[] {
  const vms: ListedVm[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 5 || !/^\d+$/.test(words[0])) continue;
    vms.push({ vmid: Number(words[0]), name: words.slice(1, -4).join(' '), status: words[words.length - 4] });
  }
  return vms.sort((a, b) => a.vmid - b.vmid);
}

export interface VmConfig {
  name?: string;
  /** `tags: a;b` (PVE stores them `;`-separated; `,` and spaces are read too) */
  tags: string[];
  /** `agent: 1`, `agent: enabled=1,fstrim_cloned_disks=1`; absent or 0 = no guest agent configured */
  agent: boolean;
}

/**
 * `qm config <vmid>`: `key: value` lines, keys sorted (qm.pm prints the description through encode_text, its
 * newlines as %0A, so every line is a key's); the first of a key counts.
 */
export function parseQmConfig(text: string): VmConfig {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const kv = /^([a-z][a-z0-9_-]*): ?(.*)$/.exec(line);
    if (kv && !values.has(kv[1])) values.set(kv[1], kv[2].trim());
  }
  const agent = values.get('agent') ?? '0';
  const enabled = /^(?:enabled=)?(1|0|on|off|yes|no|true|false)(?:,|$)/.exec(agent)?.[1] ?? '0';
  return {
    ...(values.get('name') ? { name: values.get('name') } : {}),
    tags: (values.get('tags') ?? '').split(/[;,\s]+/).filter(Boolean),
    agent: ['1', 'on', 'yes', 'true'].includes(enabled),
  };
}

/** Interfaces that are never the VM's own address on the node's network: loopback, Docker's, bridges' ends. */
const NOT_THE_VM = /^(lo|docker\d*|br-[0-9a-f]+|veth.*|virbr\d+|cni\d*|flannel.*|tailscale\d*|wg\d+)$/;

const AgentInterfacesSchema = z.array(
  z.looseObject({
    name: z.string(),
    'ip-addresses': z.array(z.looseObject({ 'ip-address': z.string(), 'ip-address-type': z.string() })).optional(),
  }),
);

/**
 * The VM's addresses from `qm guest cmd <vmid> network-get-interfaces` (qemu-ga's guest-network-get-interfaces, as
 * qm prints its JSON): IPv4 first, in the agent's order, without loopback, link-local and Docker's own.
 */
export function parseAgentAddresses(text: string): string[] {
  let parsed: z.infer<typeof AgentInterfacesSchema>;
  try {
    parsed = AgentInterfacesSchema.parse(JSON.parse(text));
  } catch {
    return [];
  }
  const addresses = parsed
    .filter((nic) => !NOT_THE_VM.test(nic.name))
    .flatMap((nic) => nic['ip-addresses'] ?? [])
    .map((a) => ({ ip: a['ip-address'], v4: a['ip-address-type'] === 'ipv4' }))
    .filter(({ ip }) => isIpAddress(ip) && !/^(127\.|169\.254\.|::1$|fe80:)/i.test(ip));
  return [...addresses.filter((a) => a.v4), ...addresses.filter((a) => !a.v4)].map((a) => a.ip);
}

/** A DNAT rule of `iptables -t nat -S`: `-A PREROUTING … --dport 20022 … -j DNAT --to-destination 10.0.0.5:22`. */
export interface NatRule {
  dport: number;
  ip: string;
  port: number;
}

export function parseNatRules(text: string): NatRule[] {
  const rules: NatRule[] = [];
  for (const line of text.split('\n')) {
    const dport = /--dport (\d+)\b/.exec(line)?.[1];
    const to = /--to-destination ([0-9.]+):(\d+)\b/.exec(line);
    if (dport && to && /-j DNAT\b/.test(line)) rules.push({ dport: Number(dport), ip: to[1], port: Number(to[2]) });
  }
  return rules;
}

/** The node's bot ledger (commit-ledger.sh): a header, then `vmid ip port_block … mode updated_at note` by tabs. */
export interface LedgerRow {
  vmid: number;
  ip: string;
  mode: string;
}

export function parseLedger(text: string): LedgerRow[] {
  const [header, ...rows] = text.split('\n').filter((line) => line.trim() !== '');
  if (!header) return [];
  const columns = header.split('\t');
  const at = (name: string) => columns.indexOf(name);
  return rows
    .map((row) => row.split('\t'))
    .filter((cells) => /^\d+$/.test(cells[at('vmid')] ?? ''))
    .map((cells) => ({ vmid: Number(cells[at('vmid')]), ip: cells[at('ip')] ?? '', mode: cells[at('mode')] ?? '' }));
}

/** What discover-node.sh printed, part by part. */
export interface NodeListing {
  vms: (ListedVm & { config?: VmConfig; configError?: string })[];
  nat: NatRule[];
  natError?: string;
  ledger: LedgerRow[];
}

export function parseNodeListing(text: string): NodeListing {
  const parts: { head: string; body: string[] }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('### ')) parts.push({ head: line.slice(4), body: [] });
    else parts.at(-1)?.body.push(line);
  }
  const body = (head: string) => parts.find((part) => part.head === head)?.body.join('\n') ?? '';
  const failed = (head: string) => parts.some((part) => part.head === head);
  return {
    vms: parseQmList(body('list')).map((vm) =>
      failed(`config-failed ${vm.vmid}`)
        ? { ...vm, configError: oneLine(body(`config ${vm.vmid}`).trim(), 300) }
        : { ...vm, config: parseQmConfig(body(`config ${vm.vmid}`)) },
    ),
    nat: parseNatRules(body('nat')),
    ...(failed('nat-failed') ? { natError: oneLine(body('nat').trim(), 300) } : {}),
    ledger: parseLedger(body('ledger')),
  };
}

/** What discover-guest.sh found in the VM. */
export interface ProbeFindings {
  dockerPresent: boolean;
  containers: { name: string; image: string; state: string }[];
  /** each direct unit: systemd's LoadState, ActiveState and UnitFileState (enabled, disabled; none when no file) */
  units: { name: string; load: string; active: string; fileState: string }[];
  homes: string[];
  dockerData: boolean;
  dockerRemoved?: string;
  freeBytes?: number;
}

export function parseProbe(stdout: string): ProbeFindings {
  const values = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const kv = /^([a-z_]+)=(.*)$/.exec(line);
    if (kv) values.set(kv[1], [...(values.get(kv[1]) ?? []), kv[2]]);
  }
  const all = (key: string) => values.get(key) ?? [];
  const free = Number(all('free_bytes')[0]);
  return {
    dockerPresent: all('docker_present')[0] === '1',
    containers: all('container').map((line) => {
      const [name = '', image = '', state = ''] = line.split('\t');
      return { name, image, state };
    }),
    units: all('unit').map((line) => {
      const [name = '', load = '', active = '', fileState = ''] = line.split(' ');
      return { name, load, active, fileState };
    }),
    homes: all('home'),
    dockerData: all('docker_data').length > 0,
    ...(values.has('docker_removed') ? { dockerRemoved: all('docker_removed')[0] } : {}),
    ...(Number.isSafeInteger(free) && all('free_bytes')[0] !== '' ? { freeBytes: free } : {}),
  };
}

export const VM_STATES = ['docker-era', 'direct', 'half-way', 'agent-down', 'stopped', 'not-openclaw'] as const;
export type VmState = (typeof VM_STATES)[number];

/** The OpenClaw release of a Docker-era image (`ghcr.io/openclaw/openclaw:2026.2.19` → 2026.2.19). */
export function imageRelease(image: string): string | undefined {
  const tag = /:([\w][\w.+-]*)$/.exec(image.replace(/@sha256:[0-9a-f]+$/, ''))?.[1];
  return tag && tag !== 'latest' ? tag : undefined;
}

/** One VM as discover saw it: the state it is in and why. */
export const DiscoveredVmSchema = strictObject({
  vmid,
  node: z.string(),
  name: z.string().optional(),
  status: z.string(),
  state: z.enum(VM_STATES),
  /** what led to the state, for people: the table's last column, the inventory's comment */
  why: z.string(),
  ip: z.string().optional(),
  tags: z.array(z.string()),
  release: z.string().optional(),
  freeBytes: z.number().int().optional(),
  /** the node's DNAT rules to this VM: `20022→22` */
  nat: z.array(z.string()),
  /** the mode the node's ledger has for it */
  ledgerMode: z.string().optional(),
});
export type DiscoveredVm = z.output<typeof DiscoveredVmSchema>;

/** What the discover workflow returns: each node's VMs as found, or why the node could not be read. */
export interface DiscoveryReport {
  /** `tagError`: `--tag` could not write the node's tags (its VMs were read all the same) */
  nodes: { name: string; error?: string; tagError?: string; vms: DiscoveredVm[] }[];
}

/** What the activity learnt of one VM before classifying it. */
export interface VmFacts {
  listed: ListedVm & { config?: VmConfig; configError?: string };
  /** why the agent could not be asked, when it could not */
  agentError?: string;
  addresses: string[];
  probe?: ProbeFindings;
}

const gatewayContainer = (probe: ProbeFindings) =>
  probe.containers.find((c) => c.name === 'openclaw-gateway') ??
  probe.containers.find((c) => /openclaw\/openclaw|openclaw-gateway/i.test(`${c.name} ${c.image}`));

/**
 * The state of one VM, in this order: not running → `stopped`; no agent configured or none answering, or the probe
 * failing → `agent-down`; nothing of OpenClaw (no container, unit, data, ~/.openclaw or marker) → `not-openclaw`;
 * the Docker-era gateway running, no direct gateway unit that runs or is enabled (a rollback leaves its units
 * disabled, as a VM back on Docker has them), and no docker-removed marker → `docker-era`; the direct
 * gateway active, no OpenClaw container running, and Docker's removed (the marker, or no OpenClaw container left)
 * → `direct`; anything else → `half-way`, saying what was found (a stopped Docker and no direct unit, both running,
 * a direct gateway with Docker stopped but not removed, …).
 */
export function classify(facts: VmFacts): { state: VmState; why: string; release?: string } {
  const { listed, probe } = facts;
  if (listed.status !== 'running') return { state: 'stopped', why: `qm list: ${listed.status}` };
  if (listed.configError) return { state: 'agent-down', why: `qm config: ${listed.configError}` };
  if (!listed.config?.agent) return { state: 'agent-down', why: 'no guest agent configured (qm config: agent)' };
  if (facts.agentError || !probe) return { state: 'agent-down', why: facts.agentError ?? 'the probe did not run' };

  const gateway = gatewayContainer(probe);
  const release = gateway ? imageRelease(gateway.image) : undefined;
  const running = probe.containers.filter((c) => c.state === 'running');
  const direct = probe.units.find((u) => u.name === 'openclaw-gateway' && u.load === 'loaded');
  const directActive = direct?.active === 'active';
  /** a direct gateway that serves or would at the next boot: only a unit known disabled and inactive is not */
  const directLive = direct !== undefined && (direct.active !== 'inactive' || direct.fileState !== 'disabled');
  const found = [
    ...probe.containers.map((c) => `container ${c.name} ${c.state}`),
    ...probe.units
      .filter((u) => u.load === 'loaded')
      .map((u) => `unit ${u.name} ${u.active}${u.fileState === 'disabled' ? ' disabled' : ''}`),
    ...(probe.dockerData ? ['/data/openclaw'] : []),
    ...probe.homes,
    ...(probe.dockerRemoved !== undefined ? [`docker-removed ${probe.dockerRemoved}`] : []),
  ];
  const why = found.join(', ');
  const withRelease = release ? { release } : {};
  if (found.length === 0) return { state: 'not-openclaw', why: 'no OpenClaw container, unit, data or marker' };
  if (gateway?.state === 'running' && !directLive && probe.dockerRemoved === undefined)
    return { state: 'docker-era', why, ...withRelease };
  if (directActive && running.length === 0 && (probe.dockerRemoved !== undefined || probe.containers.length === 0))
    return { state: 'direct', why };
  return {
    state: 'half-way',
    why: halfWay(probe, directActive, gateway?.state === 'running') + ` (${why})`,
    ...withRelease,
  };
}

/** What a half-way VM has of each side, by its gateways (the panel's container may run on without its gateway). */
function halfWay(probe: ProbeFindings, directActive: boolean, dockerGateway: boolean): string {
  if (dockerGateway && directActive) return 'the Docker-era and the direct gateway both running';
  if (dockerGateway) return 'the Docker-era gateway running beside a direct unit or a docker-removed marker';
  if (directActive) return 'the direct gateway running, Docker not removed';
  if (probe.dockerRemoved !== undefined) return 'Docker removed, and no direct gateway running';
  if (probe.containers.length > 0) return 'the Docker-era gateway stopped, and no direct gateway running';
  return 'OpenClaw data, and no gateway running';
}

/** The one state tag discover writes (`--tag`): `openclaw-<state>`; PVE tags are `[a-z0-9_][a-z0-9_+.-]*`. */
export const stateTag = (state: VmState) => `openclaw-${state}`;

/**
 * A VM's tags with its state's tag and none of the other states' (its other tags kept, in their order), or
 * undefined when they are already so.
 */
export function tagsWithState(tags: string[], state: VmState): string[] | undefined {
  const ours = new Set(VM_STATES.map(stateTag));
  const theirs = tags.filter((tag) => !ours.has(tag.toLowerCase()));
  const present = tags.filter((tag) => ours.has(tag.toLowerCase()));
  return present.length === 1 && present[0] === stateTag(state) ? undefined : [...theirs, stateTag(state)];
}
