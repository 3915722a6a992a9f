import { parseMigrateFleetInput } from '../src/fleet/input';
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
    // named in the record and the UI
    expect([first.nodeName, second.nodeName]).toEqual(['9900K-1', 'pve2']);
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
      "a node's concurrency of 0",
      patched((i) => (i.nodes!.pve2.concurrency = 0)),
      /^nodes\.pve2\.concurrency: Too small: expected number to be >=1$/,
    ],
    [
      "a node's concurrency that is not a whole number",
      patched((i) => Object.assign(i.nodes!.pve2, { concurrency: '2' })),
      /^nodes\.pve2\.concurrency: Invalid input: expected number, received string$/,
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

describe("a fleet's concurrency per node", () => {
  const refusal = (input: unknown) => {
    try {
      parseMigrateFleetInput(input);
    } catch (err) {
      return (err as Error).message;
    }
    return 'taken';
  };
  const withNode = (concurrency: number) => patched((i) => (i.nodes!.pve2.concurrency = concurrency));

  it("takes a node bounded below the fleet's, and keeps it out of each run's input", () => {
    const params = parseMigrateFleetInput({ inventory: withNode(1), concurrency: 3 });
    expect(params.inventory.nodes.pve2.concurrency).toBe(1);
    expect(params.inventory.nodes['9900K-1']).not.toHaveProperty('concurrency');
    // the node's SSH endpoint in each run's input holds no fleet setting
    expect(migrateVmInputFor(params.inventory, 205).node).not.toHaveProperty('concurrency');
  });

  it.each([
    [
      'above the SOP',
      { inventory: withNode(4), concurrency: 3 },
      /inventory\.nodes\.pve2\.concurrency: 4 is above the SOP's limit of 3 \(§2\.1\); set allowConcurrencyAboveSop/,
    ],
    [
      "above the fleet's",
      { inventory: withNode(3), concurrency: 2 },
      /inventory\.nodes\.pve2\.concurrency: 3 is above the fleet's concurrency \(2\), which bounds every node/,
    ],
  ])('refuses one %s, naming the field', (_, input, rule) => {
    expect(refusal(input)).toMatch(rule);
  });

  it('takes one above the SOP when the fleet insists', () => {
    const input = { inventory: withNode(4), concurrency: 6, allowConcurrencyAboveSop: true };
    expect(parseMigrateFleetInput(input).inventory.nodes.pve2.concurrency).toBe(4);
  });
});
