import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  classify,
  parseAgentAddresses,
  parseNodeListing,
  parseProbe,
  tagsWithState,
  type DiscoveryReport,
  type VmFacts,
} from '../src/discover/facts';
import { renderInventory, renderTable } from '../src/discover/report';
import { DiscoverySourceSchema, InventorySchema } from '../src/inventory';
import { parse } from 'yaml';

/**
 * discover's reading of real output (qm list and qm config as qemu-server prints them, qemu-ga's interfaces as qm
 * prints its JSON, iptables -S, the ledger commit-ledger.sh writes, the probe's own lines) and the inventory it
 * writes. The probe script runs here too, on this machine's own files, to show its lines are what parseProbe reads.
 */

const NODE_OUTPUT = [
  '### list',
  '      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ',
  '       105 bot-105              running    2048              32.00 4242      ',
  '       106 bot-106              running    2048              32.00 4243      ',
  '       107 VM 107               stopped    512                8.00 0         ',
  '       108 nginx-1              running    1024              16.00 4245      ',
  '### config 105',
  'agent: 1',
  'cores: 2',
  'name: bot-105',
  'tags: customer-a;prod',
  '### config 106',
  'agent: enabled=1,fstrim_cloned_disks=1',
  'name: bot-106',
  '### config 107',
  'name: VM-107',
  '### config 108',
  'agent: 0',
  'name: nginx-1',
  '### nat',
  '-P PREROUTING ACCEPT',
  '-A PREROUTING -d 203.0.113.7/32 -p tcp -m tcp --dport 20022 -j DNAT --to-destination 10.10.10.14:22',
  '-A PREROUTING -d 203.0.113.7/32 -p tcp -m tcp --dport 20080 -j DNAT --to-destination 10.10.10.14:18080',
  '-A POSTROUTING -s 10.10.10.0/24 -o vmbr0 -j MASQUERADE',
  '### ledger',
  'vmid\tip\tport_block\tssh_port\tpanel_port\tgateway_port\tmode\tupdated_at\tnote',
  '106\t10.10.10.15\t20100\t20122\t20180\t20189\tdirect\t2026-11-02T10:00:00.000Z\tmigrated',
  '',
].join('\n');

const INTERFACES = JSON.stringify([
  { name: 'lo', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }] },
  {
    name: 'eth0',
    'hardware-address': 'bc:24:11:00:00:05',
    'ip-addresses': [
      { 'ip-address': 'fe80::be24:11ff:fe00:5', 'ip-address-type': 'ipv6', prefix: 64 },
      { 'ip-address': '10.10.10.14', 'ip-address-type': 'ipv4', prefix: 24 },
    ],
  },
  { name: 'docker0', 'ip-addresses': [{ 'ip-address': '172.17.0.1', 'ip-address-type': 'ipv4', prefix: 16 }] },
]);

const probe = (...lines: string[]) =>
  parseProbe(['hostname=x', 'docker_present=1', ...lines, 'free_bytes=21474836480'].join('\n'));
const unitsAbsent = ['unit=openclaw-gateway not-found inactive none', 'unit=openclaw-panel not-found inactive none'];
const unitsActive = ['unit=openclaw-gateway loaded active enabled', 'unit=openclaw-panel loaded active enabled'];
/** as a rollback leaves them (SOP §7: the direct services stopped; the product disables them too) */
const unitsDisabled = [
  'unit=openclaw-gateway loaded inactive disabled',
  'unit=openclaw-panel loaded inactive disabled',
];
const gatewayContainer = (state: string) => `container=openclaw-gateway\tghcr.io/openclaw/openclaw:2026.2.19\t${state}`;

const running = { vmid: 105, name: 'bot-105', status: 'running', config: { agent: true, tags: [] } };
const facts = (probeFindings: VmFacts['probe'], more: Partial<VmFacts> = {}): VmFacts => ({
  listed: running,
  addresses: ['10.10.10.14'],
  probe: probeFindings,
  ...more,
});

