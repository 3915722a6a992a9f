import { spawnSync } from 'node:child_process';
import { parseMigrateFleetInput } from '../src/fleet/input';
import { InventorySchema } from '../src/inventory';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { OFFICIAL_INSTALL_COMMAND, parseMigrateVmInput, type MigrateVmInput } from '../src/migration/input';
import { unfinishedCommandLine } from '../src/schema';

const valid: MigrateVmInput = {
  vmid: 105,
  vmIp: '10.10.10.14',
  node: { host: '127.0.0.1', port: 2222, user: 'root', hostKeySha256: `SHA256:${'A'.repeat(43)}` },
  panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' },
};

describe('migrateVm input', () => {
  it('fills in the SOP defaults', () => {
    const params = parseMigrateVmInput(valid);
    expect(params.transport).toBe('qga');
    expect(params.ports).toEqual({ panel: 28080, gateway: 28789, panelFront: 18080, gatewayFront: 18789 });
    expect(params.runAs).toEqual({ user: 'root', hardened: false });
    expect(params.installCommand).toMatch(/--no-prompt --no-onboard --no-gum$/);
    expect(params.panelRelease.baseUrl).toBe('https://api.github.com/');
    expect(params.dryRun).toBe(false);
    expect(params.prestage).toBe(false);
  });

  it("takes prestage from the run's input, the fleet's overrides, the VM and the inventory, in that order", () => {
    const inventory = InventorySchema.parse({
      node: valid.node,
      panelRelease: valid.panelRelease,
      prestage: true,
      vms: [
        { vmid: 105, ip: '10.10.10.14' },
        { vmid: 106, ip: '10.10.10.15', prestage: false },
      ],
    });
    const prestage = (vmid: number, overrides = {}) =>
      parseMigrateVmInput(migrateVmInputFor(inventory, vmid, overrides)).prestage;
    expect([prestage(105), prestage(106)]).toEqual([true, false]);
    expect([prestage(105, { prestage: false }), prestage(106, { prestage: true })]).toEqual([false, true]);
    expect(parseMigrateVmInput(migrateVmInputFor({ ...inventory, prestage: undefined }, 105)).prestage).toBe(false);
  });

  it('refuses a prestage that is not a boolean, naming the field, in every place it is taken', () => {
    expect(() => parseMigrateVmInput({ ...valid, prestage: 'yes' })).toThrow(/\n\s*prestage: .*boolean/);
    const inventory = { node: valid.node, panelRelease: valid.panelRelease, vms: [{ vmid: 105, ip: '10.10.10.14' }] };
    expect(() => parseMigrateFleetInput({ inventory, vmOverrides: { prestage: 1 } })).toThrow(
      /vmOverrides\.prestage: /,
    );
    expect(() => parseMigrateFleetInput({ inventory: { ...inventory, prestage: 'on' } })).toThrow(
      /inventory\.prestage: /,
    );
    expect(() =>
      parseMigrateFleetInput({ inventory: { ...inventory, vms: [{ ...inventory.vms[0], prestage: null }] } }),
    ).toThrow(/inventory\.vms\.0\.prestage: /);
    expect(() => parseMigrateVmInput({ ...valid, prestaged: true })).toThrow(
      /unknown key 'prestaged' \(did you mean 'prestage'\?\)/,
    );
  });

  const hostile = ["x'; touch /tmp/pwned; '", '$(touch /tmp/pwned)', '`touch /tmp/pwned`', 'a\nb', 'a;b'];
  const fields: [string, (value: string) => MigrateVmInput][] = [
    ['vmIp', (v) => ({ ...valid, vmIp: v })],
    ['panelRelease.tag', (v) => ({ ...valid, panelRelease: { ...valid.panelRelease, tag: v } })],
    ['panelRelease.repo', (v) => ({ ...valid, panelRelease: { ...valid.panelRelease, repo: v } })],
    ['panelRelease.baseUrl', (v) => ({ ...valid, panelRelease: { ...valid.panelRelease, baseUrl: v } })],
    ['runAs.user', (v) => ({ ...valid, runAs: { user: v } })],
    ['node.hostKeySha256', (v) => ({ ...valid, node: { ...valid.node, hostKeySha256: v } })],
  ];
  it.each(fields)('refuses shell syntax in %s, naming the field', (field, withValue) => {
    for (const value of hostile) {
      expect(() => parseMigrateVmInput(withValue(value))).toThrow(
        new RegExp(`^invalid migrateVm input:\\n.*${field.replace('.', '\\.')}:`, 's'),
      );
    }
  });

  it('names every bad field at once', () => {
    expect(() => parseMigrateVmInput({ ...valid, vmid: 7, ports: { gateway: 70000 } })).toThrow(
      /vmid: .*\n.*ports\.gateway: /s,
    );
  });

  it('needs the VM endpoint for the ssh transport', () => {
    expect(() => parseMigrateVmInput({ ...valid, transport: 'ssh' })).toThrow(
      /vmSsh: required when transport is 'ssh'/,
    );
  });
});

