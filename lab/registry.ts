/**
 * The lab's npm registry: a real Verdaccio, filled once per machine through the host's configured registry and
 * served offline (no uplinks) by every lab on a unix socket, bridged into each guest at 127.0.0.1:4873.
 *
 * The fill (`prepareRegistry`, once per machine, minutes) makes `~/.cache/openclaw-migrate/registry-<hash>/`, the
 * hash taken over its inputs (the format, Verdaccio's version, OpenClaw's, the host's registry URL and the lock
 * files below, as they are when it runs):
 *     node/, node.tgz      Node 24 and npm as the OpenClaw cache's prefix has them (bin/node, bin/npm, bin/npx,
 *                          lib/node_modules/npm): Verdaccio and the fill run on it, the realistic installer unpacks it
 *     verdaccio/           `npm install verdaccio@6.10.4`, its own dependencies as the registry had them on
 *                          VERDACCIO_DEPS_BEFORE (`--before`), so its tree is pinned without a lock file of ours
 *     storage/             Verdaccio's storage: every packument and tarball that these needed, each through Verdaccio
 *                          with an uplink to the host's registry and an empty npm cache (so every tarball passes it):
 *                            `npm ci --omit=dev` of each lock in REGISTRY_APPS, `npm install -g openclaw@<version>`
 *     marker.json          written last (inputs, counts, size, fill time); without it the fill starts again
 * A pid lock (`<dir>.lock`) keeps two processes from filling at once.
 *
 * Served (`startLabRegistry`, at `lab up`): Verdaccio with no uplinks on `<lab dir>/run/registry.sock`. Its storage
 * is `<lab dir>/registry/storage`, which holds only what Verdaccio writes (its database and secret) and a link
 * `packages` to the cache's storage, which every package is read from: the cache is never written. A package that
 * is not there answers 404; a version of a package that is there, whose tarball the fill did not fetch, answers 500
 * (Verdaccio offline: the packument lists it, the tarball has no uplink to come from), npm's E500 after its retries.
 *
 *     tsx lab/registry.ts        fills the registry (if needed) and prints the result as JSON
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { startDetached } from './machine';
import {
  defaultCacheDir,
  hostNpmCli,
  NODE_PACKAGE,
  OPENCLAW_VERSION,
  prepareOpenClawCache,
  run,
  type Log,
} from './openclaw-cache';
import { connects, freePort } from './shared/net';
import { withPidLock } from './shared/pid-lock';
import { waitFor } from './shared/wait';
import { printPreparedCache } from './shared/cache-main';

export const VERDACCIO_VERSION = '6.10.4';
/** Verdaccio's own dependencies are the versions the registry had on this day (npm's `--before`). */
const VERDACCIO_DEPS_BEFORE = '2026-12-01T00:00:00.000Z';
/** Bump when the cache's layout changes: older fills are made again. */
const REGISTRY_FORMAT = 1;
/** Where a guest reaches the lab's registry (its /root/.npmrc says so), as a customer's VM reaches a mirror. */
export const GUEST_REGISTRY_PORT = 4873;

const labSources = resolve(__dirname);
/**
 * The apps whose lock files the registry serves: the lab's panel (its release's `npm install --omit=dev` in phase F),
 * the real panel release's own package.json and lock (lab/panel-release: Bianshumeng/openclaw-panel-public at
 * v2026.02.20-r4, commit 73aee3b4, as customers get it: its lock pins versions the lab panel's lock re-resolved, e.g.
 * ajv 8.17.1, toad-cache 3.7.0), and a small app with real dependencies, so that a lock's install through the
 * registry is tested whatever the panels' locks hold.
 */
export const REGISTRY_APPS = [
  join(labSources, 'panel-app'),
  join(labSources, 'panel-release'),
  join(labSources, 'registry-fixture'),
];

export interface RegistryCache {
  dir: string;
  /** the packages Verdaccio serves */
  storage: string;
  /** Node 24 and npm, to run Verdaccio and npm on the host */
  nodeBin: string;
  npmCli: string;
  /** the same Node and npm packed, for the realistic installer to unpack into a prefix */
  nodeTgz: string;
  verdaccioBin: string;
  packages: number;
  tarballs: number;
  sizeBytes: number;
  /** True when this call filled it. */
  built: boolean;
  /** How long the (last) fill took. */
  buildMs: number;
}

interface Marker {
  inputs: Record<string, unknown>;
  packages: number;
  tarballs: number;
  sizeBytes: number;
  builtAt: string;
  buildMs: number;
}

