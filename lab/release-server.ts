/**
 * The lab's stand-in for GitHub's release downloads of the panel (SOP §5.7 fetches
 * `https://api.github.com/repos/<repo>/tarball/<tag>` with `curl -fsSL`).
 *
 * - `GET /repos/<owner>/<repo>/tarball/<tag>` → 302 to `/_codeload/<owner>/<repo>/legacy.tar.gz/refs/tags/<tag>`
 *   (GitHub redirects to codeload.github.com the same way; the Location is relative so it also works through a
 *   unix socket), which answers 200 with a gzip tarball shaped like GitHub's: one top directory
 *   `<owner>-<repo>-<7 hex>/` holding the panel app (lab/panel-app without node_modules, .git, .runtime).
 * - `GET /repos/<owner>/<repo>/releases/latest` and `/releases/tags/<tag>` → a small release JSON (tag_name, …).
 * - Anything else → 404 `{"message":"Not Found"}`. Repository names match case-insensitively, as on GitHub.
 *
 * Tarballs are built once per release at start-up with the system `tar` from a staging directory (owner root,
 * sorted names, fixed mtime), so a missing app directory fails the start, not the first download.
 *
 *     node release-server.js [--host 127.0.0.1] [--port N] [--socket PATH] --release owner/repo@tag … [--app-dir DIR]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { eachArg } from './shared/args';
import { closeServers, listen } from './shared/net';

export interface Release {
  /** `owner/name` */
  repo: string;
  tag: string;
  /** The app to serve for this release (default: the server's appDir). */
  appDir?: string;
}

export interface ReleaseServerOptions {
  host?: string;
  /** TCP port (0 = any free one). TCP is used when a port is given or no socketPath is. */
  port?: number;
  socketPath?: string;
  releases: Release[];
  /** Default app directory (default: LAB_PANEL_APP_DIR, else panel-app next to this file, else ../lab/panel-app). */
  appDir?: string;
}

export interface ReleaseServer {
  /** `http://host:port` when listening on TCP. */
  url?: string;
  socketPath?: string;
  /** What each release serves: top directory and tarball size. */
  releases: Array<{ repo: string; tag: string; topDir: string; sha: string; bytes: number }>;
  close(): Promise<void>;
}

interface BuiltRelease {
  owner: string;
  name: string;
  tag: string;
  sha: string;
  topDir: string;
  tarball: Buffer;
}

const EXCLUDED = new Set(['node_modules', '.git', '.runtime', '.panel-release.json']);
/** Fixed mtime for the tarball's entries (a release is immutable). */
const RELEASE_MTIME = '2026-02-20 00:00:00Z';

