import type { z } from 'zod';
import { commitLedgerScript } from '../src/activities/shared-resources';
import { backupScript, verifyBackupScript } from '../src/activities/backup';
import { ApplicationFailure } from '@temporalio/common';
import { asFailure, lastLines } from '../src/activities/guest-command';
import { GuestExecFailed } from '../src/remote/errors';
import { migrateDataScript } from '../src/activities/migrate-data';
import { removeDockerScript } from '../src/activities/remove-docker';
import { restoreGatewayConfigScript, startDockerScript, stopDirectServicesScript } from '../src/activities/rollback';
import { stopDockerScript } from '../src/activities/stop-docker';
import { canFollow, GateChangeSchema, VmProgressSchema } from '../src/fleet/messages';
import { MigrateFleetInputSchema } from '../src/fleet/input';
import { InventorySchema, type InventoryInput } from '../src/inventory';
import { MigrateVmInputSchema, parseMigrateVmInput, type MigrateVmInput } from '../src/migration/input';
import { DecisionSchema, FleetGateSchema, type MigrationStatus } from '../src/migration/messages';
import { renderRecord } from '../src/migration/record';
import {
  LockReleaseSchema,
  LockRequestSchema,
  LockStateSchema,
  SharedResourcesInputSchema,
} from '../src/migration/node-lock';
import { describeIssues, nearestKey, printable } from '../src/schema';

/**
 * Hostile input, refused by the schemas at the boundaries with the field's path and its rule. No I/O here: the
 * runs' side (nothing scheduled, nothing connected, runs that stay healthy) is test/hostile-input-runs.test.ts.
 */

const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
const node = { host: 'pve1.example.net', port: 22, user: 'root', hostKeySha256: FINGERPRINT };
/** the one-node shorthand, as operators write it */
type Inventory = InventoryInput & { node: typeof node; vms: { vmid: number; ip: string; name?: string }[] };
const inventory: Inventory = {
  node,
  panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4', baseUrl: 'https://api.github.com' },
  vms: [
    { vmid: 105, ip: '10.10.10.14', name: 'bot-105' },
    { vmid: 106, ip: 'fd00::6', ssh: { ...node, host: '10.10.10.15' } },
  ],
};
const vmInput: MigrateVmInput = {
  vmid: 105,
  vmIp: '10.10.10.14',
  node,
  panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' },
};

/** The problems a parse reports, `path: rule` each, or [] when it passes. */
function problems(schema: z.ZodType, value: unknown): string[] {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : describeIssues(parsed.error, '(input)');
}
const expectRefused = (schema: z.ZodType, value: unknown, field: string, rule: RegExp) =>
  expect(problems(schema, value)).toContainEqual(
    expect.stringMatching(new RegExp(`^${escape(field)}: .*${rule.source}`)),
  );
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Case = [string, unknown, string, RegExp];
const inv = (patch: (copy: Inventory) => void): Inventory => {
  const copy = structuredClone(inventory);
  patch(copy);
  return copy;
};
const vm = (patch: Record<string, unknown>): unknown => ({ ...vmInput, ...patch });

describe('the valid inputs the cases start from', () => {
  it('pass', () => {
    expect(problems(InventorySchema, inventory)).toEqual([]);
    expect(problems(MigrateVmInputSchema, vmInput)).toEqual([]);
    expect(problems(MigrateFleetInputSchema, { inventory })).toEqual([]);
  });
});

describe('ordinary values an operator writes', () => {
  it.each([
    ['a key in ~/.ssh', inv((i) => (i.node.privateKeyPath = '/root/.ssh/id_ed25519'))],
    ['a key under a dot directory', inv((i) => (i.node.privateKeyPath = '/root/.local/state/lab/keys/operator'))],
    ['an IPv4 host', inv((i) => (i.node.host = '192.168.1.10'))],
    ['an IPv6 host', inv((i) => (i.node.host = 'fd00::1'))],
    ['a short host name', inv((i) => (i.node.host = 'pve1'))],
    ['a ledger in /var/lib/openclaw-migrate', inv((i) => (i.ledgerPath = '/var/lib/openclaw-migrate/bots.tsv'))],
    ['the lab release server', inv((i) => (i.panelRelease.baseUrl = 'http://127.0.0.1:8099'))],
    ['a GitHub Enterprise API', inv((i) => (i.panelRelease.baseUrl = 'https://ghe.example.com/api/v3'))],
    [
      'approvers and four eyes',
      inv((i) => Object.assign(i, { approvers: ['alice', 'bob.smith@example.com'], fourEyes: true })),
    ],
    [
      'the official installer',
      inv((i) => (i.installCommand = 'curl -fsSL https://openclaw.ai/install.sh | bash -s -- --no-prompt')),
    ],
    [
      'a pinned OpenClaw release, and one VM on its Docker-era one',
      inv((i) =>
        Object.assign(i, { openclawVersion: '2026.9.6' }, { vms: [{ ...i.vms[0], openclawVersion: 'docker' }] }),
      ),
    ],
    [
      'a fleet of 2,000 VMs',
      inv((i) => (i.vms = Array.from({ length: 2000 }, (_, n) => ({ vmid: 1000 + n, ip: '10.0.0.1' })))),
    ],
  ])('takes %s', (_, value) => expect(problems(InventorySchema, value)).toEqual([]));
});