const defaultLog: Log = (line) => process.stderr.write(`registry: ${line}\n`);
const npmQuiet = { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

function registryInputs(uplink: string): Record<string, unknown> {
  return {
    format: REGISTRY_FORMAT,
    verdaccio: VERDACCIO_VERSION,
    verdaccioDepsBefore: VERDACCIO_DEPS_BEFORE,
    openclaw: OPENCLAW_VERSION,
    nodePackage: NODE_PACKAGE,
    uplink,
    apps: REGISTRY_APPS.map((app) =>
      createHash('sha256')
        .update(readFileSync(join(app, 'package.json')))
        .update(readFileSync(join(app, 'package-lock.json')))
        .digest('hex'),
    ),
  };
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'marker.json'), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

/** Where the fill puts each of its parts in the cache directory. */
function cachePaths(dir: string) {
  return {
    storage: join(dir, 'storage'),
    nodeBin: join(dir, 'node/bin/node'),
    npmCli: join(dir, 'node/lib/node_modules/npm/bin/npm-cli.js'),
    nodeTgz: join(dir, 'node.tgz'),
    verdaccioBin: join(dir, 'verdaccio/node_modules/verdaccio/bin/verdaccio'),
  };
}

function cacheOf(dir: string, m: Marker, built: boolean): RegistryCache {
  const { packages, tarballs, sizeBytes, buildMs } = m;
  return { dir, ...cachePaths(dir), packages, tarballs, sizeBytes, built, buildMs };
}

/**
 * Verdaccio's config: one for the fill (an uplink, TCP for the host's npm), one for a lab (none, its socket).
 * Verdaccio sets its process title to `web.title` (else `verdaccio`), which replaces its command line in /proc: the
 * title names the config file, so that `lab down` finds a lab's Verdaccio by its directory as it finds the others.
 */
function verdaccioConfig(opts: {
  config: string;
  storage: string;
  htpasswd: string;
  listen: string;
  uplink?: string;
  packagesIn?: string;
}): string {
  return stringify({
    storage: opts.storage,
    auth: { htpasswd: { file: opts.htpasswd, max_users: -1 } },
    ...(opts.uplink && { uplinks: { upstream: { url: opts.uplink, timeout: '60s' } } }),
    packages: {
      '**': {
        access: '$all',
        publish: '$authenticated',
        ...(opts.uplink && { proxy: 'upstream' }),
        ...(opts.packagesIn && { storage: opts.packagesIn }),
      },
    },
    web: { enable: false, title: `verdaccio -c ${opts.config}` },
    log: { type: 'stdout', format: 'json', level: 'http' },
    listen: opts.listen,
  });
}

/** What a storage holds: package directories (`name/`, `@scope/name/`), tarballs and their bytes. */
function storageCounts(storage: string): Pick<Marker, 'packages' | 'tarballs' | 'sizeBytes'> {
  const counts = { packages: 0, tarballs: 0, sizeBytes: 0 };
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name === 'package.json') counts.packages += 1;
      else if (entry.name.endsWith('.tgz')) {
        counts.tarballs += 1;
        counts.sizeBytes += statSync(path).size;
      }
    }
  };
  visit(storage);
  return counts;
}