export function resolveAppDir(explicit?: string): string {
  const candidates = [
    explicit,
    process.env.LAB_PANEL_APP_DIR,
    join(__dirname, 'panel-app'),
    join(__dirname, '..', 'lab', 'panel-app'),
  ].filter((d): d is string => !!d);
  for (const d of candidates) if (existsSync(join(d, 'package.json'))) return d;
  throw new Error(
    `no panel app found (looked in ${candidates.join(', ')}); pass appDir / --app-dir or set LAB_PANEL_APP_DIR`,
  );
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (EXCLUDED.has(e.name)) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Builds the GitHub-shaped tarball of one release. */
export function buildReleaseTarball(release: Release, appDir: string): BuiltRelease {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(release.repo);
  if (!m) throw new Error(`release-server: repo must be owner/name, got '${release.repo}'`);
  const [, owner, name] = m;
  const content = createHash('sha1');
  for (const f of listFiles(appDir)) {
    content.update(relative(appDir, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  const sha = createHash('sha1').update(`${release.repo}@${release.tag}\0`).update(content.digest()).digest('hex');
  const topDir = `${owner}-${name}-${sha.slice(0, 7)}`;
  const stage = mkdtempSync(join(tmpdir(), 'openclaw-release-'));
  try {
    cpSync(appDir, join(stage, topDir), {
      recursive: true,
      filter: (src) => !EXCLUDED.has(src.split('/').pop() ?? ''),
    });
    const out = join(stage, 'release.tar.gz');
    execFileSync('tar', [
      '-C',
      stage,
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--sort=name',
      `--mtime=${RELEASE_MTIME}`,
      '-czf',
      out,
      topDir,
    ]);
    return { owner, name, tag: release.tag, sha, topDir, tarball: readFileSync(out) };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const notFound = (res: ServerResponse) => sendJson(res, 404, { message: 'Not Found' });

function releaseJson(req: IncomingMessage, r: BuiltRelease) {
  const base = `http://${req.headers.host ?? 'api.github.com'}`;
  return {
    tag_name: r.tag,
    name: r.tag,
    target_commitish: r.sha,
    draft: false,
    prerelease: false,
    tarball_url: `${base}/repos/${r.owner}/${r.name}/tarball/${r.tag}`,
    html_url: `https://github.com/${r.owner}/${r.name}/releases/tag/${r.tag}`,
  };
}

function handler(built: BuiltRelease[]) {
  const find = (owner: string, name: string) =>
    built.filter((b) => b.owner.toLowerCase() === owner.toLowerCase() && b.name.toLowerCase() === name.toLowerCase());
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res);
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    let m = /^\/repos\/([^/]+)\/([^/]+)\/tarball\/(.+)$/.exec(path);
    if (m) {
      const r = find(m[1], m[2]).find((b) => b.tag === m?.[3]);
      if (!r) return notFound(res);
      res.writeHead(302, {
        location: `/_codeload/${r.owner}/${r.name}/legacy.tar.gz/refs/tags/${encodeURIComponent(r.tag)}`,
        'content-length': 0,
      });
      return res.end();
    }
    m = /^\/_codeload\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/refs\/tags\/(.+)$/.exec(path);
    if (m) {
      const r = find(m[1], m[2]).find((b) => b.tag === m?.[3]);
      if (!r) return notFound(res);
      res.writeHead(200, {
        'content-type': 'application/x-gzip',
        'content-length': r.tarball.length,
        'content-disposition': `attachment; filename=${r.owner}-${r.name}-${r.tag}-0-g${r.sha.slice(0, 7)}.tar.gz`,
        etag: `"${r.sha}"`,
      });
      return res.end(r.tarball);
    }
    m = /^\/repos\/([^/]+)\/([^/]+)\/releases\/(latest|tags\/(.+))$/.exec(path);
    if (m) {
      const all = find(m[1], m[2]);
      const r = m[3] === 'latest' ? all[all.length - 1] : all.find((b) => b.tag === m?.[4]);
      return r ? sendJson(res, 200, releaseJson(req, r)) : notFound(res);
    }
    return notFound(res);
  };
}

export async function startReleaseServer(opts: ReleaseServerOptions): Promise<ReleaseServer> {
  const defaultApp = opts.releases.every((r) => r.appDir) ? undefined : resolveAppDir(opts.appDir);
  const built = opts.releases.map((r) => buildReleaseTarball(r, r.appDir ?? (defaultApp as string)));
  const handle = handler(built);
  const servers: Server[] = [];
  let url: string | undefined;
  try {
    if (opts.port !== undefined || !opts.socketPath) {
      const s = createServer(handle);
      servers.push(s);
      const host = opts.host ?? '127.0.0.1';
      await listen(s, { port: opts.port ?? 0, host });
      url = `http://${host.includes(':') ? `[${host}]` : host}:${(s.address() as AddressInfo).port}`;
    }
    if (opts.socketPath) {
      mkdirSync(dirname(opts.socketPath), { recursive: true });
      if (existsSync(opts.socketPath) && statSync(opts.socketPath).isSocket()) rmSync(opts.socketPath);
      const s = createServer(handle);
      servers.push(s);
      await listen(s, { path: opts.socketPath });
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    url,
    socketPath: opts.socketPath,
    releases: built.map((b) => ({
      repo: `${b.owner}/${b.name}`,
      tag: b.tag,
      topDir: b.topDir,
      sha: b.sha,
      bytes: b.tarball.length,
    })),
    close: async () => {
      await closeServers(servers);
      if (opts.socketPath) rmSync(opts.socketPath, { force: true });
    },
  };
}

export function parseArgs(argv: string[]): ReleaseServerOptions {
  const opts: ReleaseServerOptions = { releases: [] };
  eachArg(argv, (a, value) => {
    if (a === '--host') opts.host = value();
    else if (a === '--port') opts.port = Number(value());
    else if (a === '--socket') opts.socketPath = value();
    else if (a === '--app-dir') opts.appDir = value();
    else if (a === '--release') {
      const v = value();
      const at = v.lastIndexOf('@');
      if (at <= 0) throw new Error(`--release wants owner/repo@tag, got '${v}'`);
      opts.releases.push({ repo: v.slice(0, at), tag: v.slice(at + 1) });
    } else throw new Error(`unknown argument '${a}'`);
  });
  if (opts.releases.length === 0) throw new Error('at least one --release owner/repo@tag is required');
  return opts;
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let server: ReleaseServer;
  try {
    server = await startReleaseServer(parseArgs(argv));
  } catch (err) {
    process.stderr.write(`release-server: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const where = [server.url, server.socketPath && `unix:${server.socketPath}`].filter(Boolean).join(' and ');
  for (const r of server.releases) {
    process.stdout.write(`release-server: ${r.repo}@${r.tag} → ${r.topDir}/ (${r.bytes} bytes)\n`);
  }
  process.stdout.write(`release-server: listening on ${where}\n`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  void main();
}