describe('an inventory', () => {
  const cases: Case[] = [
    [
      'a typo of a top-level key',
      inv((i) => Object.assign(i, { ledger_path: '/root/x.tsv' })),
      '(input)',
      /unknown key 'ledger_path' \(did you mean 'ledgerPath'\?\)/,
    ],
    [
      'a typo of a VM key',
      inv((i) => Object.assign(i.vms[0], { sshh: i.node })),
      'vms.0',
      /unknown key 'sshh' \(did you mean 'ssh'\?\)/,
    ],
    [
      'a typo in the node',
      inv((i) => Object.assign(i.node, { hostKey: FINGERPRINT })),
      'node',
      /unknown key 'hostKey' \(did you mean 'hostKeySha256'\?\)/,
    ],
    [
      'a typo in the release',
      inv((i) => Object.assign(i.panelRelease, { baseURL: 'https://x.example' })),
      'panelRelease',
      /unknown key 'baseURL' \(did you mean 'baseUrl'\?\)/,
    ],
    [
      'a key no typo explains',
      inv((i) => Object.assign(i, { rootPassword: 'x' })),
      '(input)',
      /unknown key 'rootPassword' \(known: node, /,
    ],
    [
      'a host with a shell metacharacter',
      inv((i) => (i.node.host = 'pve;reboot')),
      'node.host',
      /a DNS name or an IP address/,
    ],
    ['a host with a space', inv((i) => (i.node.host = 'pve 1')), 'node.host', /a DNS name or an IP address/],
    [
      'a host with a Unicode look-alike',
      inv((i) => (i.node.host = 'рve1.example.net')),
      'node.host',
      /a DNS name or an IP address/,
    ],
    ['a host of 300 characters', inv((i) => (i.node.host = 'a'.repeat(300))), 'node.host', /Too big/],
    [
      'an IPv4 host out of range',
      inv((i) => (i.node.host = '999.999.999.999')),
      'node.host',
      /a DNS name or an IP address/,
    ],
    ['a user with a newline', inv((i) => (i.node.user = 'root\nx')), 'node.user', /a Linux user name/],
    ['a user in upper case', inv((i) => (i.node.user = 'Root')), 'node.user', /a Linux user name/],
    ['a port as a string', inv((i) => Object.assign(i.node, { port: '22' })), 'node.port', /expected number/],
    ['a port of 70000', inv((i) => (i.node.port = 70000)), 'node.port', /Too big/],
    ['a fractional port', inv((i) => (i.node.port = 22.5)), 'node.port', /expected int/],
    ['a relative key path', inv((i) => (i.node.privateKeyPath = 'keys/id')), 'node.privateKeyPath', /an absolute path/],
    [
      'a key path through ..',
      inv((i) => (i.node.privateKeyPath = '/root/../etc/shadow')),
      'node.privateKeyPath',
      /no \. or \.\. segments/,
    ],
    [
      'a fingerprint of 31 bytes',
      inv((i) => (i.node.hostKeySha256 = `SHA256:${'A'.repeat(42)}`)),
      'node.hostKeySha256',
      /a host-key fingerprint/,
    ],
    [
      'a fingerprint that is not 32 bytes',
      inv((i) => (i.node.hostKeySha256 = `SHA256:${'A'.repeat(42)}B`)),
      'node.hostKeySha256',
      /\(32 bytes\)/,
    ],
    [
      'an MD5 fingerprint',
      inv((i) => (i.node.hostKeySha256 = 'MD5:aa:bb')),
      'node.hostKeySha256',
      /a host-key fingerprint/,
    ],
    [
      'a file: base URL',
      inv((i) => (i.panelRelease.baseUrl = 'file:///etc/shadow')),
      'panelRelease.baseUrl',
      /an https URL/,
    ],
    [
      'plain http to another host',
      inv((i) => (i.panelRelease.baseUrl = 'http://evil.example')),
      'panelRelease.baseUrl',
      /an https URL/,
    ],
    [
      'a base URL with credentials',
      inv((i) => (i.panelRelease.baseUrl = 'https://u:p@api.github.com')),
      'panelRelease.baseUrl',
      /without credentials/,
    ],
    [
      'a base URL curl reads as another host',
      inv((i) => (i.panelRelease.baseUrl = 'http://127.0.0.1\\@evil.example')),
      'panelRelease.baseUrl',
      /no spaces, backslashes/,
    ],
    [
      'an install command ending in a lone backslash',
      inv((i) => (i.installCommand = 'curl -fsSL https://openclaw.ai/install.sh | bash \\')),
      'installCommand',
      /a backslash at its end/,
    ],
    ['a repo of dot segments', inv((i) => (i.panelRelease.repo = '../..')), 'panelRelease.repo', /owner\/name/],
    ['a repo of three parts', inv((i) => (i.panelRelease.repo = 'a/b/c')), 'panelRelease.repo', /owner\/name/],
    ['a tag with ..', inv((i) => (i.panelRelease.tag = 'v1..2')), 'panelRelease.tag', /no \.\./],
    ['a tag with a quote', inv((i) => (i.panelRelease.tag = "v1'x")), 'panelRelease.tag', /a release tag/],
    [
      'an install command with NUL',
      inv((i) => (i.installCommand = 'curl x\0| bash')),
      'installCommand',
      /one printable line/,
    ],
    [
      'an install command with a newline',
      inv((i) => (i.installCommand = 'true\nrm -rf /')),
      'installCommand',
      /one printable line/,
    ],
    [
      'openclawVersion latest',
      inv((i) => Object.assign(i, { openclawVersion: 'latest' })),
      'openclawVersion',
      /'installer', 'docker' or a release such as 2026\.9\.6/,
    ],
    [
      "a VM's openclawVersion with shell syntax",
      inv((i) => (i.vms[0] = { ...i.vms[0], openclawVersion: '2026.9.6; rm -rf /' } as (typeof i.vms)[0])),
      'vms.0.openclawVersion',
      /'installer', 'docker' or a release such as 2026\.9\.6/,
    ],
    [
      "a VM's openclawVersion with a trailing newline",
      inv((i) => (i.vms[0] = { ...i.vms[0], openclawVersion: '2026.9.6\n' } as (typeof i.vms)[0])),
      'vms.0.openclawVersion',
      /a release such as/,
    ],
    [
      'an install command of 200 KiB',
      inv((i) => (i.installCommand = 'x'.repeat(200 << 10))),
      'installCommand',
      /Too big/,
    ],
    [
      'a ledger in /etc/cron.d',
      inv((i) => (i.ledgerPath = '/etc/cron.d/x')),
      'ledgerPath',
      /a ledger: a \.tsv file directly in \/root/,
    ],
    [
      'a ledger through ..',
      inv((i) => (i.ledgerPath = '/etc/../etc/profile.d/x.sh')),
      'ledgerPath',
      /no \. or \.\. segments/,
    ],
    [
      'a ledger in a subdirectory of /root',
      inv((i) => (i.ledgerPath = '/root/.ssh/authorized_keys.tsv')),
      'ledgerPath',
      /a ledger/,
    ],
    ['a ledger not normalised', inv((i) => (i.ledgerPath = '/root//x.tsv')), 'ledgerPath', /an absolute path/],
    ['an IP of three parts', inv((i) => (i.vms[0].ip = '1.2.3')), 'vms.0.ip', /an IPv4 or IPv6 address/],
    [
      'an IP with a newline',
      inv((i) => (i.vms[0].ip = '10.0.0.1\n* * * * * root sh')),
      'vms.0.ip',
      /an IPv4 or IPv6 address/,
    ],
    ['an IP with leading zeros', inv((i) => (i.vms[0].ip = '010.0.0.1')), 'vms.0.ip', /an IPv4 or IPv6 address/],
    ['a vmid as a string', inv((i) => Object.assign(i.vms[0], { vmid: '105' })), 'vms.0.vmid', /expected number/],
    ['a vmid of NaN', inv((i) => (i.vms[0].vmid = NaN)), 'vms.0.vmid', /expected number/],
    ['a vmid below 100', inv((i) => (i.vms[0].vmid = 7)), 'vms.0.vmid', /Too small/],
    ['a vmid twice', inv((i) => (i.vms[1].vmid = 105)), 'vms.1.vmid', /vmid 105 twice/],
    ['a VM name with a newline', inv((i) => (i.vms[0].name = 'bot\n## Problems')), 'vms.0.name', /a VM name/],
    ['a VM name with an escape sequence', inv((i) => (i.vms[0].name = 'bot\x1b[2J')), 'vms.0.name', /a VM name/],
    ['no VM', inv((i) => (i.vms = [])), 'vms', /Too small/],
    [
      'a fleet of 20,000 VMs',
      inv((i) => (i.vms = Array.from({ length: 20_000 }, (_, n) => ({ vmid: 1000 + n, ip: '10.0.0.1' })))),
      'vms',
      /Too big/,
    ],
    ['a missing node', inv((i) => delete (i as Partial<Inventory>).node), 'node', /expected object/],
    ['an approver with a newline', inv((i) => (i.approvers = ['alice\nbob'])), 'approvers.0', /a name of letters/],
    ['four eyes as a string', inv((i) => Object.assign(i, { fourEyes: 'yes' })), 'fourEyes', /expected boolean/],
  ];
  it.each(cases)('refuses %s, naming the field', (_, value, field, rule) =>
    expectRefused(InventorySchema, value, field, rule),
  );

  it('names every bad field at once', () => {
    const bad = inv((i) => {
      i.node.host = 'a b';
      i.vms[0].ip = '1.2.3';
      Object.assign(i, { dryrun: true });
    });
    expect(problems(InventorySchema, bad)).toEqual([
      expect.stringMatching(/^node\.host: /),
      expect.stringMatching(/^vms\.0\.ip: /),
      expect.stringMatching(/^\(input\): unknown key 'dryrun'/),
    ]);
  });
});

describe("a migrateVm run's input, as `temporal workflow start` would send it", () => {
  const cases: Case[] = [
    ['dryrun for dryRun', vm({ dryrun: true }), '(input)', /unknown key 'dryrun' \(did you mean 'dryRun'\?\)/],
    ['dry_run for dryRun', vm({ dry_run: true }), '(input)', /unknown key 'dry_run' \(did you mean 'dryRun'\?\)/],
    [
      'a typo in timeouts',
      vm({ timeouts: { commandMS: 1000 } }),
      'timeouts',
      /unknown key 'commandMS' \(did you mean 'commandMs'\?\)/,
    ],
    ['a typo in runAs', vm({ runAs: { usr: 'bot' } }), 'runAs', /unknown key 'usr' \(did you mean 'user'\?\)/],
    ['a command timeout of 1e15 ms', vm({ timeouts: { commandMs: 1e15 } }), 'timeouts.commandMs', /Too big/],
    ['a negative install timeout', vm({ timeouts: { installMs: -1 } }), 'timeouts.installMs', /Too small/],
    [
      'an approval deadline as a string',
      vm({ timeouts: { approvalDeadlineMs: '1h' } }),
      'timeouts.approvalDeadlineMs',
      /expected number/,
    ],
    ['an unknown transport', vm({ transport: 'telnet' }), 'transport', /Invalid option/],
    ['a release of two parts', vm({ openclawVersion: '2026.9' }), 'openclawVersion', /a release such as 2026\.9\.6/],
    ['a release with a v', vm({ openclawVersion: 'v2026.9.6' }), 'openclawVersion', /a release such as/],
    ['openclawVersion as a number', vm({ openclawVersion: 2026.9 }), 'openclawVersion', /a release such as/],
    ['dryRun as a string', vm({ dryRun: 'false' }), 'dryRun', /expected boolean/],
    ['a run-as user with shell syntax', vm({ runAs: { user: 'x;id' } }), 'runAs.user', /a Linux user name/],
    ['a startedBy with a newline', vm({ startedBy: 'alice\n- forged' }), 'startedBy', /a name of letters/],
    ['a startedBy of 1000 characters', vm({ startedBy: 'a'.repeat(1000) }), 'startedBy', /Too big/],
    [
      'a fleet gate with an unknown key',
      vm({ fleetGate: { open: true, reason: 'x', force: true } }),
      'fleetGate',
      /unknown key 'force'/,
    ],
    ['a fleet gate without open', vm({ fleetGate: { reason: 'x' } }), 'fleetGate.open', /expected boolean/],
    ['the vmIp as an array', vm({ vmIp: ['10.0.0.1'] }), 'vmIp', /expected string/],
    ['null', null, '(input)', /expected object/],
  ];
  it.each(cases)('refuses %s, naming the field', (_, value, field, rule) =>
    expectRefused(MigrateVmInputSchema, value, field, rule),
  );

  it('fails as InvalidInput, naming the field, for the workflow to fail at once', () => {
    expect(() => parseMigrateVmInput(vm({ dryrun: true }))).toThrow(
      expect.objectContaining({ type: 'InvalidInput', nonRetryable: true, message: expect.stringMatching(/dryrun/) }),
    );
  });
});

describe("a migrateFleet run's input", () => {
  const cases: Case[] = [
    ['vmid among the overrides', { inventory, vmOverrides: { vmid: 2999 } }, 'vmOverrides', /unknown key 'vmid'/],
    ['the node among the overrides', { inventory, vmOverrides: { node } }, 'vmOverrides', /unknown key 'node'/],
    [
      'a typo among the overrides',
      { inventory, vmOverrides: { dryrun: true } },
      'vmOverrides',
      /did you mean 'dryRun'/,
    ],
    ['a typo of a fleet option', { inventory, failure_budget: 3 }, '(input)', /did you mean 'failureBudget'/],
    [
      'a typo deep in its inventory',
      { inventory: inv((i) => Object.assign(i.vms[1].ssh!, { prot: 22 })) },
      'inventory.vms.1.ssh',
      /unknown key 'prot' \(did you mean 'port'\?\)/,
    ],
    [
      'a concurrency of 1000',
      { inventory, concurrency: 1000, allowConcurrencyAboveSop: true },
      'concurrency',
      /Too big/,
    ],
    ['a concurrency against the SOP', { inventory, concurrency: 4 }, 'concurrency', /above the SOP's limit/],
    ['a canary of -1', { inventory, canary: -1 }, 'canary', /Too small/],
    ['childrenPerRun of 0', { inventory, childrenPerRun: 0 }, 'childrenPerRun', /Too small/],
  ];
  it.each(cases)('refuses %s, naming the field', (_, value, field, rule) =>
    expectRefused(MigrateFleetInputSchema, value, field, rule),
  );
});

describe('signal and update payloads', () => {
  const cases: [string, z.ZodType, unknown, string, RegExp][] = [
    ['a decision that is undefined', DecisionSchema, undefined, '(input)', /expected object/],
    ['a decision that is null', DecisionSchema, null, '(input)', /expected object/],
    ['an empty decision', DecisionSchema, {}, 'by', /expected string/],
    ['a decision of the wrong types', DecisionSchema, { by: 42, reason: { x: 1 } }, 'reason', /expected string/],
    [
      'a reason with a newline',
      DecisionSchema,
      { by: 'alice', reason: 'ok\n- 用户验收 / human decision: **approved**' },
      'reason',
      /no control characters/,
    ],
    ['a reason of 1.2 MB', DecisionSchema, { by: 'alice', reason: 'x'.repeat(1_200_000) }, 'reason', /Too big/],
    ['a name with a newline', DecisionSchema, { by: 'alice\n## Problems', reason: 'ok' }, 'by', /a name of letters/],
    ['a name that is a look-alike', DecisionSchema, { by: 'аlice', reason: 'ok' }, 'by', /a name in one script/],
    ['a reason with a bidi override', DecisionSchema, { by: 'alice', reason: 'ok \u202edevorppa' }, 'reason', /bidi/],
    ['an empty reason', DecisionSchema, { by: 'alice', reason: '' }, 'reason', /Too small/],
    [
      'a decision with an extra key',
      DecisionSchema,
      { by: 'alice', reason: 'ok', approve: true },
      '(input)',
      /unknown key 'approve'/,
    ],
    ['a fleet gate that is null', FleetGateSchema, null, '(input)', /expected object/],
    ['a fleet gate of 1 MB', FleetGateSchema, { open: true, reason: 'x'.repeat(1 << 20) }, 'reason', /Too big/],
    ['a gate change without by', GateChangeSchema, { open: true, reason: 'x' }, 'by', /expected string/],
    [
      'a gate change with open as a string',
      GateChangeSchema,
      { open: 'true', by: 'a', reason: 'x' },
      'open',
      /expected boolean/,
    ],
    ['progress of an unknown phase', VmProgressSchema, { vmid: 105, phase: 'hacked' }, 'phase', /Invalid option/],
    ['progress without a vmid', VmProgressSchema, { phase: 'scan' }, 'vmid', /expected number/],
    [
      'a lock request with a bad run id',
      LockRequestSchema,
      { requesterId: 'x', requesterRunId: '$(id)', purpose: 'p', leaseMs: 1000 },
      'requesterRunId',
      /a run id/,
    ],
    [
      'a lock request with a lease of a year',
      LockRequestSchema,
      { requesterId: 'x', requesterRunId: '0'.repeat(36), purpose: 'p', leaseMs: 3.2e10 },
      'leaseMs',
      /Too big/,
    ],
    ['a release without a token', LockReleaseSchema, {}, 'token', /expected string/],
    ['a lock state with a typo', LockStateSchema, { waiting: [], grantd: 0 }, '(input)', /did you mean 'granted'/],
  ];
  it.each(cases)('refuses %s, naming the field', (_, schema, value, field, rule) =>
    expectRefused(schema, value, field, rule),
  );

  it('cuts and flattens a fleet gate reason instead of carrying it whole', () => {
    const gate = FleetGateSchema.parse({ open: false, reason: `vm 105 failed:\n${'x'.repeat(5000)}` });
    expect(gate.reason).not.toMatch(/\n/);
    expect(gate.reason.length).toBeLessThanOrEqual(1000);
    expect(gate.reason).toMatch(/\[cut here\]$/);
  });

  it.each([
    ['starting', 'scan', true],
    ['scan', 'scan', true],
    ['acceptance', 'awaiting-approval', true],
    ['awaiting-approval', 'rolling-back', true],
    ['rolling-back', 'rolled-back', true],
    ['scan', 'planned', true],
    ['awaiting-approval', 'failed', false],
    ['remove-docker', 'rolling-back', false],
    ['install', 'scan', false],
    ['completed', 'scan', false],
    ['acceptance', 'planned', false],
  ] as const)('takes progress from %s to %s: %s', (from, to, possible) => expect(canFollow(from, to)).toBe(possible));
});

describe('commitSharedResources started raw', () => {
  const valid = {
    node,
    ledgerPath: '/root/openclaw-bot-ledger.tsv',
    entry: { vmid: 105, ip: '10.0.0.5', mode: 'direct', note: 'migrated', panelFront: 18080, gatewayFront: 18789 },
  };
  const cases: Case[] = [
    [
      'an ip holding a cron line',
      { ...valid, entry: { ...valid.entry, ip: '10.0.0.5\n* * * * * root id' } },
      'entry.ip',
      /an IPv4 or IPv6 address/,
    ],
    [
      'a note holding a tab',
      { ...valid, entry: { ...valid.entry, note: 'a\tdocker' } },
      'entry.note',
      /no control characters/,
    ],
    ['a ledger in /etc', { ...valid, ledgerPath: '/etc/cron.d/x' }, 'ledgerPath', /a ledger/],
    ['an unknown mode', { ...valid, entry: { ...valid.entry, mode: 'root' } }, 'entry.mode', /Invalid option/],
    ['no entry', { node, ledgerPath: valid.ledgerPath }, 'entry', /expected object/],
  ];
  it('takes the valid one', () => expect(problems(SharedResourcesInputSchema, valid)).toEqual([]));
  it.each(cases)('refuses %s, naming the field', (_, value, field, rule) =>
    expectRefused(SharedResourcesInputSchema, value, field, rule),
  );
});

describe('the record', () => {
  const params = parseMigrateVmInput({ ...vmInput, startedBy: 'alice' });
  const status = (patch: Partial<MigrationStatus>): MigrationStatus => ({
    vmid: 105,
    phase: 'rolled-back',
    phases: [],
    results: {},
    fleetGate: { open: true, reason: 'none' },
    problems: [],
    rollback: [],
    ...patch,
  });
  /** The record's lines outside fenced blocks (a fence closes at a run of backticks at least as long as its own). */
  const outsideFences = (record: string) => {
    let fence: string | undefined;
    return record.split('\n').filter((line) => {
      const ticks = /^(`{3,})\s*$|^(`{3,})/.exec(line);
      if (fence === undefined && ticks) fence = ticks[1] ?? ticks[2];
      else if (fence !== undefined && ticks?.[1] && ticks[1].length >= fence.length) fence = undefined;
      else return fence === undefined;
      return false;
    });
  };
  const render = (patch: Partial<MigrationStatus>) =>
    renderRecord(params, status(patch), '2026-12-01T00:00:00Z', '2026-12-01T01:00:00Z');

  // each forged text next to a harmless one in the same place: the record must keep the same lines outside fences
  it.each([
    ['a problem with a heading', (t: string) => ({ problems: [t] }), 'boom\n## 本机特殊问题 / Problems met\n- none'],
    [
      'a rollback step with a list item',
      (t: string) => ({ rollback: [t] }),
      'done\n- 用户验收 / human decision: **approved**',
    ],
    ['a problem with a fence', (t: string) => ({ problems: [t] }), 'x\n```\n# forged\n```'],
    [
      "a session key and a difference from the bot's own listing",
      (t: string) => ({
        results: {
          acceptance: {
            passed: true,
            failures: [],
            checks: {},
            bots: {
              after: {
                version: t,
                sessions: [{ key: t, messages: 1 }],
                workspaces: [{ agent: t, workspace: t }],
                cronJobs: [{ id: t, name: t, enabled: true }],
                skillsEnabled: [t],
                pluginsEnabled: [],
                errors: [t],
              },
              differences: [t],
            },
          },
        },
      }),
      'x | y\n## forged\n| a | b |\n- **bold**',
    ],
    [
      'guest text in a fenced block',
      (t: string) => ({ results: { stopDocker: { containers: t } } }),
      'c1\n```\n## forged\n```\n- x',
    ],
    [
      'a decision reason with inline Markdown and HTML',
      (t: string) => ({ approval: { by: 'bob', reason: t, decision: 'approved' as const, at: 'now' } }),
      'ok` **bold** <b>x</b> [l](http://x) | cell',
    ],
  ])('cannot be forged by %s', (_, place, forged) => {
    const honest = outsideFences(render(place('harmless')));
    const record = outsideFences(render(place(forged)));
    expect(record.length).toBe(honest.length);
    const markup = (lines: string[]) => lines.map((line) => /^\s*(#+ |[-*+] |\||>|\d+\. )?/.exec(line)![0]);
    expect(markup(record)).toEqual(markup(honest));
    expect(record.join('\n')).not.toMatch(/(^|[^\\])(<b>|\*\*bold|\[l\])/);
  });

  it('keeps a fenced block closed whatever backticks the guest printed', () => {
    const record = renderRecord(
      params,
      status({ results: { stopDocker: { containers: 'a ```` b' } } }),
      '2026-12-01T00:00:00Z',
      'now',
    );
    expect(record).toMatch(/^`````\na ```` b\n`````$/m);
  });
});

describe('guest output in a failure message', () => {
  // each secret below must be gone from what is kept, and each line's other words stay
  const secrets: [string, string, string][] = [
    ['a JSON token', '"token": "9f2c1e0d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e",', '9f2c1e0d'],
    ['a gateway token in camelCase', 'gatewayToken=Zx81kQ0pLr', 'Zx81kQ0pLr'],
    ['an auth header', 'curl: sent Authorization: Bearer abc.def.ghi', 'abc.def'],
    ['a bearer token alone', 'retrying with bearer 0123456789abcdefXYZ', '0123456789abcdef'],
    ['a password assignment', 'mysql: password=hunter2 rejected', 'hunter2'],
    ['a quoted password', "PASSWORD: 'correct horse battery staple'", 'correct horse battery staple'],
    ['a cookie', 'Set-Cookie: session=s%3Aabc; Path=/', 's%3Aabc'],
    ['credentials in a URL', 'fetching https://bot:pa55w0rd@example.com/x failed', 'pa55w0rd'],
    ['a GitHub token', 'remote: ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 invalid', 'ghp_A1b2'],
    ['an OpenAI key', 'OPENAI=sk-proj-abcdefghijklmnopqrstuvwxyz012345', 'abcdefghijklmnop'],
    ['a Slack token', 'slack xoxb-1234567890-abcdefghij rejected', 'xoxb-1234567890'],
    ['an AWS key id', 'using AKIAIOSFODNN7EXAMPLE now', 'AKIAIOSFODNN7EXAMPLE'],
    ['a Telegram bot token', 'GET /bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1/getMe 401', 'AAHdqTcvCH1vGWJ'],
    ['a JWT', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sflKxwRJSMeKKF2QT4', 'sflKxwRJSMeKKF2QT4'],
    ['a random base64 string', 'the key is q8Fz3LmP0xR7vT2nW9yK4bD6 ok', 'q8Fz3LmP0xR7vT2nW9yK4bD6'],
    ['40 hex digits', 'secret value 9f2c1e0d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e here', '9f2c1e0d8b7a6f5e4d3c2b1a0f'],
  ];
  it.each(secrets)('withholds %s and keeps the rest of the line', (_, line, secret) => {
    const kept = lastLines(`step 1 ok\n${line}\nstep 2 failed`);
    expect(kept).not.toContain(secret);
    expect(kept).toMatch(/^step 1 ok\n.*\[withheld.*\nstep 2 failed$/);
    // a word of the line that is no secret is still there
    const word = line.split(/\s+/).find((w) => /^[a-z]{4,}:?$/.test(w) && !secret.includes(w));
    if (word) expect(kept).toContain(word);
  });

  it('withholds a PEM block whole, however many lines it has', () => {
    const pem = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3BlbnNzaC1rZXktdjEAAAAABG5vbmU',
      'AAAA',
      '-----END OPENSSH PRIVATE KEY-----',
    ];
    const kept = lastLines(['cat key', ...pem, 'done'].join('\n'));
    expect(kept).toBe('cat key\n[withheld: a PEM block]\ndone');
  });

  it.each([
    [
      'a long path',
      'tar: /root/.openclaw/agents/main/sessions/3f2a9c1e-4b5d-4e6f-8a7b-9c0d1e2f3a4b.jsonl: Cannot open',
    ],
    ['a long module path', 'Error: Cannot find module /usr/lib/node_modules/openclaw/dist/gateway/server-bootstrap.js'],
    ['an identifier', 'WorkflowExecutionAlreadyStartedError: nodeVersionRequirementNotMet ERR_MODULE_NOT_FOUND'],
    ['a unit and a version', 'openclaw-gateway.service failed; node v24.11.1; openclaw 2026.9.6-beta.2'],
    ['a word about tokens', 'the gateway token is missing from openclaw.json'],
    ['a date and a host', 'at 2026-12-01T00:00:00.000Z on pve1.example.net x86_64-linux-gnu'],
    ["OpenClaw's token counts", '"inputTokens": 10, "totalTokensFresh": true, "contextTokens": null,'],
    ['a session id', '"sessionId": "6c4280cc-1fee-43b9-a06d-a41b1402f634",'],
  ])('keeps %s whole', (_, line) => expect(lastLines(line)).toBe(line));

  it("filters qm's words in a remote failure like guest output", () => {
    const qm = new GuestExecFailed(
      'vm 105: qm guest exec: agent error: password=hunter2; Authorization: Basic dXNlcjpwYXNz; at /var/lib/vz/x',
    );
    const failure = asFailure(qm) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe('GuestExecFailed');
    expect(failure.message).toMatch(
      /^vm 105: qm guest exec: agent error: password=\[withheld\]; Authorization: \[withheld\]/,
    );
    expect(failure.message).not.toMatch(/hunter2|dXNlcjpwYXNz/);
  });

  it('is cut by bytes, with a marker, and keeps no control character', () => {
    const kept = lastLines(Array.from({ length: 20 }, () => '界'.repeat(200) + '\x1b[31m').join('\n'));
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(2000);
    expect(kept).toMatch(/^\[…\]\n/);
    expect(kept).not.toContain('\x1b');
  });
});

describe('secrets at rest on the guest', () => {
  it.each([
    ['backup', backupScript],
    ['backup verification', verifyBackupScript],
    ['migrate-data', migrateDataScript],
    ['stop-docker', stopDockerScript],
    ['remove-docker', removeDockerScript],
    ['stop direct services', stopDirectServicesScript],
    ['restore the gateway config', restoreGatewayConfigScript],
    ['start docker', startDockerScript],
    ['ledger commit', commitLedgerScript],
  ])('the %s script runs with umask 077 before it writes anything', (_, script) => {
    expect(script).toMatch(/^\n?(#[^\n]*\n)*set -e?uo pipefail\numask 077\b/);
  });

  it('makes the backup directory 700, its tarballs and the config and its .bak 600', () => {
    expect(backupScript).toMatch(/mkdir -m 700 -p "\$BK"/);
    expect(backupScript).toMatch(/chmod 600 "\$BK"\/\*\.tgz/);
    expect(migrateDataScript).toMatch(/chmod 600 "\$TARGET_DIR"\/openclaw\.json\*/);
  });
});

describe('refusal messages', () => {
  it.each([
    ['dryrun', ['dryRun', 'ledgerPath'], 'dryRun'],
    ['LEDGERPATH', ['dryRun', 'ledgerPath'], 'ledgerPath'],
    ['vmid', ['ports', 'runAs', 'timeouts', 'dryRun'], undefined],
  ])('suggest for %s the nearest known key', (key, known, nearest) => expect(nearestKey(key, known)).toBe(nearest));

  it('show control characters as escapes', () => {
    expect(printable('vm\x1b[2J\nname\u202e')).toBe('vm\\u001b[2J\\u000aname\\u202e');
  });
});
