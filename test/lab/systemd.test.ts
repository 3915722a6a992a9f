import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  expandExecArgs,
  formatRelative,
  formatTimespan,
  parseEnvFile,
  parseExecLine,
  parseIni,
  parseSystemctlArgs,
  parseTimespan,
  splitWords,
} from '../../lab/guest/systemd';
import { readEntries } from '../../lab/guest/systemd/journal';
import { LabPaths } from '../../lab/guest/systemd/paths';
import { callDaemon, defaultOptions } from '../../lab/guest/systemd/protocol';
import { bundleTools } from '../../lab/lab';
import { freePort } from '../../lab/shared/net';
import { execResult, type ExecResult } from '../support/exec';
import { httpGet } from '../support/net';
import { waitFor } from '../support/wait';

/*
 * The lab's systemd stand-in, driven the way a migration drives it: a real daemon on a temp LAB_ROOT, real unit
 * files, the systemctl/journalctl front ends as separate processes, and assertions on processes, ports and files.
 */

const NOBODY = 65534;
let root: string;
let bundle: string;
let daemon: ChildProcess | undefined;
const spawnedPids = new Set<number>();

function run(tool: 'systemctl' | 'journalctl', ...args: string[]): Promise<ExecResult> {
  return execResult(process.execPath, [bundle, tool, ...args], { env: { ...process.env, LAB_ROOT: root } });
}
const ctl = (...args: string[]) => run('systemctl', ...args);
const journal = (...args: string[]) => run('journalctl', ...args);

/**
 * Polling goes straight to the daemon's socket (the same request the front end sends) instead of starting a
 * systemctl process every 30 ms; every asserted output comes from the real front end above.
 */
async function query(verb: string, ...args: string[]): Promise<string> {
  const opts = { ...defaultOptions(), value: verb === 'show' };
  if (verb === 'show') opts.properties = [args.shift() as string];
  const res = await callDaemon(new LabPaths(root).socket, { verb, args, opts, uid: 0 });
  return res ? res.out.join('\n') : '';
}

async function mainPid(unit: string): Promise<number> {
  const pid = Number(await query('show', 'MainPID', unit));
  if (pid > 0) spawnedPids.add(pid);
  return pid;
}

/** The messages journaled for a unit (journalctl -o cat), read from the journal files. */
const messages = (unit: string) =>
  readEntries(new LabPaths(root), [unit])
    .map((e) => e.m)
    .join('\n');

function writeUnit(name: string, text: string): void {
  fs.writeFileSync(path.join(root, 'etc/systemd/system', name), text.replace(/^\n/, ''));
}

/** The body a unit's web server answers on /, or undefined when nothing answers within 1 s. */
const httpBody = (port: number): Promise<string | undefined> =>
  httpGet(port, '/', 1000).then(
    (answer) => answer.body,
    () => undefined,
  );

function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

async function startDaemon(): Promise<void> {
  const child = spawn(process.execPath, [bundle, 'daemon'], {
    env: { ...process.env, LAB_ROOT: root, LAB_SYSTEMD_DEFAULT_TIMEOUT_STOP_SEC: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  daemon = child;
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('ready')) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    child.once('exit', (code) => reject(new Error(`daemon exited (${code}): ${log}`)));
  });
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-systemd-'));
  fs.chmodSync(root, 0o755);
  for (const d of ['etc/systemd/system', 'srv/web', 'run', 'var/log'])
    fs.mkdirSync(path.join(root, d), { recursive: true });
  // a non-root user of the guest that maps to a real uid here (nobody), with a supplementary group
  fs.writeFileSync(
    path.join(root, 'etc/passwd'),
    `root:x:0:0:root:/root:/bin/bash\nlabuser:x:${NOBODY}:${NOBODY}:Lab User:/home/labuser:/bin/sh\n`,
  );
  fs.writeFileSync(path.join(root, 'etc/group'), `root:x:0:\nlabuser:x:${NOBODY}:\nlabgrp:x:4242:labuser\n`);
  await bundleTools(root, ['systemd']);
  bundle = path.join(root, 'systemd.js');
});

afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon?.once('exit', r));
    daemon.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 8000)))]);
    clearTimeout(timer);
  }
  for (const pid of spawnedPids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

describe('unit file syntax', () => {
  test('words, quotes and escapes split like systemd', () => {
    expect(splitWords(`/usr/bin/node -e "a b" 'c d' e\\ f "x\\"y"`)).toEqual([
      '/usr/bin/node',
      '-e',
      'a b',
      'c d',
      'e f',
      'x"y',
    ]);
    expect(() => splitWords('"open')).toThrow();
  });

  test('exec lines: prefixes, absolute path or bare name, variable expansion', () => {
    const pre = parseExecLine('-/bin/sh -c "exit 1"').cmd;
    expect(pre).toMatchObject({ path: '/bin/sh', ignoreFailure: true, argv: ['/bin/sh', '-c', 'exit 1'] });
    expect(parseExecLine('node server.js').cmd?.path).toBe('node');
    expect(parseExecLine('dist/index.js').error).toMatch(/Neither a valid executable name nor an absolute path/);
    expect(expandExecArgs(['/bin/echo', '$A', '${B}x', '$$C'], { A: 'one two', B: 'b' })).toEqual([
      '/bin/echo',
      'one',
      'two',
      'bx',
      '$C',
    ]);
  });

  test('continuation lines, comments and sections', () => {
    const entries = parseIni(
      '[Service]\n# c\nExecStart=/bin/echo a \\\n  b\nUser = svc\n',
      'x.service',
      () => undefined,
    );
    expect(entries.map((e) => [e.key, e.value])).toEqual([
      ['ExecStart', '/bin/echo a  b'],
      ['User', 'svc'],
    ]);
  });

  test('environment files and time spans', () => {
    const env = parseEnvFile('# c\nA=1\nB="two words"\nC=\'single $x\'\n  D = spaced  \nbad-name=1\n', () => undefined);
    expect(env).toEqual([
      ['A', '1'],
      ['B', 'two words'],
      ['C', 'single $x'],
      ['D', 'spaced'],
    ]);
    expect(parseTimespan('100ms')).toBe(100_000);
    expect(parseTimespan('1min 30s')).toBe(90_000_000);
    expect(parseTimespan('3')).toBe(3_000_000);
    expect(parseTimespan('infinity')).toBe(Infinity);
    expect(formatTimespan(90_000_000)).toBe('1min 30s');
    expect(formatTimespan(1_234_000)).toBe('1.234s');
    expect(formatRelative(Date.now() - 65_000)).toBe('1min 5s ago');
  });

  test('systemctl command lines parse like getopt', () => {
    expect(parseSystemctlArgs(['enable', '--now', 'web'])).toMatchObject({ verb: 'enable', args: ['web'] });
    expect(parseSystemctlArgs(['-P', 'MainPID', 'show', 'web'])).toMatchObject({
      verb: 'show',
      opts: { value: true, properties: ['MainPID'] },
    });
    expect(parseSystemctlArgs(['frobnicate'])).toMatchObject({ exit: 1 });
    expect(parseSystemctlArgs(['start'])).toMatchObject({ exit: 1, err: 'Too few arguments.' });
  });
});

describe('the lab systemd on a temp LAB_ROOT', () => {
  let bootPort: number;
  let webPort: number;

  test('without the daemon, systemctl fails like in a container, while unit-file verbs still work', async () => {
    bootPort = await freePort();
    writeUnit(
      'boot.service',
      `
[Unit]
Description=Enabled before boot

[Service]
ExecStart=/usr/bin/node -e "require('http').createServer((q,s)=>s.end('booted')).listen(${bootPort},'127.0.0.1')"

[Install]
WantedBy=multi-user.target
`,
    );
    for (const verb of [['start', 'boot'], ['is-active', 'boot'], ['daemon-reload']]) {
      const r = await ctl(...verb);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n",
      );
    }
    const en = await ctl('enable', 'boot');
    expect(en.code).toBe(0);
    expect(en.stderr.trim()).toBe(
      'Created symlink /etc/systemd/system/multi-user.target.wants/boot.service → /etc/systemd/system/boot.service.',
    );
  });

  test('the daemon starts every enabled unit at boot', async () => {
    await startDaemon();
    expect(fs.existsSync(path.join(root, 'run/systemd/lab.sock'))).toBe(true);
    expect(await waitFor('the boot unit to answer', () => httpBody(bootPort))).toBe('booted');
    const active = await ctl('is-active', 'boot.service');
    expect(active).toMatchObject({ code: 0, stdout: 'active\n' });
    await mainPid('boot');
  });

  test('enable --now: symlink, a running service with its user, groups, environment and working directory', async () => {
    webPort = await freePort();
    fs.writeFileSync(
      path.join(root, 'srv/web/server.js'),
      `const http = require('http');
http.createServer((q, s) => s.end(JSON.stringify({ pid: process.pid, uid: process.getuid(), cwd: process.cwd(), env: process.env })))
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`,
    );
    fs.writeFileSync(path.join(root, 'etc/web.env'), '# from the file\nFROM_FILE="quoted value"\nMODE=from-file\n');
    writeUnit(
      'web.service',
      `
[Unit]
Description=Lab web service
After=network.target

[Service]
Type=simple
User=labuser
WorkingDirectory=${root}/srv/web
Environment="GREETING=hello world" MODE=test
Environment=PORT=${webPort}
EnvironmentFile=${root}/etc/web.env
EnvironmentFile=-${root}/etc/missing.env
ExecStartPre=/bin/sh -c 'echo pre-check ok'
ExecStart=/usr/bin/node ${root}/srv/web/server.js
Restart=always
RestartSec=2s
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=tmpfs
ReadWritePaths=${root}/srv/web
PrivateTmp=true

[Install]
WantedBy=multi-user.target
`,
    );
    expect((await ctl('daemon-reload')).code).toBe(0);
    const en = await ctl('enable', '--now', 'web');
    expect(en.code).toBe(0);
    expect(en.stderr).toContain(
      'Created symlink /etc/systemd/system/multi-user.target.wants/web.service → /etc/systemd/system/web.service.',
    );
    expect(fs.readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/web.service'))).toBe(
      '/etc/systemd/system/web.service',
    );
    expect(await ctl('is-enabled', 'web')).toMatchObject({ code: 0, stdout: 'enabled\n' });
    expect(await ctl('is-active', 'web')).toMatchObject({ code: 0, stdout: 'active\n' });

    const body = JSON.parse(await waitFor('web to answer', () => httpBody(webPort)));
    const pid = await mainPid('web');
    expect(body.pid).toBe(pid);
    expect(body.uid).toBe(NOBODY);
    expect(body.cwd).toBe(path.join(root, 'srv/web'));
    expect(body.env).toMatchObject({
      GREETING: 'hello world',
      MODE: 'from-file',
      FROM_FILE: 'quoted value',
      PORT: String(webPort),
      HOME: '/home/labuser',
      USER: 'labuser',
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    });
    expect(body.env.LAB_ROOT).toBeUndefined();

    const st = procStatus(pid);
    expect(st.Uid.split(/\s+/)).toEqual(Array(4).fill(String(NOBODY)));
    expect(st.Gid.split(/\s+/)[0]).toBe(String(NOBODY));
    expect(st.Groups.split(/\s+/)).toContain('4242');
    expect(st.NoNewPrivs).toBe('1');
  });

  test('enable --now on a running unit changes nothing; start is a no-op; restart restarts', async () => {
    const before = await mainPid('web');
    const again = await ctl('enable', '--now', 'web');
    expect(again).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await mainPid('web')).toBe(before);
    expect((await ctl('start', 'web.service')).code).toBe(0);
    expect(await mainPid('web')).toBe(before);

    expect((await ctl('restart', 'web')).code).toBe(0);
    const after = await mainPid('web');
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(JSON.parse(await waitFor('web after restart', () => httpBody(webPort))).pid).toBe(after);
  });

  test('status and journalctl look like systemd’s', async () => {
    const pid = await mainPid('web');
    const st = await ctl('status', 'web');
    expect(st.code).toBe(0);
    const lines = st.stdout.split('\n');
    expect(lines[0]).toBe('● web.service - Lab web service');
    expect(lines[1]).toBe('     Loaded: loaded (/etc/systemd/system/web.service; enabled; preset: enabled)');
    expect(lines[2]).toMatch(/^ {5}Active: active \(running\) since \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+; .+ ago$/);
    expect(st.stdout).toMatch(
      / {4}Process: \d+ ExecStartPre=\/bin\/sh -c echo pre-check ok \(code=exited, status=0\/SUCCESS\)/,
    );
    expect(st.stdout).toContain(`   Main PID: ${pid} (node)`);
    expect(st.stdout).toContain('     CGroup: /system.slice/web.service');
    expect(st.stdout).toMatch(/systemd\[1\]: Started web\.service - Lab web service\./);

    const j = await journal('-u', 'web', '--no-pager');
    expect(j.code).toBe(0);
    expect(j.stdout).toMatch(
      new RegExp(`^\\w{3} \\d{2} \\d\\d:\\d\\d:\\d\\d \\S+ node\\[${pid}\\]: listening on ${webPort}$`, 'm'),
    );
    expect(j.stdout).toMatch(/ sh\[\d+\]: pre-check ok$/m);
    expect(j.stdout).toMatch(/ systemd\[1\]: Starting web\.service - Lab web service\.\.\.$/m);
    const last = await journal('-u', 'web.service', '-n', '1', '--no-pager');
    expect(last.stdout.trim().split('\n')).toHaveLength(1);
    expect((await journal('-u', 'never-heard-of')).stdout).toBe('-- No entries --\n');
  });

  test('a changed unit file is not used before daemon-reload, and systemctl warns', async () => {
    const file = path.join(root, 'etc/systemd/system/web.service');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('GREETING=hello world', 'GREETING=reloaded'));
    const r = await ctl('restart', 'web');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "Warning: The unit file, source configuration file or drop-ins of web.service changed on disk. Run 'systemctl daemon-reload' to reload units.",
    );
    expect(JSON.parse(await waitFor('web', () => httpBody(webPort))).env.GREETING).toBe('hello world');
    expect((await ctl('show', '-p', 'NeedDaemonReload', 'web')).stdout).toBe('NeedDaemonReload=yes\n');

    expect(await ctl('daemon-reload')).toMatchObject({ code: 0, stderr: '' });
    const r2 = await ctl('restart', 'web');
    expect(r2).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(await waitFor('web', () => httpBody(webPort))).env.GREETING).toBe('reloaded');
  });

  // RestartSec=2s: the window between the kill and the restart must outlast two systemctl calls on a busy machine
  test('Restart=always brings a killed process back with a new pid, activating in between', async () => {
    const before = await mainPid('web');
    process.kill(before, 'SIGKILL');
    await waitFor('auto-restart', async () => (await query('show', 'SubState', 'web')) === 'auto-restart');
    expect(await ctl('is-active', 'web')).toMatchObject({ code: 3, stdout: 'activating\n' });
    const after = await waitFor('a new main pid', async () => {
      const p = await mainPid('web');
      return p > 0 && p !== before ? p : undefined;
    });
    expect(JSON.parse(await waitFor('web back', () => httpBody(webPort))).pid).toBe(after);
    const j = (await journal('-u', 'web', '--no-pager')).stdout;
    expect(j).toContain('web.service: Main process exited, code=killed, status=9/KILL');
    expect(j).toMatch(/web\.service: Scheduled restart job, restart counter is at 1\./);
    expect((await ctl('show', '-p', 'NRestarts', '--value', 'web')).stdout.trim()).toBe('1');
  });

  test('stop kills the whole process group, closes the port and does not restart', async () => {
    const pid = await mainPid('web');
    const r = await ctl('stop', 'web');
    expect(r.code).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(await httpBody(webPort)).toBeUndefined();
    expect(await ctl('is-active', 'web')).toMatchObject({ code: 3, stdout: 'inactive\n' });
    const st = await ctl('status', 'web');
    expect(st.code).toBe(3);
    expect(st.stdout).toMatch(/Active: inactive \(dead\) since /);
    expect(st.stdout).toContain(`Main PID: ${pid} (code=killed, signal=TERM)`);

    writeUnit(
      'family.service',
      `
[Service]
ExecStart=/bin/sh -c 'sleep 300 & echo child $! ; wait'
`,
    );
    expect((await ctl('start', 'family')).code).toBe(0);
    const childLine = await waitFor('the child pid', async () => {
      const m = /child (\d+)/.exec(messages('family.service'));
      return m ? Number(m[1]) : undefined;
    });
    spawnedPids.add(await mainPid('family'));
    expect(alive(childLine)).toBe(true);
    expect((await ctl('stop', 'family')).code).toBe(0);
    expect(alive(childLine)).toBe(false);
  });

  test('a process that ignores SIGTERM is killed after TimeoutStopSec', async () => {
    writeUnit(
      'stubborn.service',
      `
[Service]
ExecStart=/bin/sh -c 'trap "" TERM; echo ready; while :; do sleep 0.05; done'
TimeoutStopSec=500ms
`,
    );
    expect((await ctl('start', 'stubborn')).code).toBe(0);
    const pid = await mainPid('stubborn');
    await waitFor('ready', async () => messages('stubborn.service').includes('ready'));
    const t0 = Date.now();
    expect((await ctl('stop', 'stubborn')).code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(alive(pid)).toBe(false);
    expect(await ctl('is-active', 'stubborn')).toMatchObject({ code: 3, stdout: 'failed\n' });
    const j = (await journal('-u', 'stubborn', '-o', 'cat')).stdout;
    expect(j).toContain("stubborn.service: State 'stop-sigterm' timed out. Killing.");
    expect(j).toContain(`stubborn.service: Killing process ${pid} (sh) with signal SIGKILL.`);
    expect(j).toContain("stubborn.service: Failed with result 'timeout'.");
  });

  test('a failing ExecStartPre fails the start; a "-" prefix ignores the failure', async () => {
    writeUnit(
      'precheck.service',
      `
[Unit]
Description=Pre-check

[Service]
ExecStartPre=-/bin/false
ExecStartPre=/bin/sh -c 'echo config invalid; exit 3'
ExecStart=/bin/sleep 300
`,
    );
    const r = await ctl('start', 'precheck');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Job for precheck.service failed because the control process exited with error code.\n' +
        'See "systemctl status precheck.service" and "journalctl -xeu precheck.service" for details.\n',
    );
    expect(await ctl('is-active', 'precheck')).toMatchObject({ code: 3, stdout: 'failed\n' });
    const st = await ctl('status', 'precheck');
    expect(st.stdout).toContain('Active: failed (Result: exit-code)');
    expect(st.stdout).toMatch(
      /Process: \d+ ExecStartPre=\/bin\/sh -c echo config invalid; exit 3 \(code=exited, status=3\/NOTIMPLEMENTED\)/,
    );
    expect(st.stdout).not.toContain('Main PID');
    const j = (await journal('-u', 'precheck', '-o', 'cat')).stdout;
    expect(j).toContain('precheck.service: Control process exited, code=exited, status=3/NOTIMPLEMENTED');
    expect(j).toContain('Failed to start precheck.service - Pre-check.');
  });

  test('a missing ExecStart binary fails the unit with 203/EXEC', async () => {
    writeUnit(
      'badexec.service',
      `
[Service]
ExecStart=/usr/local/bin/not-installed --serve
`,
    );
    // Type=simple: the start job succeeds at fork, the failure comes right after
    expect((await ctl('start', 'badexec')).code).toBe(0);
    await waitFor('failed', async () => (await query('is-active', 'badexec')) === 'failed');
    const st = await ctl('status', 'badexec');
    expect(st.code).toBe(3);
    expect(st.stdout).toMatch(/Main PID: \d+ \(code=exited, status=203\/EXEC\)/);
    const j = (await journal('-u', 'badexec', '--no-pager')).stdout;
    expect(j).toMatch(
      /systemd\[\d+\]: badexec\.service: Failed to locate executable \/usr\/local\/bin\/not-installed: No such file or directory/,
    );
    expect(j).toContain('badexec.service: Main process exited, code=exited, status=203/EXEC');
    expect(j).toContain("badexec.service: Failed with result 'exit-code'.");
  });

  test('a crash loop ends in failed (start-limit-hit)', async () => {
    writeUnit(
      'crashy.service',
      `
[Service]
ExecStart=/bin/sh -c 'echo crashing; exit 2'
Restart=always
RestartSec=50ms
`,
    );
    expect((await ctl('start', 'crashy')).code).toBe(0);
    await waitFor('failed', async () => (await query('is-active', 'crashy')) === 'failed');
    expect((await ctl('show', '-p', 'Result', '-p', 'NRestarts', 'crashy')).stdout).toBe(
      'Result=start-limit-hit\nNRestarts=5\n',
    );
    const j = (await journal('-u', 'crashy', '-o', 'cat')).stdout;
    expect(j.match(/^crashing$/gm)).toHaveLength(5);
    expect(j).toContain('crashy.service: Start request repeated too quickly.');
    const again = await ctl('start', 'crashy');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      'Job for crashy.service failed because start of the service was attempted too often.',
    );
    expect((await ctl('reset-failed', 'crashy')).code).toBe(0);
    expect((await ctl('is-active', 'crashy')).stdout).toBe('inactive\n');
  });

  test('unknown units, disable, and is-enabled exit codes', async () => {
    expect(await ctl('start', 'ghost')).toMatchObject({
      code: 5,
      stderr: 'Failed to start ghost.service: Unit ghost.service not found.\n',
    });
    expect(await ctl('status', 'ghost')).toMatchObject({ code: 4, stderr: 'Unit ghost.service could not be found.\n' });
    expect(await ctl('is-active', 'ghost')).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect((await ctl('is-enabled', 'ghost')).code).toBe(1);
    expect(await ctl('is-enabled', 'family')).toMatchObject({ code: 0, stdout: 'static\n' });

    const dis = await ctl('disable', '--now', 'boot');
    expect(dis.code).toBe(0);
    expect(dis.stderr).toContain('Removed "/etc/systemd/system/multi-user.target.wants/boot.service".');
    expect(fs.existsSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/boot.service'))).toBe(false);
    expect(await ctl('is-enabled', 'boot')).toMatchObject({ code: 1, stdout: 'disabled\n' });
    expect(await ctl('is-active', 'boot')).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect(await httpBody(bootPort)).toBeUndefined();
  });
});