async function fill(dir: string, inputs: Record<string, unknown>, uplink: string, log: Log): Promise<Marker> {
  const started = Date.now();
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
  const work = join(dir, 'work');
  mkdirSync(work, { recursive: true });

  // Node and npm: the OpenClaw cache's, so that both installs report the same versions.
  const openclaw = await prepareOpenClawCache({ log: (line) => log(`openclaw-cache: ${line}`) });
  mkdirSync(join(dir, 'node'));
  const nodeFiles = ['bin/node', 'bin/npm', 'bin/npx', 'lib/node_modules/npm'];
  await run('tar', ['-xzf', openclaw.prefixTgz, '-C', join(dir, 'node'), ...nodeFiles]);
  await run('tar', [
    '-C',
    join(dir, 'node'),
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-czf',
    join(work, 'node.tgz'),
    'bin',
    'lib',
  ]);
  const { nodeBin, npmCli, verdaccioBin } = cachePaths(dir);
  const env = { ...process.env, ...npmQuiet, PATH: `${dirname(nodeBin)}:${process.env.PATH ?? ''}` };
  const npm = (args: string[], cwd: string) => run(nodeBin, [npmCli, ...args], { env, cwd, log, prefix: '  npm: ' });

  log(`filling the lab's registry in ${dir} (once per machine, a few minutes), uplink ${uplink}`);
  log(`npm install verdaccio@${VERDACCIO_VERSION} (its dependencies as of ${VERDACCIO_DEPS_BEFORE})`);
  await npm(
    [
      'install',
      '--prefix',
      join(dir, 'verdaccio'),
      `--before=${VERDACCIO_DEPS_BEFORE}`,
      `verdaccio@${VERDACCIO_VERSION}`,
    ],
    work,
  );

  const port = await freePort();
  const storage = join(work, 'storage');
  mkdirSync(storage);
  const config = join(work, 'fill.yaml');
  writeFileSync(
    config,
    verdaccioConfig({ config, storage, htpasswd: join(work, 'htpasswd'), listen: `127.0.0.1:${port}`, uplink }),
  );
  const verdaccio = spawn(nodeBin, [verdaccioBin, '-c', config], { stdio: 'ignore' });
  const exited = new Promise((resolveExit) => {
    verdaccio.once('exit', resolveExit);
    // a spawn that failed (no node, no verdaccio) ends here too: the wait below then names the registry
    verdaccio.once('error', resolveExit);
  });
  try {
    await waitFor(() => verdaccio.exitCode === null && connects(port), {
      timeoutMs: 60_000,
      pollMs: 200,
      timeoutMessage: 'registry: Verdaccio did not start within 60 s',
    });
    const through = [`--registry=http://127.0.0.1:${port}/`, `--cache=${join(work, 'npm-cache')}`, '--ignore-scripts'];
    for (const app of REGISTRY_APPS) {
      const copy = join(work, 'apps', app.split('/').pop() as string);
      mkdirSync(copy, { recursive: true });
      for (const file of ['package.json', 'package-lock.json'])
        writeFileSync(join(copy, file), readFileSync(join(app, file)));
      log(`npm ci --omit=dev of ${app}/package-lock.json`);
      await npm(['ci', '--omit=dev', ...through], copy);
    }
    log(`npm install -g openclaw@${OPENCLAW_VERSION} (what a realistic install fetches)`);
    const npmStarted = Date.now();
    await npm(
      ['install', '-g', '--prefix', join(work, 'openclaw-prefix'), ...through, `openclaw@${OPENCLAW_VERSION}`],
      work,
    );
    log(`npm install -g openclaw took ${((Date.now() - npmStarted) / 1000).toFixed(1)} s`);
  } finally {
    verdaccio.kill('SIGTERM');
    await exited;
  }
  rmSync(join(storage, '.verdaccio-db.json'), { force: true });
  renameSync(storage, join(dir, 'storage'));
  renameSync(join(work, 'node.tgz'), join(dir, 'node.tgz'));
  rmSync(work, { recursive: true, force: true });

  const marker: Marker = {
    inputs,
    ...storageCounts(join(dir, 'storage')),
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - started,
  };
  writeFileSync(join(dir, 'marker.json.tmp'), JSON.stringify(marker, null, 2) + '\n');
  renameSync(join(dir, 'marker.json.tmp'), join(dir, 'marker.json'));
  log(
    `filled in ${(marker.buildMs / 1000).toFixed(0)} s: ${marker.packages} packages, ${marker.tarballs} tarballs, ` +
      `${(marker.sizeBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  return marker;
}

/** Returns this machine's filled registry, filling it first when there is none for today's inputs. */
export async function prepareRegistry(opts: { log?: Log; cacheRoot?: string } = {}): Promise<RegistryCache> {
  const log = opts.log ?? defaultLog;
  const uplink = (
    await run(process.execPath, [hostNpmCli(), 'config', 'get', 'registry'], { env: { ...process.env, ...npmQuiet } })
  ).trim();
  const inputs = registryInputs(uplink);
  const hash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
  const cacheRoot = opts.cacheRoot ?? dirname(defaultCacheDir());
  const dir = join(cacheRoot, `registry-${hash}`);
  const ready = readMarker(dir);
  if (ready) return cacheOf(dir, ready, false);
  mkdirSync(dir, { recursive: true });
  let announced = false;
  const waiting = (holder: number) => {
    if (!announced) log(`waiting for pid ${holder}, which is filling the registry`);
    announced = true;
  };
  return withPidLock(`${dir}.lock`, { pollMs: 1000, waiting }, async () => {
    const again = readMarker(dir); // another process may have filled it while we waited
    if (again) return cacheOf(dir, again, false);
    return cacheOf(dir, await fill(dir, inputs, uplink, log), true);
  });
}

/**
 * Starts a lab's Verdaccio, offline, on the unix socket `socket`; returns its pid once it accepts connections.
 * Its database and logs live in `<lab dir>/registry`; the packages are read from the cache's storage.
 */
export async function startLabRegistry(cache: RegistryCache, labDir: string, socket: string): Promise<number> {
  const home = join(labDir, 'registry');
  rmSync(home, { recursive: true, force: true });
  mkdirSync(join(home, 'storage'), { recursive: true });
  symlinkSync(cache.storage, join(home, 'storage/packages'));
  const config = join(home, 'config.yaml');
  writeFileSync(
    config,
    verdaccioConfig({
      config,
      storage: join(home, 'storage'),
      htpasswd: join(home, 'htpasswd'),
      listen: `unix:${socket}`,
      packagesIn: 'packages',
    }),
  );
  rmSync(socket, { force: true });
  const pid = startDetached(cache.nodeBin, [cache.verdaccioBin, '-c', config], {}, join(home, 'verdaccio.log'));
  await waitFor(
    () =>
      existsSync(`/proc/${pid}`)
        ? connects(socket)
        : Promise.reject(new Error(`lab: the registry exited (see ${home}/verdaccio.log)`)),
    {
      timeoutMs: 60_000,
      pollMs: 100,
      timeoutMessage: `lab: the registry did not start within 60 s (see ${home}/verdaccio.log)`,
    },
  );
  return pid;
}

export const main = () => printPreparedCache('registry', () => prepareRegistry());

if (require.main === module) {
  void main();
}
