import { InventorySchema, soleNode, type InventoryInput } from '../src/inventory';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { describeIssues } from '../src/schema';

/** Inventories over several Proxmox nodes (issue 22): `nodes`, each VM naming its node; `node` as the shorthand. */

const key = (c: string) => `SHA256:${c.repeat(43)}`;
const panelRelease = { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' };
const twoNodes: InventoryInput = {
  nodes: {
    '9900K-1': { host: 'pve1.example.net', port: 2201, hostKeySha256: key('A'), ledgerPath: '/root/bots.tsv' },
    pve2: { host: '10.0.0.2', hostKeySha256: key('Q') },
  },
  panelRelease,
  vms: [
    { vmid: 105, ip: '10.10.10.14', node: '9900K-1' },
    { vmid: 205, ip: '10.10.20.14', node: 'pve2' },
  ],
};

const problems = (value: unknown) => {
  const parsed = InventorySchema.safeParse(value);
  return parsed.success ? [] : describeIssues(parsed.error, '(file)');
};
const patched = (patch: (copy: InventoryInput) => void) => {
  const copy = structuredClone(twoNodes);
  patch(copy);
  return copy;
};

describe('an inventory with nodes', () => {
  it('gives each VM its own node and that node ledger in its migrateVm input', () => {
    const inventory = InventorySchema.parse(twoNodes);
    const first = migrateVmInputFor(inventory, 105);
    const second = migrateVmInputFor(inventory, 205);
    expect(first.node).toEqual({ host: 'pve1.example.net', port: 2201, user: 'root', hostKeySha256: key('A') });
    expect(first.ledgerPath).toBe('/root/bots.tsv');
    expect(second.node).toEqual({ host: '10.0.0.2', port: 22, user: 'root', hostKeySha256: key('Q') });
    expect(second).not.toHaveProperty('ledgerPath');
  });

  it('reads the one-node shorthand as the same form, the node named by its host', () => {
    const shorthand = InventorySchema.parse({
      node: { host: 'PVE1.example.net', hostKeySha256: key('A') },
      ledgerPath: '/root/bots.tsv',
      panelRelease,
      vms: [{ vmid: 105, ip: '10.10.10.14' }],
    });
    const written = InventorySchema.parse({
      nodes: {
        'pve1.example.net': { host: 'pve1.example.net', hostKeySha256: key('A'), ledgerPath: '/root/bots.tsv' },
      },
      panelRelease,
      vms: [{ vmid: 105, ip: '10.10.10.14' }],
    });
    expect(shorthand).toEqual(written);
    expect(shorthand.vms[0].node).toBe('pve1.example.net');
    expect(soleNode(shorthand)).toEqual({ host: 'pve1.example.net', port: 22, user: 'root', hostKeySha256: key('A') });
    expect(() => soleNode(InventorySchema.parse(twoNodes))).toThrow(/2 nodes, not one/);
  });

  it('parses its own canonical form back unchanged (the CLI parses, the fleet parses again)', () => {
    for (const input of [
      twoNodes,
      { node: { host: 'fd00::1', hostKeySha256: key('A') }, panelRelease, vms: [{ vmid: 105, ip: '10.0.0.5' }] },
    ]) {
      const once = InventorySchema.parse(input);
      expect(InventorySchema.parse(JSON.parse(JSON.stringify(once)))).toEqual(once);
    }
  });

  it.each([
    [
      'a VM naming a node that is not there',
      patched((i) => (i.vms[1].node = 'pve3')),
      /^vms\.1\.node: node pve3 is not in nodes \(9900K-1, pve2\)$/,
    ],
    [
      'a VM naming no node among several',
      patched((i) => delete i.vms[1].node),
      /^vms\.1\.node: which node: one of 9900K-1, pve2$/,
    ],
    [
      'two nodes with one host key',
      patched((i) => (i.nodes!.pve2.hostKeySha256 = key('A'))),
      /^nodes\.pve2\.hostKeySha256: the host key of node 9900K-1 too/,
    ],
    [
      'a vmid on two nodes',
      patched((i) => (i.vms[1].vmid = 105)),
      /^vms\.1\.vmid: vmid 105 on two nodes: 9900K-1 and pve2$/,
    ],
    [
      'node and nodes both',
      patched((i) => (i.node = { host: 'pve9', hostKeySha256: key('g') })),
      /^nodes: either `node`/,
    ],
    [
      'a ledgerPath beside nodes',
      patched((i) => (i.ledgerPath = '/root/x.tsv')),
      /^ledgerPath: with `nodes`, each node has its own/,
    ],
    ['no node at all', patched((i) => delete i.nodes), /^node: expected object/],
    ['an empty nodes', patched((i) => (i.nodes = {})), /^nodes: at least one node$/],
    [
      'a node name with a space',
      patched((i) => (i.nodes = { 'pve 1': i.nodes!.pve2 })),
      /^nodes\.pve 1: a node name \(letters/,
    ],
    ['a node name that is a number', patched((i) => (i.nodes = { '100': i.nodes!.pve2 })), /a node name with a letter/],
    [
      'a typo in a node',
      patched((i) => Object.assign(i.nodes!.pve2, { ledger: '/root/x.tsv' })),
      /^nodes\.pve2: unknown key 'ledger' \(did you mean 'ledgerPath'\?\)$/,
    ],
    [
      'a VM node with the shorthand',
      { node: twoNodes.nodes!.pve2, panelRelease, vms: [{ vmid: 105, ip: '10.0.0.5', node: 'pve2' }] },
      /^vms\.0\.node: a node name needs `nodes`/,
    ],
  ])('refuses %s, naming the field', (_, value, rule) => {
    expect(problems(value)).toContainEqual(expect.stringMatching(rule));
  });
});
