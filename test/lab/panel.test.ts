import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preparePanelDeps } from '../../lab/panel-deps';
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
/** The release as §5.7 deployed it, with its node_modules */
let appDir: string;
/** where the fake openclaw is */
let bin: string;
const children: ChildProcess[] = [];

const run = (cmd: string, args: string[], opts: ExecOptions = {}) =>
  execResult(cmd, args, { ...opts, timeout: 120_000 });

/** The panel's pages, each given up to 20 s. */
const panelGet = (port: number, path: string) => httpGet(port, path, 20_000);

/** SOP §5.7 as written, with the release base URL and APP_DIR as parameters and npm told to stay offline (its cache
 * holds the lock's tarballs). */
const deployPanel = deployPanelScript({ appDir: '$4', npmOffline: true, printTop: true });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lab-panel-'));
  socketPath = join(tmp, 'run', 'release.sock');
  server = await startReleaseServer({ host: '127.0.0.1', port: 0, socketPath, releases: [{ repo: REPO, tag: TAG }] });
  // the panel's dependencies: from the npm registry once per machine, offline after (lab/panel-deps.ts)
  const deps = await preparePanelDeps();
  appDir = join(tmp, 'opt', 'openclaw-panel');
  const deploy = await run('bash', ['-c', deployPanel, 'sop', TAG, REPO, server.url as string, appDir], {
    env: { ...process.env, npm_config_cache: deps.npmCache },
  });
  expect(deploy.stderr).not.toMatch(/ERR!/);
  expect(deploy.code).toBe(0);
  expect(deploy.stdout).toMatch(/^top:Bianshumeng-openclaw-panel-public-[0-9a-f]{7}$/m);
  // A fake openclaw on PATH: its --version prints what the real one prints; its update status finds no network.
  bin = join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'openclaw'),
    '#!/bin/sh\n[ "$1" = --version ] && exec echo "OpenClaw 2026.9.6 (eb377ac)"\necho "openclaw $*: no network" >&2\nexit 1\n',
  );
  chmodSync(join(bin, 'openclaw'), 0o755);
}, 300_000);

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
  /** Starts the deployed panel; resolves once it answers, with its output so far. */
  async function startPanel(env: NodeJS.ProcessEnv, port: number) {
    // GitHub's API on a loopback port nothing listens on: out of reach, as in a guest, and nothing leaves the machine
    const githubApi = `http://127.0.0.1:${await freePort()}`;
    const panel = spawn(process.execPath, ['src/server.js'], {
      cwd: appDir,
      env: { PATH: `${bin}:${process.env.PATH}`, OPENCLAW_LAB_GITHUB_API: githubApi, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(panel);
    const output = { log: '' };
    panel.stdout?.on('data', (d: Buffer) => (output.log += d.toString()));
    panel.stderr?.on('data', (d: Buffer) => (output.log += d.toString()));
    await waitFor('the panel to answer', () => panelGet(port, '/api/health').catch(() => undefined), 15_000);
    return { panel, output };
  }

  it('deploys as §5.7 does (npm install of its real dependencies, offline from the cache), serves / and both update checks', async () => {
    expect(readdirSync(appDir).sort()).toEqual([
      '.panel-release.json',
      'node_modules',
      'package-lock.json',
      'package.json',
      'public',
      'src',
    ]);
    expect(readdirSync(join(appDir, 'node_modules')).sort()).toEqual(
      expect.arrayContaining(['@fastify', '@shoelace-style', 'fastify', 'ws', 'zod']),
    );

    const port = await freePort();
    const configPath = join(tmp, 'etc', 'panel.config.json');
    mkdirSync(join(tmp, 'etc'), { recursive: true });
    const openclawConfig = join(tmp, 'openclaw.json');
    writeFileSync(openclawConfig, '{}\n', { mode: 0o644 });
    writeFileSync(
      configPath,
      JSON.stringify({
        runtime: { mode: 'docker' },
        panel: { listen_host: '127.0.0.1', listen_port: port },
        openclaw: { config_path: openclawConfig, gateway_port: await freePort() },
        docker: { enabled: true, gateway_container: 'openclaw-gateway' },
        log: { source: 'docker' },
        update: { panel_release_repo: REPO, bot_release_repo: 'openclaw/openclaw', panel_app_dir: appDir },
      }),
    );
    const { panel, output } = await startPanel({ PANEL_CONFIG_PATH: configPath }, port);
    expect(output.log).toContain(`OpenClaw panel listening on http://127.0.0.1:${port}`);
    // as the release does at start: the OpenClaw config is made 600
    expect(statSync(openclawConfig).mode & 0o777).toBe(0o600);

    const home = await panelGet(port, '/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('<title>OpenClaw');
    expect(home.body).toContain('src="/shoelace/shoelace-autoloader.js"');
    // shoelace from node_modules, as the release serves it
    const shoelace = await panelGet(port, '/shoelace/shoelace-autoloader.js');
    expect([shoelace.status, shoelace.body]).toEqual([200, expect.stringContaining('customElements')]);
    expect(JSON.parse((await panelGet(port, '/api/health')).body)).toEqual({
      ok: true,
      service: 'openclaw-panel',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    // the release's answers: GitHub is out of reach, so no latestTag and a warning
    expect(JSON.parse((await panelGet(port, '/api/update/check?target=panel')).body)).toEqual({
      ok: true,
      result: {
        ok: true,
        currentTag: TAG,
        latestTag: '',
        latestPublishedAt: null,
        releaseRepo: REPO,
        updateAvailable: false,
        warning: expect.any(String),
        target: 'panel',
        upgradeMode: 'staged-apply',
      },
    });
    const bot = {
      ok: true,
      result: {
        ok: true,
        currentTag: '2026.9.6',
        latestTag: '',
        updateAvailable: false,
        warning: 'openclaw update status: no network',
        installMethod: 'global',
        strategy: 'package-manager',
        releaseRepo: 'openclaw/openclaw',
        target: 'bot',
        upgradeMode: 'direct',
      },
    };
    expect(JSON.parse((await panelGet(port, '/api/update/check?target=bot')).body)).toEqual(bot);
    expect(JSON.parse((await panelGet(port, '/api/update/check')).body)).toEqual(bot);
    const nope = await panelGet(port, '/api/update/check?target=nope');
    expect(nope.status).toBe(400);
    expect(JSON.parse(nope.body)).toEqual({ ok: false, message: expect.stringContaining("Expected 'bot' | 'panel'") });
    const missing = await panelGet(port, '/api/status');
    expect([missing.status, JSON.parse(missing.body)]).toEqual([404, { ok: false, message: 'API not found' }]);

    // the config as it parsed it: defaults filled in, runtime and docker forced to the direct install's, unknown
    // keys dropped
    const { config } = JSON.parse((await panelGet(port, '/api/panel-config')).body);
    expect(config).toMatchObject({
      runtime: { mode: 'systemd' },
      docker: { enabled: false },
      log: { source: 'journal', file_path: '~/.openclaw/logs/gateway.log' },
      reverse_proxy: { enabled: false, gateway_public_port: 18789 },
      update: { github_token: '', panel_service_name: 'openclaw-panel' },
    });

    // a panel that lost its marker reports its package version: acceptance must not take it
    rmSync(join(appDir, '.panel-release.json'));
    const lost = JSON.parse((await panelGet(port, '/api/update/check?target=panel')).body);
    expect(lost.result.currentTag).toBe(`v${JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).version}`);

    panel.kill('SIGTERM');
    const code = await new Promise((resolve) => panel.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  });

  it('starts on the defaults without a config file, and refuses one its schema refuses, naming the key', async () => {
    const port = await freePort();
    const none = join(tmp, 'no-such', 'panel.config.json');
    const { panel } = await startPanel({ PANEL_CONFIG_PATH: none, PANEL_LISTEN_PORT: String(port) }, port);
    expect(JSON.parse((await panelGet(port, '/api/panel-config')).body)).toMatchObject({
      filePath: none,
      config: {
        panel: { listen_host: '127.0.0.1', listen_port: port },
        update: { panel_app_dir: '/opt/openclaw-panel' },
      },
    });
    panel.kill('SIGTERM');

    const refused = async (name: string, text: string) => {
      const file = join(tmp, name);
      writeFileSync(file, text);
      const r = await run(process.execPath, ['src/server.js'], {
        cwd: appDir,
        env: { PATH: process.env.PATH, PANEL_CONFIG_PATH: file },
      });
      return { code: r.code, stderr: r.stderr.trim(), file };
    };
    // a Docker-era null or a port as a string stops it at start, as the release's zod schema does (exit 1)
    const nullToken = await refused('null-token.json', JSON.stringify({ update: { github_token: null } }));
    expect(nullToken).toEqual({
      code: 1,
      stderr: `openclaw-panel: config ${nullToken.file}: update.github_token: Expected string, received null`,
      file: nullToken.file,
    });
    const stringPort = await refused(
      'string-port.json',
      JSON.stringify({ panel: { listen_port: '28080' }, openclaw: { gateway_port: 28789 } }),
    );
    expect(stringPort).toEqual({
      code: 1,
      stderr: `openclaw-panel: config ${stringPort.file}: panel.listen_port: Expected number, received string`,
      file: stringPort.file,
    });
    const broken = await refused('broken.json', '{"panel": ');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`config ${broken.file} is not valid JSON`);
  });
});
