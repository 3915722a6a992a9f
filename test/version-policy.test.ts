import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { checkRelease, installScript, targetRelease } from '../src/activities/install';
import { planCommands } from '../src/activities/plan';
import { UNKNOWN, type BotListing, type InstallResult } from '../src/migration/contracts';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { parseMigrateVmInput, type MigrateVmInput } from '../src/migration/input';
import { versionJump } from '../src/migration/record';
import { InventorySchema } from '../src/inventory';

/** Issue 18's version policy: which release phase D installs, how it reaches the installer, how it is reported. */

const node = { host: 'pve1.example.net', hostKeySha256: `SHA256:${'A'.repeat(43)}` };
const panelRelease = { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4' };
const params = (patch: Partial<MigrateVmInput> = {}) =>
  parseMigrateVmInput({ vmid: 105, vmIp: '10.10.10.14', node, panelRelease, ...patch });
const bot = (version: string): BotListing => ({
  version,
  sessions: [],
  workspaces: [],
  cronJobs: [],
  skillsEnabled: [],
  pluginsEnabled: [],
  errors: [],
});
const installed = (openclawVersion: string, installedNow = true): InstallResult => ({
  installedNow,
  nodePath: '/usr/bin/node',
  nodeVersion: 'v24.0.0',
  openclawPath: '/usr/bin/openclaw',
  openclawVersion,
});
const failureOf = (fn: () => unknown): ApplicationFailure => {
  try {
    fn();
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('it did not fail');
};

describe('the inventory', () => {
  it("gives each VM its own policy over the fleet's, and the fleet's over the default", () => {
    const inventory = InventorySchema.parse({
      node,
      panelRelease,
      openclawVersion: '2026.9.6',
      vms: [
        { vmid: 105, ip: '10.0.0.5', openclawVersion: 'docker' },
        { vmid: 106, ip: '10.0.0.6' },
      ],
    });
    const policy = (vmid: number) => parseMigrateVmInput(migrateVmInputFor(inventory, vmid)).openclawVersion;
    expect([policy(105), policy(106)]).toEqual(['docker', '2026.9.6']);
    expect(params().openclawVersion).toBe('installer');
  });
});

describe('the release phase D asks for', () => {
  it('is none with installer, the pinned one, or the Docker-era one as its CLI printed it', () => {
    expect(targetRelease(params(), bot('2026.2.19'))).toBeUndefined();
    expect(targetRelease(params({ openclawVersion: '2026.9.6' }), bot('2026.2.19'))).toBe('2026.9.6');
    expect(targetRelease(params({ openclawVersion: 'docker' }), bot('2026.2.19'))).toBe('2026.2.19');
    expect(targetRelease(params({ openclawVersion: 'docker' }), bot('OpenClaw 2026.9.6 (eb377ac)'))).toBe('2026.9.6');
  });

  it.each([
    ['the scan could not read', bot(UNKNOWN)],
    ['a version line without a release', bot('OpenClaw dev')],
    ['no listing (an older worker)', undefined],
  ])('docker fails clearly when %s, never guessing', (_, listing) => {
    const failure = failureOf(() => targetRelease(params({ openclawVersion: 'docker' }), listing));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect({ type: failure.type, nonRetryable: failure.nonRetryable }).toEqual({
      type: 'OpenclawVersionUnmet',
      nonRetryable: true,
    });
    expect(failure.message).toMatch(/could not read the Docker-era release/);
  });

  it('fails phase D when the installed release is another, naming both', () => {
    const pinned = params({ openclawVersion: '2026.9.6' });
    expect(() => checkRelease(pinned, '2026.9.6', installed('OpenClaw 2026.9.6 (eb377ac)'))).not.toThrow();
    const failure = failureOf(() => checkRelease(pinned, '2026.9.6', installed('2026.2.19', false)));
    expect(failure.type).toBe('OpenclawVersionUnmet');
    expect(failure.message).toBe(
      'openclawVersion 2026.9.6 asks for 2026.9.6; installed: 2026.2.19 (already there: nothing was installed)',
    );
    expect(() => checkRelease(params(), undefined, installed('2026.2.19'))).not.toThrow();
  });
});

describe('install.sh', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'install-sh-'));
    mkdirSync(join(dir, 'bin'));
    // a stand-in installer: records the OPENCLAW_VERSION it was given, installs an openclaw printing that release
    writeFileSync(
      join(dir, 'installer.sh'),
      [
        `printf '%s\\n' "\${OPENCLAW_VERSION-<unset>}" > ${dir}/seen`,
        `printf '%s' "\${OPENCLAW_VERSION:-2026.9.6}" > ${dir}/release`,
        `printf '#!/bin/sh\\nprintf "OpenClaw %%s (stub)\\\\n" "$(cat ${dir}/release)"\\n' > ${dir}/bin/openclaw`,
        `chmod +x ${dir}/bin/openclaw`,
      ].join('\n'),
    );
    chmodSync(join(dir, 'installer.sh'), 0o755);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...release: string[]) =>
    spawnSync('bash', ['-c', installScript, 'install', `bash ${dir}/installer.sh`, ...release], {
      encoding: 'utf8',
      env: { PATH: `${dir}/bin:/usr/bin:/bin` },
    });
  const seen = () => readFileSync(join(dir, 'seen'), 'utf8').trim();

  it('passes a release to the installer as OPENCLAW_VERSION', () => {
    const out = run('2026.2.19');
    expect(out.status).toBe(0);
    expect(seen()).toBe('2026.2.19');
    expect(out.stdout).toContain('openclaw_version=OpenClaw 2026.2.19 (stub)');
  });

  it('sets no OPENCLAW_VERSION without one (installer)', () => {
    expect(run().status).toBe(0);
    expect(seen()).toBe('<unset>');
  });

  it('takes the release as a value, never as shell text', () => {
    const hostile = `$(touch ${dir}/pwned)`;
    expect(run(hostile).status).toBe(0);
    expect(seen()).toBe(hostile);
    expect(spawnSync('test', ['-e', join(dir, 'pwned')]).status).toBe(1);
  });

  it('runs no installer when openclaw is there, and reports the release it finds', () => {
    writeFileSync(join(dir, 'bin', 'openclaw'), '#!/bin/sh\necho 2026.2.19\n', { mode: 0o755 });
    const out = run('2026.9.6');
    expect(out.stdout).toContain('installed_now=0');
    expect(out.stdout).toContain('openclaw_version=2026.2.19');
    expect(() => seen()).toThrow();
  });
});

