import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { alive, guestExec, labDown, labStatus, labUp, processesNaming } from '../../lab/lab';
import { OPENCLAW_VERSION, prepareOpenClawCache } from '../../lab/openclaw-cache';
import { prepareRegistry, REGISTRY_APPS, type RegistryCache } from '../../lab/registry';
import { startLab, stopLab, type Lab } from '../support/lab';

/**
 * The lab's npm registry (a real Verdaccio, offline, bridged into each guest at 127.0.0.1:4873) and the realistic
 * install through it: one guest up with `install: 'registry'`.
 */
const VMID = 105;
/** Phase D's script: the install command when node or openclaw is missing, then versions and real paths. */
const PHASE_D_SCRIPT = join(__dirname, '../../src/activities/scripts/install.sh');
let registry: RegistryCache;
let lab: Lab;

/**
 * A bash script in the guest as the agent runs one (its environment: PATH only, nothing of this process's) with
 * root's HOME exported, as phase D's install.sh does; values as $1, $2, …
 */
const inGuest = (script: string, ...args: string[]) => guestRun(script, args);
const guestRun = (script: string, args: string[], input?: string) =>
  guestExec(
    lab,
    VMID,
    ['env', '-i', `PATH=${GUEST_PATH}`, 'HOME=/root', '/bin/bash', '-c', script, 'registry-test', ...args],
    input,
  );
const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The status of each request the lab's Verdaccio answered, from its log (JSON lines). */
const answered = () =>
  readFileSync(join(lab.labDir, 'registry/verdaccio.log'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { request?: { url: string }; status?: number })
    .flatMap((entry) => (entry.request && entry.status ? [`${entry.status} ${entry.request.url}`] : []));

const commandLine = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return ''; // gone
  }
};

beforeAll(async () => {
  registry = await prepareRegistry(); // once per machine: minutes the first time
  console.log(
    `registry: ${registry.built ? 'filled' : 'reused'} ${registry.dir} (${registry.packages} packages, ` +
      `${registry.tarballs} tarballs, ${(registry.sizeBytes / 2 ** 20).toFixed(0)} MiB; fill took ` +
      `${(registry.buildMs / 1000).toFixed(0)} s)`,
  );
  lab = await startLab({ install: 'registry' });
}, 1_800_000);
afterAll(() => stopLab(lab));