describe("reading the node's output", () => {
  const listing = parseNodeListing(NODE_OUTPUT);

  it('reads qm list (a name with a space too), each qm config, the DNAT rules and the ledger', () => {
    expect(listing.vms.map((vm) => [vm.vmid, vm.name, vm.status])).toEqual([
      [105, 'bot-105', 'running'],
      [106, 'bot-106', 'running'],
      [107, 'VM 107', 'stopped'],
      [108, 'nginx-1', 'running'],
    ]);
    expect(listing.vms.map((vm) => vm.config)).toEqual([
      { name: 'bot-105', tags: ['customer-a', 'prod'], agent: true },
      { name: 'bot-106', tags: [], agent: true },
      { name: 'VM-107', tags: [], agent: false },
      { name: 'nginx-1', tags: [], agent: false },
    ]);
    expect(listing.nat).toEqual([
      { dport: 20022, ip: '10.10.10.14', port: 22 },
      { dport: 20080, ip: '10.10.10.14', port: 18080 },
    ]);
    expect(listing.ledger).toEqual([{ vmid: 106, ip: '10.10.10.15', mode: 'direct' }]);
  });

  it("takes the VM's own address from the agent: IPv4 first, not loopback, link-local or Docker's", () => {
    expect(parseAgentAddresses(INTERFACES)).toEqual(['10.10.10.14']);
    expect(parseAgentAddresses('not json')).toEqual([]);
  });
});

