import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReleaseServer, type ReleaseServer } from '../../lab/release-server';
import { freePort } from '../../lab/shared/net';
import { execResult, type ExecOptions } from '../support/exec';
import { httpGet } from '../support/net';
import { waitFor } from '../support/wait';
import { deployPanelScript } from './sop-commands';

const REPO = 'Bianshumeng/openclaw-panel-public';
const TAG = 'v2026.02.20-r4';

let tmp: string;
let server: ReleaseServer;
let socketPath: string;
const children: ChildProcess[] = [];

const run = (cmd: string, args: string[], opts: ExecOptions = {}) =>
  execResult(cmd, args, { ...opts, timeout: 120_000 });

/** The panel's pages, each given up to 20 s. */
const panelGet = (port: number, path: string) => httpGet(port, path, 20_000);

/** SOP §5.7 as written, with the release base URL and APP_DIR as parameters and npm told to stay offline. */
const deployPanel = deployPanelScript({ appDir: '$4', npmOffline: true, printTop: true });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lab-panel-'));
  socketPath = join(tmp, 'run', 'release.sock');
  server = await startReleaseServer({ host: '127.0.0.1', port: 0, socketPath, releases: [{ repo: REPO, tag: TAG }] });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('release server', () => {
  it('serves a GitHub-shaped tarball over TCP and the unix socket, 404 JSON otherwise', async () => {
    const url = `${server.url}/repos/${REPO}/tarball/${TAG}`;
    const out = join(tmp, 'tcp.tar.gz');
    expect((await run('curl', ['-fsSL', url, '-o', out])).code).toBe(0);
    const list = (await run('tar', ['-tzf', out])).stdout.trim().split('\n');
    const top = list[0].replace(/\/$/, '');
    expect(top).toMatch(/^Bianshumeng-openclaw-panel-public-[0-9a-f]{7}$/);
    expect(list.every((e) => e === `${top}/` || e.startsWith(`${top}/`))).toBe(true);
    expect(list).toEqual(expect.arrayContaining([`${top}/package.json`, `${top}/src/server.js`]));
    expect(list.some((e) => e.includes('node_modules') || e.includes('.panel-release.json'))).toBe(false);

    const viaSocket = join(tmp, 'socket.tar.gz');
    const s = await run('curl', [
      '-fsSL',
      '--unix-socket',
      socketPath,
      `http://api.github.com/repos/${REPO}/tarball/${TAG}`,
      '-o',
      viaSocket,
    ]);
    expect(s.code).toBe(0);
    expect(readFileSync(viaSocket).equals(readFileSync(out))).toBe(true);

    const missing = await run('curl', ['-sS', '-w', '\n%{http_code}', `${server.url}/repos/${REPO}/tarball/v0.0.0`]);
    expect(missing.stdout).toBe('{"message":"Not Found"}\n404');
    expect((await run('curl', ['-fsSL', `${server.url}/repos/${REPO}/tarball/v0.0.0`])).code).toBe(22);
    const latest = JSON.parse((await run('curl', ['-fsS', `${server.url}/repos/${REPO}/releases/latest`])).stdout);
    expect(latest).toMatchObject({ tag_name: TAG });
  });
});

describe('panel app', () => {
  it('deploys as §5.7 does (offline npm install), serves / and both update checks', async () => {
    const appDir = join(tmp, 'opt', 'openclaw-panel');
    const deploy = await run('bash', ['-c', deployPanel, 'sop', TAG, REPO, server.url as string, appDir]);
    expect(deploy.stderr).not.toMatch(/ERR!/);
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toMatch(/^top:Bianshumeng-openclaw-panel-public-[0-9a-f]{7}$/m);
    expect(readdirSync(appDir).sort()).toEqual(
      ['.panel-release.json', 'package-lock.json', 'package.json', 'src']
        .concat(existsSync(join(appDir, 'node_modules')) ? ['node_modules'] : [])
        .sort(),
    );

    // A fake openclaw on PATH, printing what the real one prints.
    const bin = join(tmp, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'openclaw'), '#!/bin/sh\necho "OpenClaw 2026.9.6 (eb377ac)"\n');
    chmodSync(join(bin, 'openclaw'), 0o755);

    const port = await freePort();
    const configPath = join(tmp, 'etc', 'panel.config.json');
    mkdirSync(join(tmp, 'etc'), { recursive: true });
    writeFileSync(
      configPath,
      JSON.stringify({
        runtime: { mode: 'systemd' },
        panel: { listen_host: '127.0.0.1', listen_port: port },
        openclaw: { config_path: join(tmp, 'openclaw.json'), gateway_port: await freePort() },
        update: { panel_release_repo: REPO, bot_release_repo: 'openclaw/openclaw', panel_app_dir: appDir },
      }),
    );
    const panel = spawn(process.execPath, ['src/server.js'], {
      cwd: appDir,
      env: { ...process.env, PANEL_CONFIG_PATH: configPath, PATH: `${bin}:${process.env.PATH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(panel);
    let log = '';
    panel.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    panel.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor('the panel to answer', () => panelGet(port, '/api/health').catch(() => undefined), 15_000);
    expect(log).toContain(`openclaw-panel listening on http://127.0.0.1:${port}`);

    const home = await panelGet(port, '/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('<title>OpenClaw');
    expect(JSON.parse((await panelGet(port, '/api/update/check?target=panel')).body)).toEqual({
      target: 'panel',
      currentTag: TAG,
      latestTag: TAG,
      updateAvailable: false,
    });
    expect(JSON.parse((await panelGet(port, '/api/update/check?target=bot')).body)).toEqual({
      target: 'bot',
      currentTag: '2026.9.6',
      latestTag: '2026.9.6',
      updateAvailable: false,
    });
    expect((await panelGet(port, '/api/update/check?target=nope')).status).toBe(400);

    panel.kill('SIGTERM');
    const code = await new Promise((resolve) => panel.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  });

  it('fails visibly without a usable config', async () => {
    const server = join(__dirname, '../../lab/panel-app/src/server.js');
    const none = await run(process.execPath, [server], { env: { PATH: process.env.PATH } });
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('PANEL_CONFIG_PATH is not set');
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{"panel": ');
    const broken = await run(process.execPath, [server], { env: { PATH: process.env.PATH, PANEL_CONFIG_PATH: bad } });
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toContain(`config ${bad} is not valid JSON`);
    // the real panel's schema: a Docker-era null or a port as a string stops it at start
    const mistyped = join(tmp, 'mistyped.json');
    writeFileSync(mistyped, JSON.stringify({ panel: { listen_port: '18080' }, update: { github_token: null } }));
    const refused = await run(process.execPath, [server], {
      env: { PATH: process.env.PATH, PANEL_CONFIG_PATH: mistyped },
    });
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain(
      `config ${mistyped}: panel.listen_port must be a positive integer, got "18080"; ` +
        'update.github_token must be a string, got null',
    );
  });
});