describe("the lab's registry", () => {
  it('runs for the lab, listed in its state, offline: Verdaccio has no uplinks', async () => {
    expect(alive(lab.registryPid)).toBe(true);
    expect((await labStatus(lab.labDir)).registry).toEqual({
      socket: join(lab.labDir, 'run/registry.sock'),
      alive: true,
    });
    const config = parse(readFileSync(join(lab.labDir, 'registry/config.yaml'), 'utf8')) as Record<string, unknown>;
    expect(config.uplinks).toBeUndefined();
    expect(JSON.stringify(config.packages)).not.toContain('proxy');
    expect(inGuest('cat /root/.npmrc').stdout).toBe('registry=http://127.0.0.1:4873/\n');
  });

  it('phase D runs install-openclaw.sh --no-prompt, which installs as the real installer does: Node 24, then npm', async () => {
    const started = Date.now();
    const phaseD = inGuest(readFileSync(PHASE_D_SCRIPT, 'utf8'), lab.installCommand);
    const seconds = (Date.now() - started) / 1000;
    expect(phaseD.stderr).toBe('');
    expect(phaseD.status).toBe(0);
    expect(phaseD.stdout).toContain('==> Installing Node.js and npm into /usr/local');
    expect(phaseD.stdout).toContain(`==> Installing OpenClaw ${OPENCLAW_VERSION} with npm from http://127.0.0.1:4873/`);
    console.log(`realistic install in a guest: ${seconds.toFixed(1)} s`);
    // npm fetched the package through the lab's Verdaccio, not from a prepared prefix
    expect(answered()).toContain(`200 /openclaw/-/openclaw-${OPENCLAW_VERSION}.tgz`);
    expect(inGuest('[ -e /usr/local/lib/node_modules/.openclaw-lab-prefix ]').status).toBe(1);
    // what phase D reports is what it reports of the prefix's install: the same paths and versions
    const prefix = await prepareOpenClawCache();
    const reported = Object.fromEntries(
      phaseD.stdout
        .split('\n')
        .filter((line) => /^[a-z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(reported).toEqual({
      installed_now: '1',
      node_path: '/usr/local/bin/node',
      node_version: prefix.versions.node,
      openclaw_path: '/usr/local/bin/openclaw',
      openclaw_version: prefix.versionOutput,
    });
    const links = inGuest('readlink -f /usr/bin/openclaw /usr/bin/node; npm -v');
    expect(links.stdout).toBe(
      `/usr/local/lib/node_modules/openclaw/openclaw.mjs\n/usr/local/bin/node\n${prefix.versions.npm}\n`,
    );

    const again = inGuest(lab.installCommand);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`Node.js ${prefix.versions.node} is already installed in /usr/local`);
    expect(again.stdout).toContain(`OpenClaw ${OPENCLAW_VERSION} is already installed in /usr/local`);
  }, 900_000);

  it('answers npm view in a guest for a package in its storage, E404 for one that is not', () => {
    expect(inGuest('npm config get registry').stdout.trim()).toBe('http://127.0.0.1:4873/');
    const view = inGuest('npm view "$1" version', `openclaw@${OPENCLAW_VERSION}`);
    expect(view.stderr).toBe('');
    expect(view.stdout.trim()).toBe(OPENCLAW_VERSION);
    expect(inGuest('npm view zod@4.6.7 dist.tarball').stdout.trim()).toBe('http://127.0.0.1:4873/zod/-/zod-4.6.7.tgz');

    const missing = inGuest('npm view left-pad version');
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('E404');
    expect(missing.stderr).toContain('http://127.0.0.1:4873/left-pad');
    expect(answered()).toContain('404 /left-pad');
    expect(existsSync(join(registry.storage, 'left-pad'))).toBe(false);
    // and the guest itself has no way out: no default route (loopback and Docker's own bridge only)
    expect(inGuest('ip -o route show default; ip -o -6 route show default').stdout.trim()).toBe('');
  });

  it.each(REGISTRY_APPS.map((app) => [app.split('/').pop() as string, app]))(
    "installs the %s lock's dependencies in a guest (npm ci --omit=dev)",
    (name, app) => {
      const dir = `/root/registry-test/${name}`;
      expect(inGuest('mkdir -p "$1"', dir).status).toBe(0);
      const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean; version?: string }>;
      };
      const wanted = Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.dev);
      for (const file of ['package.json', 'package-lock.json']) {
        const copy = guestRun('cat >"$1/$2"', [dir, file], readFileSync(join(app, file), 'utf8'));
        expect(copy.status).toBe(0);
      }
      const ci = inGuest('cd "$1" && npm ci --omit=dev --no-audit --no-fund', dir);
      // nothing missing or failing; a package the registry marks deprecated is only a warning (the real panel
      // release's lock pins glob 10.5.0, which npm says is old)
      expect(ci.stderr.split('\n').filter((line) => line && !line.startsWith('npm warn deprecated '))).toEqual([]);
      expect(ci.status).toBe(0);
      // every package of the lock is on the guest's disk, in the lock's version
      const versions = inGuest(
        `cd "$1" && for p in "\${@:2}"; do node -p 'require("./" + process.argv[1] + "/package.json").version' "$p"; done`,
        dir,
        ...wanted.map(([path]) => path),
      );
      expect(versions.stderr).toBe('');
      expect(versions.stdout.trim().split('\n').filter(Boolean)).toEqual(wanted.map(([, p]) => p.version));
    },
    300_000,
  );

  it('is stopped by lab down, and by a lab up that fails half-way', async () => {
    const pid = lab.registryPid;
    await labDown(lab.labDir);
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(lab.labDir, 'run/registry.sock'))).toBe(false);

    // A lab whose guest cannot boot (its disk cannot hold its seed) fails after its registry started: the
    // Verdaccio seen while it came up is gone once it failed, and nothing else of it is left running.
    const dir = mkdtempSync(join(tmpdir(), 'openclaw-lab-'));
    const seen = new Set<number>();
    const sampler = setInterval(() => {
      for (const named of processesNaming(dir)) if (commandLine(named).startsWith('verdaccio ')) seen.add(named);
    }, 100);
    try {
      await expect(labUp({ guests: 1, workspaceFiles: 60, bigFileMiB: 2, diskSize: '1m' }, dir)).rejects.toThrow(
        /container vm-lab-0001 did not boot/,
      );
      expect(seen.size).toBe(1);
      expect([...seen].filter(alive)).toEqual([]);
      expect(processesNaming(dir)).toEqual([]);
    } finally {
      clearInterval(sampler);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
