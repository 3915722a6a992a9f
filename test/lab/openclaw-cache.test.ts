import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPENCLAW_VERSION, prepareOpenClawCache, type OpenClawCache } from '../../lab/openclaw-cache';
import { freePort } from '../../lab/shared/net';
import { execResult } from '../support/exec';
import { httpGet } from '../support/net';
import { waitFor } from '../support/wait';

/**
 * The lab's OpenClaw: the cache (built once per machine, ~1–2 min; seconds after that), the lab's installer into a
 * temp PREFIX, and the real gateway run from there.
 */
const installer = join(__dirname, '../../lab/guest/install-openclaw.sh');
let tmp: string;
let cache: OpenClawCache;
let prefix: string;
const groups: ChildProcess[] = [];

/** Runs a program to its end with stdin at end-of-file, as an unattended run gives it. */
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) =>
  execResult(cmd, args, { env, timeout: 300_000, input: '' });

/** Starts a process in a group of its own, so the whole tree can be ended at once. */
function spawnGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore' = 'ignore') {
  const child = spawn(cmd, args, { env, detached: true, stdio: [stdin, 'pipe', 'pipe'] });
  groups.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-(child.pid as number), signal);
  } catch {
    // gone
  }
  if (signal === 'SIGKILL') for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
}

const installEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  PREFIX: prefix,
  OPENCLAW_LAB_PREFIX_TGZ: cache.prefixTgz,
  ...extra,
});

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lab-openclaw-'));
  prefix = join(tmp, 'usr-local');
});

afterAll(() => {
  for (const c of groups) killGroup(c);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('OpenClaw offline install', () => {
  it('prepares the cache once per machine', async () => {
    cache = await prepareOpenClawCache();
    expect(cache.versions.openclaw).toBe(OPENCLAW_VERSION);
    expect(cache.versions.node).toMatch(/^v24\./);
    expect(cache.versionOutput).toContain(OPENCLAW_VERSION);
    expect(existsSync(cache.prefixTgz)).toBe(true);
    console.log(
      `openclaw cache: ${cache.built ? 'built' : 'reused'} ${cache.prefixTgz} ` +
        `(${(cache.sizeBytes / 1e6).toFixed(1)} MB, build took ${(cache.buildMs / 1000).toFixed(1)} s)`,
    );
    const again = await prepareOpenClawCache();
    expect(again.built).toBe(false);
    expect(again.sizeBytes).toBe(cache.sizeBytes);
  }, 900_000);

  it("prepares the record's 2026.2.19 with its git-only dependency overridden, and it runs on Node 24", async () => {
    const record = await prepareOpenClawCache({ release: '2026.2.19' });
    expect(record.versions.openclaw).toBe('2026.2.19');
    const unpacked = join(tmp, 'prefix-2026.2.19');
    mkdirSync(unpacked);
    expect((await run('tar', ['-xzf', record.prefixTgz, '-C', unpacked], {})).code).toBe(0);
    const env = { PATH: `${join(unpacked, 'bin')}:${process.env.PATH ?? ''}`, HOME: tmp };
    const printed = await run(join(unpacked, 'bin/openclaw'), ['--version'], env);
    expect(printed.stdout.trim()).toBe('2026.2.19');
    const libsignal = JSON.parse(
      readFileSync(join(unpacked, 'lib/node_modules/openclaw/node_modules/libsignal/package.json'), 'utf8'),
    ) as { version: string };
    expect(libsignal.version).toBe('2.0.1');
  }, 900_000);

  it('install-openclaw.sh --no-prompt unpacks the prefix, idempotently', async () => {
    const started = Date.now();
    const first = await run('bash', [installer, '--no-prompt', '--no-onboard', '--no-gum'], installEnv());
    const ms = Date.now() - started;
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`==> Installing Node.js, npm and OpenClaw into ${prefix}`);
    expect(first.stdout).toMatch(new RegExp(`^✓ node v24\\.\\d+\\.\\d+ → ${prefix}/bin/node$`, 'm'));
    expect(first.stdout).toContain(`✓ openclaw ${OPENCLAW_VERSION} → ${prefix}/bin/openclaw`);
    expect(readlinkSync(join(prefix, 'bin/openclaw'))).toBe('../lib/node_modules/openclaw/openclaw.mjs');
    console.log(`install-openclaw.sh into an empty prefix: ${(ms / 1000).toFixed(1)} s`);

    const second = await run('bash', [installer, '--no-prompt', '--no-onboard', '--no-gum'], installEnv());
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('nothing to unpack');

    const version = await run(join(prefix, 'bin/openclaw'), ['--version'], {
      PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
      HOME: tmp,
    });
    expect(version.stdout.trim()).toMatch(
      new RegExp(`^OpenClaw ${OPENCLAW_VERSION.replace(/\./g, '\\.')} \\([0-9a-f]+\\)$`),
    );
  }, 300_000);

  it('the installed gateway answers / and /health', async () => {
    const port = await freePort();
    const home = mkdtempSync(join(tmp, 'home-'));
    const started = Date.now();
    const gw = spawnGroup(
      join(prefix, 'bin/openclaw'),
      ['gateway', 'run', '--bind', 'loopback', '--port', String(port), '--allow-unconfigured'],
      { PATH: `${join(prefix, 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: home, TMPDIR: home },
    );
    const root = await waitFor(
      'the gateway to answer / with 200',
      async () => {
        const answer = await httpGet(port, '/').catch(() => undefined);
        if (answer?.status === 200) return answer;
        if (gw.child.exitCode !== null) throw new Error(`gateway exited ${gw.child.exitCode}:\n${gw.output()}`);
        return undefined;
      },
      120_000,
    );
    console.log(`gateway answered 200 on / after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(root.status).toBe(200);
    expect(root.body).toMatch(/^<!doctype html>/i);
    expect(await httpGet(port, '/health')).toEqual({ status: 200, body: '{"ok":true,"status":"live"}' });

    killGroup(gw.child, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([gw.exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    expect(code).toBe(0);
  }, 180_000);

  it('without --no-prompt it waits for an answer; --no-prompt returns', async () => {
    // stdin open and silent, as an agent that never answers
    const open = spawnGroup('bash', [installer], installEnv(), 'pipe');
    // stdin at end-of-file, as qemu-ga gives a process
    const eof = spawnGroup('bash', [installer], installEnv(), 'ignore');
    // the lab's hang fault: waits whatever the flags say
    const fault = spawnGroup(
      'bash',
      [installer, '--no-prompt', '--no-onboard', '--no-gum'],
      installEnv({ LAB_FAULT_INSTALL_HANG: '1' }),
      'ignore',
    );
    await new Promise((r) => setTimeout(r, 2000));
    for (const p of [open, eof, fault]) {
      expect(p.child.exitCode).toBeNull();
      expect(p.output()).toMatch(/Choose install method \[1\/2\]: $/);
      killGroup(p.child);
      await p.exited;
    }
    const answered = spawnGroup('bash', [installer, '--no-onboard'], installEnv(), 'pipe');
    answered.child.stdin?.end('1\n');
    expect(await answered.exited).toBe(0);
    expect(answered.output()).toContain(`🦞 OpenClaw ${OPENCLAW_VERSION} installed.`);

    const quick = await run('bash', [installer, '--no-prompt', '--no-onboard', '--no-gum'], installEnv());
    expect(quick.code).toBe(0);
    expect(quick.stdout).not.toContain('Choose install method');
  }, 60_000);
});
