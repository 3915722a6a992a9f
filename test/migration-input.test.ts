import { parseMigrateVmInput, type MigrateVmInput } from '../src/migration/input';

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
    expect(params.panelRelease.baseUrl).toBe('https://api.github.com');
    expect(params.dryRun).toBe(false);
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
