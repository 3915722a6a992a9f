/**
 * The lab panel's dependencies (lab/panel-app: fastify, @fastify/static, zod, ws, shoelace, as the released panel
 * has), installed once per machine from the npm registry by `npm ci --omit=dev` of lab/panel-app/package-lock.json,
 * into `~/.cache/openclaw-migrate/panel-deps-<hash>/`, the hash taken over package.json and the lock:
 *
 *     node_modules/    what the Docker-era panel image holds beside the app (lab/guest-image.ts)
 *     npm-cache/       npm's cache of the same tarballs: with `npm_config_cache` naming it, `npm install --offline`
 *                      installs the lock without a registry (test/lab/panel.test.ts deploys the release so)
 *     marker.json      written last; without it the directory is built again
 *
 * The release tarball (lab/release-server.ts) holds no node_modules, as GitHub's does: in a guest, phase F's
 * `npm install --omit=dev` fetches them from the guest's registry.
 *
 *     tsx lab/panel-deps.ts        installs them if this machine has none for today's lock, prints them as JSON
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defaultCacheDir, run, type Log } from './openclaw-cache';
import { withPidLock } from './shared/pid-lock';
import { printPreparedCache } from './shared/cache-main';

export const PANEL_APP_DIR = resolve(__dirname, 'panel-app');
const MANIFESTS = ['package.json', 'package-lock.json'];

export interface PanelDeps {
  dir: string;
  nodeModules: string;
  npmCache: string;
  /** True when this call installed them. */
  built: boolean;
}

const defaultLog: Log = (line) => process.stderr.write(`panel-deps: ${line}\n`);

export async function preparePanelDeps(opts: { log?: Log; cacheRoot?: string } = {}): Promise<PanelDeps> {
  const log = opts.log ?? defaultLog;
  const hash = createHash('sha256');
  for (const file of MANIFESTS) hash.update(`${file}\n`).update(readFileSync(join(PANEL_APP_DIR, file)));
  const cacheRoot = opts.cacheRoot ?? dirname(defaultCacheDir());
  const dir = join(cacheRoot, `panel-deps-${hash.digest('hex').slice(0, 16)}`);
  const marker = join(dir, 'marker.json');
  const result = (built: boolean): PanelDeps => ({
    dir,
    nodeModules: join(dir, 'node_modules'),
    npmCache: join(dir, 'npm-cache'),
    built,
  });
  const ready = () => {
    try {
      readFileSync(marker);
      return true;
    } catch {
      return false;
    }
  };
  if (ready()) return result(false);
  mkdirSync(cacheRoot, { recursive: true });
  return withPidLock(`${dir}.lock`, { pollMs: 1000 }, async () => {
    if (ready()) return result(false); // another process installed them while we waited
    const started = Date.now();
    const work = `${dir}.work`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    for (const file of MANIFESTS) copyFileSync(join(PANEL_APP_DIR, file), join(work, file));
    log(`npm ci --omit=dev of lab/panel-app/package-lock.json into ${dir}`);
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--cache', join(work, 'npm-cache')], {
      cwd: work,
      log,
      prefix: 'npm: ',
    });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    writeFileSync(marker, JSON.stringify({ builtAt: new Date().toISOString(), buildMs: Date.now() - started }) + '\n');
    log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result(true);
  });
}

export const main = () => printPreparedCache('panel-deps', () => preparePanelDeps());

if (require.main === module) {
  void main();
}