describe('an install command', () => {
  // install.sh runs it as `bash -c "$1"`: the check must take what bash can run whole, and refuse what it cannot
  it.each([
    [OFFICIAL_INSTALL_COMMAND, undefined],
    ['curl -fsSL https://example.com/i.sh | bash -s -- --no-prompt', undefined],
    ["echo 'it''s' \"a \\\" b\" `date` $(uname -r)", undefined],
    ["echo $'it\\'s'", undefined],
    ["echo 'a\\'", undefined],
    ["echo done # a comment with an open quote: it's", undefined],
    ['echo a\\ b', undefined],
    ["curl -fsSL 'https://openclaw.ai/install.sh | bash", "' left open"],
    ['echo "unclosed', '" left open'],
    ['echo `date', '` left open'],
    ["echo $'it\\'s", "' left open"],
    ['echo "a\\"', '" left open'],
  ])('%s: %s', (line, unfinished) => {
    expect(unfinishedCommandLine(line)).toBe(unfinished);
    // bash itself agrees: it cannot parse what is refused, and parses what is taken
    expect(spawnSync('bash', ['-n', '-c', line]).status === 0).toBe(unfinished === undefined);
  });

  it('refuses a backslash at its end, which bash runs as a word of its own instead of joining a next line', () => {
    expect(unfinishedCommandLine('curl -fsSL https://openclaw.ai/install.sh | bash \\')).toBe('a backslash at its end');
    expect(spawnSync('bash', ['-c', 'printf "[%s]" a \\']).stdout.toString()).toBe('[a][\\]');
  });

  it('is refused at input when unfinished, naming the field, before any run starts', () => {
    expect(() => parseMigrateVmInput({ ...valid, installCommand: 'curl -fsSL https://x/i.sh | bash \\' })).toThrow(
      /installCommand: one command line bash can run as it is: a backslash at its end/,
    );
    const inventory = { node: valid.node, panelRelease: valid.panelRelease, vms: [{ vmid: 105, ip: '10.10.10.14' }] };
    expect(() => parseMigrateFleetInput({ inventory: { ...inventory, installCommand: "bash -c 'x" } })).toThrow(
      /inventory\.installCommand: one command line bash can run as it is: ' left open/,
    );
  });
});

describe('hosts and addresses', () => {
  it('are handed on in one spelling: DNS names in lower case, IPv6 compressed', () => {
    const params = parseMigrateVmInput({
      ...valid,
      vmIp: 'FD00:0:0::0A',
      node: { ...valid.node, host: 'PVE1.Example.NET' },
    });
    expect(params.vmIp).toBe('fd00::a');
    expect(params.node.host).toBe('pve1.example.net');
    expect(parseMigrateVmInput({ ...valid, node: { ...valid.node, host: '0:0::1' } }).node.host).toBe('::1');
  });
});