describe('classifying a VM', () => {
  it.each([
    [
      'docker-era',
      facts(probe(gatewayContainer('running'), ...unitsAbsent, 'docker_data=1')),
      'docker-era',
      /container openclaw-gateway running/,
    ],
    [
      'docker-era after a rollback: the direct units there, disabled and stopped',
      facts(probe(gatewayContainer('running'), ...unitsDisabled, 'home=/root/.openclaw', 'docker_data=1')),
      'docker-era',
      /container openclaw-gateway running, .*unit openclaw-gateway inactive disabled/,
    ],
    [
      'half-way: the Docker-era gateway running beside an enabled direct unit',
      facts(
        probe(gatewayContainer('running'), 'unit=openclaw-gateway loaded inactive enabled', 'home=/root/.openclaw'),
      ),
      'half-way',
      /^the Docker-era gateway running beside a direct unit or a docker-removed marker/,
    ],
    [
      'direct, Docker removed',
      facts(probe(...unitsActive, 'home=/root/.openclaw', 'docker_removed=2026-11-02T10:00:00Z')),
      'direct',
      /docker-removed 2026-11-02T10:00:00Z/,
    ],
    [
      'half-way: a stopped Docker and no direct unit',
      facts(probe(gatewayContainer('exited'), ...unitsAbsent, 'docker_data=1')),
      'half-way',
      /^the Docker-era gateway stopped, and no direct gateway running \(container openclaw-gateway exited/,
    ],
    [
      'half-way: direct running, Docker stopped but not removed',
      facts(probe(gatewayContainer('exited'), ...unitsActive, 'home=/root/.openclaw')),
      'half-way',
      /^the direct gateway running, Docker not removed/,
    ],
    [
      'half-way: both running',
      facts(probe(gatewayContainer('running'), ...unitsActive)),
      'half-way',
      /^the Docker-era and the direct gateway both running/,
    ],
    [
      'agent-down: no answer',
      facts(undefined, { agentError: 'QEMU guest agent is not running' }),
      'agent-down',
      /^QEMU guest agent is not running$/,
    ],
    [
      'agent-down: none configured',
      facts(undefined, { listed: { ...running, config: { agent: false, tags: [] } } }),
      'agent-down',
      /no guest agent configured/,
    ],
    ['stopped', facts(undefined, { listed: { ...running, status: 'stopped' } }), 'stopped', /^qm list: stopped$/],
    ['not-openclaw', facts(probe(...unitsAbsent)), 'not-openclaw', /no OpenClaw/],
  ])('%s', (_, vm, state, why) => {
    const classified = classify(vm);
    expect(classified.state).toBe(state);
    expect(classified.why).toMatch(why);
  });

  it("names a Docker-era VM's release by its image's tag", () => {
    expect(classify(facts(probe(gatewayContainer('running'), ...unitsAbsent))).release).toBe('2026.2.19');
  });
});

describe('the state tag', () => {
  it("adds the state's tag, drops another state's, keeps the others, and leaves a tagged VM alone", () => {
    expect(tagsWithState(['customer-a', 'prod'], 'docker-era')).toEqual(['customer-a', 'prod', 'openclaw-docker-era']);
    expect(tagsWithState(['openclaw-docker-era', 'prod'], 'direct')).toEqual(['prod', 'openclaw-direct']);
    expect(tagsWithState(['openclaw-direct', 'prod'], 'direct')).toBeUndefined();
  });
});

describe('the inventory discover writes', () => {
  const key = (c: string) => `SHA256:${c.repeat(43)}`;
  const source = DiscoverySourceSchema.parse({
    nodes: {
      pve1: { host: 'pve1.example.net', hostKeySha256: key('A') },
      pve2: { host: 'pve2.example.net', hostKeySha256: key('Q'), ledgerPath: '/root/bots.tsv' },
    },
    panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' },
    prestage: true,
  });
  const vm = (vmid: number, node: string, state: DiscoveryReport['nodes'][number]['vms'][number]['state']) => ({
    vmid,
    node,
    name: `bot-${vmid}`,
    status: 'running',
    state,
    why: `why ${vmid}`,
    ip: `10.10.${node === 'pve1' ? 10 : 20}.${vmid - 100}`,
    tags: [],
    nat: [],
  });
  const report: DiscoveryReport = {
    nodes: [
      { name: 'pve1', vms: [vm(105, 'pve1', 'docker-era'), vm(106, 'pve1', 'direct'), vm(107, 'pve1', 'stopped')] },
      {
        name: 'pve2',
        vms: [vm(205, 'pve2', 'docker-era'), vm(206, 'pve2', 'half-way'), vm(207, 'pve2', 'not-openclaw')],
      },
    ],
  };

  it('holds the Docker-era VMs of every node, with the others and why in a comment, and starts a fleet', () => {
    const text = renderInventory(source, report);
    const inventory = InventorySchema.parse(parse(text));
    expect(inventory.vms.map((v) => [v.vmid, v.node, v.ip])).toEqual([
      [105, 'pve1', '10.10.10.5'],
      [205, 'pve2', '10.10.20.105'],
    ]);
    expect(inventory.nodes).toEqual(source.nodes);
    expect(inventory.prestage).toBe(true);
    expect(text).toContain('#   pve1 vm 106 (bot-106): direct: why 106');
    expect(text).toContain('#   pve2 vm 206 (bot-206): half-way: why 206');
    expect(text).toContain('#   pve2 vm 207 (bot-207): not-openclaw: why 207');
  });

  it('leaves out a name the inventory would refuse, not the VM', () => {
    const named = { nodes: [{ name: 'pve1', vms: [{ ...vm(105, 'pve1', 'docker-era'), name: 'VM 105' }] }] };
    const inventory = InventorySchema.parse(parse(renderInventory(source, named)));
    expect(inventory.vms).toEqual([{ vmid: 105, ip: '10.10.10.5', node: 'pve1' }]);
  });

  it('is the same file when the same fleet is discovered again', () => {
    expect(renderInventory(source, structuredClone(report))).toBe(renderInventory(source, report));
  });

  it('leaves out a node that could not be read, saying why', () => {
    const text = renderInventory(source, {
      nodes: [report.nodes[0], { name: 'pve2', error: 'HostKeyMismatch', vms: [] }],
    });
    expect(Object.keys(InventorySchema.parse(parse(text)).nodes)).toEqual(['pve1']);
    expect(text).toContain('#   node pve2: not read: HostKeyMismatch');
  });

  it('prints a table with counts per node', () => {
    const table = renderTable(report).split('\n');
    expect(table[0]).toMatch(/^NODE\s+VMID\s+NAME\s+STATE\s+IP/);
    expect(table).toContain('pve1: 3 VMs: docker-era 1, direct 1, stopped 1');
    expect(table).toContain('pve2: 3 VMs: docker-era 1, half-way 1, not-openclaw 1');
  });
});

describe('discover-guest.sh', () => {
  it('prints the lines parseProbe reads, on a machine with no OpenClaw', () => {
    const script = readFileSync(join(__dirname, '../src/activities/scripts/discover-guest.sh'), 'utf8');
    const result = spawnSync('/bin/bash', ['-c', script, 'discover'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    const found = parseProbe(result.stdout);
    expect(found.units.map((u) => u.name)).toEqual(['openclaw-gateway', 'openclaw-panel']);
    expect(found.freeBytes).toBeGreaterThan(0);
  });
});