describe('the plan and the record', () => {
  it("the plan's install command carries the release as its own argument, and none with installer", async () => {
    const install = async (patch: Partial<MigrateVmInput>) =>
      (await planCommands(params(patch), '/root', bot('2026.2.19'))).find((step) => step.phase === 'install')!.command;
    expect(await install({ openclawVersion: 'docker' })).toMatch(/ --no-gum' '2026\.2\.19'$/);
    expect(await install({ openclawVersion: '2026.9.6' })).toMatch(/ --no-gum' '2026\.9\.6'$/);
    expect(await install({})).toMatch(/ --no-gum'$/);
  });

  it('show the jump', () => {
    const before = bot('2026.2.19');
    expect(versionJump(params(), before, installed('OpenClaw 2026.9.6 (eb377ac)'))).toBe(
      'openclaw 2026.2.19 (Docker-era) → 2026.9.6 (installed; policy: installer)',
    );
    expect(versionJump(params(), before, undefined)).toBe(
      "openclaw 2026.2.19 (Docker-era) → the installer's release (planned; policy: installer)",
    );
    expect(versionJump(params({ openclawVersion: 'docker' }), before, undefined)).toBe(
      'openclaw 2026.2.19 (Docker-era) → 2026.2.19 (planned; policy: docker)',
    );
    expect(versionJump(params({ openclawVersion: '2026.9.6' }), bot(UNKNOWN), undefined)).toBe(
      'openclaw unknown (Docker-era) → 2026.9.6 (planned; policy: 2026.9.6)',
    );
  });
});
