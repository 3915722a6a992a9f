/**
 * The lab's `qm` against the real QEMU guest agent: Debian's qemu-ga, a child process on a unix socket under a temp
 * LAB_ROOT, and qm the esbuild bundle run by node, the way the node runs it. Where a case needs an agent that
 * misbehaves, a fake on the socket answers that one case.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

import { bundleTools } from '../../lab/lab';
import { QM_PVE_FILE, parseVmConfig, perlJsonPretty, pidAlive } from '../../lab/node/qm';
import { connects } from '../../lab/shared/net';
import { JsonStreamSplitter } from '../../lab/shared/qga-protocol';
import { noLabBootsDuringThisFile } from '../support/lab';
import { waitFor } from '../support/wait';

/** Debian's qemu-guest-agent (scripts/setup.sh installs it on the host). */
const QEMU_GA = '/usr/sbin/qemu-ga';
/** qga/commands.c GUEST_EXEC_MAX_OUTPUT: how much of a command's stdout (and of its stderr) qemu-ga keeps. */
const QEMU_GA_MAX_OUTPUT = 16 * 1024 * 1024;
/** The environment of a systemd system service, which qemu-ga's guest-exec children inherit. */
const SERVICE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

let dir: string;
let root: string;
let qmJs: string;
const agents: ChildProcess[] = [];

const runDir = () => join(root, 'var/run/qemu-server');
const sock = (vmid: number) => join(runDir(), `${vmid}.qga`);

function writeConf(vmid: number, body: string): void {
  writeFileSync(join(root, 'etc/pve/qemu-server', `${vmid}.conf`), body);
}

/** a pid that is certainly not alive any more */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

/**
 * The real qemu-ga on vmid's socket, run as its systemd service runs it: from /, in the foreground (so it writes no
 * pid file), with its state file in a directory of its own.
 */
async function startAgent(vmid: number): Promise<ChildProcess> {
  const statedir = join(dir, `qga-state-${vmid}`);
  mkdirSync(statedir, { recursive: true });
  const child = spawn(QEMU_GA, ['--method=unix-listen', `--path=${sock(vmid)}`, `--statedir=${statedir}`], {
    cwd: '/',
    env: SERVICE_ENV,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  agents.push(child);
  await waitFor(`the agent for ${vmid} to come up`, async () => existsSync(sock(vmid)) && (await connects(sock(vmid))));
  return child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  raw: Buffer;
}

function qm(args: string[], opts: { input?: Buffer | string } = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [qmJs, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LAB_ROOT: root, QM_EXEC_POLL_MS: '100' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // qm may stop reading early (the 1 MiB limit)
    child.stdin.end(opts.input);
    child.on('error', rej);
    child.on('close', (code) => {
      const raw = Buffer.concat(out);
      res({ code, stdout: raw.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), raw });
    });
  });
}

/** a raw QGA session: send requests, read the lines the agent answers */
class Raw {
  private readonly sock: Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  constructor(path: string) {
    this.sock = connect(path);
    this.sock.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      this.waiters.splice(0).forEach((w) => w());
    });
    this.sock.on('error', () => undefined);
  }

  send(data: string | Buffer): void {
    this.sock.write(data);
  }

  async line(): Promise<Buffer> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl + 1);
        this.buf = this.buf.subarray(nl + 1);
        return line;
      }
      if (Date.now() > deadline) throw new Error('no answer from the agent');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async call(request: unknown): Promise<Record<string, unknown>> {
    this.send(JSON.stringify(request) + '\n');
    return JSON.parse((await this.line()).toString('utf8'));
  }

  close(): void {
    this.sock.destroy();
  }
}

async function withRaw<T>(vmid: number, fn: (raw: Raw) => Promise<T>): Promise<T> {
  const raw = new Raw(sock(vmid));
  try {
    return await fn(raw);
  } finally {
    raw.close();
  }
}

/** polls `qm guest exec-status` until the process is reported finished */
async function execStatusUntilExited(vmid: number, pid: number): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await waitFor(`pid ${pid} to finish`, async () => {
    const r = await qm(['guest', 'exec-status', String(vmid), String(pid)]);
    expect(r.code).toBe(0);
    last = JSON.parse(r.stdout);
    return last.exited === 1;
  });
  return last;
}

noLabBootsDuringThisFile();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qm-test-'));
  root = join(dir, 'root');
  mkdirSync(join(root, 'etc/pve/qemu-server'), { recursive: true });
  mkdirSync(runDir(), { recursive: true });
  qmJs = join(dir, 'qm.js');
  await bundleTools(dir, ['qm']);
  const live = String(process.pid);
  // 100: running, agent up. 101: stopped. 102: running, agent configured but not started.
  // 103: running, no agent configured.
  writeConf(100, 'agent: enabled=1\nname: guest100\nmemory: 1024\ncores: 2\n');
  writeConf(101, 'agent: 1\nname: guest101\n');
  writeConf(102, 'agent: 1\nname: guest102\n');
  writeConf(103, 'name: guest103\n');
  writeFileSync(join(runDir(), '100.pid'), `${live}\n`);
  writeFileSync(join(runDir(), '101.pid'), `${deadPid()}\n`);
  writeFileSync(join(runDir(), '102.pid'), `${live}\n`);
  writeFileSync(join(runDir(), '103.pid'), `${live}\n`);
});

afterAll(() => {
  for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('formats and parsers', () => {
  test('Perl JSON pretty+canonical: 3-space indent, "key" : value, sorted keys', () => {
    expect(perlJsonPretty({ pid: 5 })).toBe('{\n   "pid" : 5\n}\n');
    expect(perlJsonPretty({ 'out-data': 'a\n', exited: 1, exitcode: 0, e: {}, l: [1, { b: 2 }] })).toBe(
      '{\n   "e" : {},\n   "exitcode" : 0,\n   "exited" : 1,\n   "l" : [\n      1,\n      {\n         "b" : 2\n      }\n   ],\n   "out-data" : "a\\n"\n}\n',
    );
  });

  test('the stream splitter (0xFF resets a half-read text)', () => {
    const s = new JsonStreamSplitter();
    expect(s.push(Buffer.from('{"execute":"guest-pi'))).toEqual([]);
    expect(s.push(Buffer.from([0xff]))).toEqual([]);
    expect(s.push(Buffer.from('{"execute":"a","arguments":{"x":"}{"}}{"execute":"b"}\n'))).toEqual([
      '{"execute":"a","arguments":{"x":"}{"}}',
      '{"execute":"b"}',
    ]);
  });

  test('vm config: the main section’s keys; snapshots and pending changes (sections) are not the VM’s', () => {
    const raw = 'memory: 1024\nname: a\n\n[PENDING]\nmemory: 2048\n\n[before]\nname: b\n';
    expect(parseVmConfig(raw)).toEqual({ memory: '1024', name: 'a' });
  });

  test('a VM runs while the pid in its pid file is alive', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(deadPid())).toBe(false);
  });
});

describe('the guest agent protocol', () => {
  beforeAll(async () => {
    await startAgent(100);
  });

  test('ping, sync-delimited with its 0xFF sentinel, ids echoed, errors as qemu-ga words them', async () => {
    await withRaw(100, async (raw) => {
      expect(await raw.call({ execute: 'guest-ping' })).toEqual({ return: {} });
      raw.send(
        Buffer.concat([Buffer.from([0xff]), Buffer.from('{"execute":"guest-sync-delimited","arguments":{"id":4711}}')]),
      );
      // the client's 0xFF resets the agent's parser as invalid UTF-8 and earns a parse error, which a client
      // discards with everything else before the agent's own 0xFF
      expect(JSON.parse((await raw.line()).toString('utf8'))).toMatchObject({
        error: { class: 'GenericError', desc: expect.stringMatching(/^JSON parse error/) },
      });
      expect((await raw.line()).equals(Buffer.concat([Buffer.from([0xff]), Buffer.from('{"return": 4711}\n')]))).toBe(
        true,
      );
      expect(await raw.call({ execute: 'guest-ping', id: 'x1' })).toEqual({ return: {}, id: 'x1' });
      expect(await raw.call({ execute: 'guest-frobnicate' })).toEqual({
        error: { class: 'CommandNotFound', desc: 'The command guest-frobnicate has not been found' },
      });
      expect(await raw.call({ execute: 'guest-exec-status', arguments: { pid: 999999 } })).toEqual({
        error: { class: 'GenericError', desc: "Invalid parameter 'pid'" },
      });
      expect(await raw.call({ execute: 'guest-exec', arguments: {} })).toEqual({
        error: { class: 'GenericError', desc: "Parameter 'path' is missing" },
      });
    });
  });

  test('exec-status: exited:false while running, the finished status once, then the pid is forgotten', async () => {
    await withRaw(100, async (raw) => {
      const started = await raw.call({
        execute: 'guest-exec',
        arguments: {
          path: '/bin/bash',
          arg: ['-c', 'read x; echo "got $x"; echo oops >&2; exit 4'],
          'input-data': Buffer.from('ping\n').toString('base64'),
          'capture-output': true,
        },
      });
      const pid = (started.return as { pid: number }).pid;
      expect(pid).toBeGreaterThan(0);
      let status: Record<string, unknown> = {};
      await waitFor('exit', async () => {
        status = (await raw.call({ execute: 'guest-exec-status', arguments: { pid } })).return as Record<
          string,
          unknown
        >;
        if (!status.exited) expect(status).toEqual({ exited: false });
        return status.exited === true;
      });
      expect(status).toEqual({
        exited: true,
        exitcode: 4,
        'out-data': Buffer.from('got ping\n').toString('base64'),
        'err-data': Buffer.from('oops\n').toString('base64'),
        // qemu-ga 7.2.20 and later tell for each stream with output whether it was cut
        'out-truncated': false,
        'err-truncated': false,
      });
      expect(await raw.call({ execute: 'guest-exec-status', arguments: { pid } })).toEqual({
        error: { class: 'GenericError', desc: "Invalid parameter 'pid'" },
      });
    });
  });

  test('not exited until the output pipes close (a background child holding stdout)', async () => {
    await withRaw(100, async (raw) => {
      const started = await raw.call({
        execute: 'guest-exec',
        arguments: { path: '/bin/sh', arg: ['-c', 'sleep 1 & echo parent-done'], 'capture-output': true },
      });
      const pid = (started.return as { pid: number }).pid;
      await waitFor('the shell to exit', () => !pidAlive(pid));
      expect((await raw.call({ execute: 'guest-exec-status', arguments: { pid } })).return).toEqual({ exited: false });
      let status: Record<string, unknown> = {};
      await waitFor('the pipe to close', async () => {
        status = (await raw.call({ execute: 'guest-exec-status', arguments: { pid } })).return as Record<
          string,
          unknown
        >;
        return status.exited === true;
      });
      expect(status).toEqual({
        exited: true,
        exitcode: 0,
        'out-data': Buffer.from('parent-done\n').toString('base64'),
        'out-truncated': false,
      });
    });
  });

  test('a client that disconnects mid-command does not stop the command', async () => {
    const marker = join(dir, 'survived');
    // hang up right after sending, before the agent even answered
    const s = connect(sock(100));
    await new Promise<void>((r) => s.on('connect', () => r()));
    s.write(
      JSON.stringify({
        execute: 'guest-exec',
        arguments: { path: '/bin/sh', arg: ['-c', `sleep 0.3; echo yes > ${marker}`], 'capture-output': true },
      }) + '\n',
    );
    s.destroy();
    // and once more, keeping the pid, to collect the result on a new connection
    const pid = await withRaw(100, async (raw) => {
      const r = await raw.call({
        execute: 'guest-exec',
        arguments: { path: '/bin/sh', arg: ['-c', 'sleep 0.3; echo later'], 'capture-output': true },
      });
      return (r.return as { pid: number }).pid;
    });
    await waitFor('the marker', () => existsSync(marker));
    expect(readFileSync(marker, 'utf8')).toBe('yes\n');
    const done = await execStatusUntilExited(100, pid);
    expect(done).toEqual({ exitcode: 0, exited: 1, 'out-data': 'later\n', 'out-truncated': 0 });
  });
});

describe('qm', () => {
  test('status, config, list', async () => {
    expect(await qm(['status', '100'])).toMatchObject({ code: 0, stdout: 'status: running\n', stderr: '' });
    expect(await qm(['status', '101'])).toMatchObject({ code: 0, stdout: 'status: stopped\n' });
    expect(await qm(['config', '100'])).toMatchObject({
      code: 0,
      stdout: 'agent: enabled=1\ncores: 2\nmemory: 1024\nname: guest100\n',
    });
    const list = await qm(['list']);
    expect(list.stdout.split('\n')[0]).toBe(
      '      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ',
    );
    expect(list.stdout).toContain(`       101 guest101             stopped    512                0.00 0         \n`);
  });

  test('an unknown vmid: the config file error, exit 2', async () => {
    const node = hostname().replace(/\..*$/, '');
    for (const args of [
      ['status', '999'],
      ['config', '999'],
      ['guest', 'exec', '999', '--', 'true'],
    ]) {
      const r = await qm(args);
      expect(r).toMatchObject({
        code: 2,
        stdout: '',
        stderr: `Configuration file 'nodes/${node}/qemu-server/999.conf' does not exist\n`,
      });
    }
  });

  test('usage errors', async () => {
    expect(await qm(['guest', 'exec'])).toMatchObject({
      code: 255,
      stderr: '400 not enough arguments\nqm guest exec <vmid> [<extra-args>] [OPTIONS]\n',
    });
    expect(await qm(['status', '12'])).toMatchObject({
      code: 255,
      stderr:
        '400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\nqm status <vmid>\n',
    });
    expect(await qm(['guest', 'exec', '100', 'ls', '-l'])).toMatchObject({
      code: 255,
      stderr: 'Unknown option: l\n400 unable to parse option\nqm guest exec <vmid> [<extra-args>] [OPTIONS]\n',
    });
    const unknown = await qm(['frob']);
    expect(unknown.code).toBe(255);
    expect(unknown.stderr).toMatch(/^ERROR: unknown command 'qm frob'\nUSAGE: qm <COMMAND> \[ARGS\] \[OPTIONS\]\n/);
    expect((await qm(['guest'])).stderr).toContain("ERROR: incomplete command 'qm guest'");
  });

  test('guest cmd ping: silent exit 0; agent missing, VM stopped, agent not configured', async () => {
    expect(await qm(['guest', 'cmd', '100', 'ping'])).toEqual(
      expect.objectContaining({ code: 0, stdout: '', stderr: '' }),
    );
    expect(await qm(['guest', 'cmd', '102', 'ping'])).toMatchObject({
      code: 255,
      stderr: 'QEMU guest agent is not running\n',
    });
    expect(await qm(['guest', 'cmd', '101', 'ping'])).toMatchObject({ code: 255, stderr: 'VM 101 is not running\n' });
    expect(await qm(['guest', 'cmd', '103', 'ping'])).toMatchObject({
      code: 255,
      stderr: 'No QEMU guest agent configured\n',
    });
    expect(await qm(['guest', 'exec', '101', '--', 'true'])).toMatchObject({
      code: 255,
      stderr: 'VM 101 is not running\n',
    });
  });

  test('synchronous exec: output, exit code, PATH-only environment', async () => {
    const r = await qm([
      'guest',
      'exec',
      '100',
      '--',
      'bash',
      '-c',
      'echo out; echo err >&2; echo "home=${HOME-unset} path=$PATH"; exit 3',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      '{\n   "err-data" : "err\\n",\n   "err-truncated" : 0,\n   "exitcode" : 3,\n   "exited" : 1,\n   "out-data" : "out\\nhome=unset path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\\n",\n   "out-truncated" : 0\n}\n',
    );
    // no output at all: no out-data/err-data (nor their -truncated) keys, as qemu-ga leaves them out
    expect(JSON.parse((await qm(['guest', 'exec', '100', '--', 'true'])).stdout)).toEqual({ exitcode: 0, exited: 1 });
    // killed by a signal: "signal" instead of "exitcode"
    expect(JSON.parse((await qm(['guest', 'exec', '100', '--', 'sh', '-c', 'kill -9 $$'])).stdout)).toEqual({
      exited: 1,
      signal: 9,
    });
  });

  test("non-ASCII output comes out double-encoded, as Perl's to_json(utf8) does with decode_base64's bytes", async () => {
    const r = await qm(['guest', 'exec', '100', '--', 'printf', 'caf\u00e9']);
    expect(r.raw.includes(Buffer.from([0xc3, 0x83, 0xc2, 0xa9]))).toBe(true);
    expect(Buffer.from(JSON.parse(r.stdout)['out-data'], 'latin1').toString('utf8')).toBe('caf\u00e9');
  });

  test('timeout: prints the pid, warns, exits 0; the command goes on and exec-status collects it', async () => {
    const marker = join(dir, 'after-timeout');
    const r = await qm([
      'guest',
      'exec',
      '100',
      '--timeout',
      '1',
      '--',
      'sh',
      '-c',
      `sleep 4; echo late; touch ${marker}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('timeout reached, returning pid\n');
    expect(r.stdout).toMatch(/^\{\n {3}"pid" : \d+\n\}\n$/);
    const pid = JSON.parse(r.stdout).pid as number;
    expect(pidAlive(pid)).toBe(true);
    expect(existsSync(marker)).toBe(false);
    expect(await qm(['guest', 'exec-status', '100', String(pid)])).toMatchObject({
      code: 0,
      stdout: '{\n   "exited" : 0\n}\n',
    });
    const done = await execStatusUntilExited(100, pid);
    expect(done).toEqual({ exitcode: 0, exited: 1, 'out-data': 'late\n', 'out-truncated': 0 });
    expect(existsSync(marker)).toBe(true);
    // reported once: afterwards the agent no longer knows the pid
    expect(await qm(['guest', 'exec-status', '100', String(pid)])).toMatchObject({
      code: 255,
      stderr: "Agent error: Invalid parameter 'pid'\n",
    });
  });

  test('--synchronous 0 returns the pid at once; with --timeout it is a parameter error', async () => {
    const r = await qm(['guest', 'exec', '100', '--synchronous', '0', '--', 'sh', '-c', 'sleep 0.3; echo bg']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const pid = JSON.parse(r.stdout).pid as number;
    expect(await execStatusUntilExited(100, pid)).toEqual({
      exitcode: 0,
      exited: 1,
      'out-data': 'bg\n',
      'out-truncated': 0,
    });

    expect(await qm(['guest', 'exec', '100', '--synchronous', '0', '--timeout', '5', '--', 'true'])).toMatchObject({
      code: 255,
      stdout: '',
      stderr:
        "400 Parameter verification failed.\nsynchronous: needs to be set for 'timeout'\nqm guest exec <vmid> [<extra-args>] [OPTIONS]\n",
    });
  });

  test('--pass-stdin forwards stdin; more than 1 MiB is refused before anything starts', async () => {
    const r = await qm(['guest', 'exec', '100', '--pass-stdin', '1', '--', 'sh', '-c', 'wc -c; true'], {
      input: Buffer.alloc(1024 * 1024, 'a'),
    });
    expect(JSON.parse(r.stdout)).toEqual({ exitcode: 0, exited: 1, 'out-data': '1048576\n', 'out-truncated': 0 });
    expect(
      JSON.parse(
        (await qm(['guest', 'exec', '100', '--pass-stdin', '1', '--', 'tr', 'a-z', 'A-Z'], { input: 'hello\n' }))
          .stdout,
      ),
    ).toEqual({ exitcode: 0, exited: 1, 'out-data': 'HELLO\n', 'out-truncated': 0 });
    // real pipes, as qemu-ga's g_spawn gives: a bash whose stdin is a socket would source ~/.bashrc
    const pipes = await qm(
      [
        'guest',
        'exec',
        '100',
        '--pass-stdin',
        '1',
        '--',
        'sh',
        '-c',
        'cat >/dev/null; [ -p /dev/stdin ] && [ -p /dev/stdout ] && [ -p /dev/stderr ] && echo pipes',
      ],
      { input: 'x' },
    );
    expect(JSON.parse(pipes.stdout)).toEqual({ exitcode: 0, exited: 1, 'out-data': 'pipes\n', 'out-truncated': 0 });

    const marker = join(dir, 'must-not-exist');
    const big = await qm(['guest', 'exec', '100', '--pass-stdin', '1', '--', 'sh', '-c', `touch ${marker}; cat`], {
      input: Buffer.alloc(1024 * 1024 + 1, 'a'),
    });
    expect(big).toMatchObject({
      code: 255,
      stdout: '',
      stderr: "'input-data' (STDIN) is limited to 1 MiB, aborting\n",
    });
    await sleep(200);
    expect(existsSync(marker)).toBe(false);
  });

  test('a command that cannot start: the agent error', async () => {
    expect(await qm(['guest', 'exec', '100', '--', '/no/such/program'])).toMatchObject({
      code: 255,
      stderr:
        "Agent error: Guest agent command failed, error was 'Failed to execute child process \u201c/no/such/program\u201d (No such file or directory)'\n",
    });
    expect(await qm(['guest', 'exec', '100'])).toMatchObject({
      code: 255,
      stderr: 'command or input-data (or both) required\n',
    });
  });

  test('output past 16 MiB is cut and flagged', async () => {
    const r = await qm([
      'guest',
      'exec',
      '100',
      '--',
      'sh',
      '-c',
      `head -c ${QEMU_GA_MAX_OUTPUT + 5000} /dev/zero | tr "\\0" x; echo small >&2`,
    ]);
    const res = JSON.parse(r.stdout);
    expect(res).toEqual({
      exitcode: 0,
      exited: 1,
      'out-data': 'x'.repeat(QEMU_GA_MAX_OUTPUT),
      'out-truncated': 1,
      'err-data': 'small\n',
      'err-truncated': 0,
    });
    expect(r.stdout).toContain('"out-truncated" : 1');
  });

  test('agent killed: QEMU guest agent is not running; stopped: started commands go on', async () => {
    writeConf(105, 'agent: 1\n');
    writeConf(106, 'agent: 1\n');
    writeFileSync(join(runDir(), '105.pid'), `${process.pid}\n`);
    writeFileSync(join(runDir(), '106.pid'), `${process.pid}\n`);

    const killed = await startAgent(105);
    expect((await qm(['guest', 'cmd', '105', 'ping'])).code).toBe(0);
    killed.kill('SIGKILL');
    await once(killed, 'exit');
    expect(existsSync(sock(105))).toBe(true); // a stale socket nobody listens on
    expect(await qm(['guest', 'cmd', '105', 'ping'])).toMatchObject({
      code: 255,
      stderr: 'QEMU guest agent is not running\n',
    });

    const stopped = await startAgent(106);
    const marker = join(dir, 'after-agent-stop');
    const r = await qm(['guest', 'exec', '106', '--synchronous', '0', '--', 'sh', '-c', `sleep 0.4; touch ${marker}`]);
    const pid = JSON.parse(r.stdout).pid as number;
    stopped.kill('SIGTERM');
    await once(stopped, 'exit');
    expect(existsSync(sock(106))).toBe(true); // qemu-ga leaves its socket behind
    expect(pidAlive(pid)).toBe(true);
    await waitFor('the command to finish without its agent', () => existsSync(marker));
    expect(await qm(['guest', 'exec', '106', '--', 'true'])).toMatchObject({
      code: 255,
      stderr: 'QEMU guest agent is not running\n',
    });

    // a fresh agent replaces a stale socket file
    await startAgent(105);
    expect((await qm(['guest', 'cmd', '105', 'ping'])).code).toBe(0);
  });

  /**
   * What a fake agent sends for one command: `sync`, the ids it echoes to qm's guest-sync-delimited (after the 0xFF
   * sentinel; by default the one qm sent), then `answer`, the command's answer as raw text (by default an empty
   * return). Nothing at all (undefined) is an agent that never answers.
   */
  type FakeAnswer = { sync?: number[]; answer?: string } | undefined;

  /**
   * A fake agent on vmid's socket for one misbehaviour the real qemu-ga cannot be made to show here: `reply` is
   * asked for each command qm sends, on each connection (qm pings on one, then sends the command on the next).
   */
  async function fakeAgent(vmid: number, reply: (execute: string, syncId: number, connection: number) => FakeAnswer) {
    writeConf(vmid, 'agent: 1\n');
    writeFileSync(join(runDir(), `${vmid}.pid`), `${process.pid}\n`);
    rmSync(sock(vmid), { force: true });
    let connections = 0;
    const server = createServer((conn) => {
      const connection = connections++;
      const splitter = new JsonStreamSplitter();
      let syncId = 0;
      conn.on('data', (chunk: Buffer) => {
        for (const text of splitter.push(chunk)) {
          const request = JSON.parse(text) as { execute: string; arguments?: { id?: number } };
          if (request.execute === 'guest-sync-delimited') {
            syncId = request.arguments!.id!;
            continue;
          }
          const sent = reply(request.execute, syncId, connection);
          if (!sent) continue;
          const lines = (sent.sync ?? [syncId]).map((id) => `{"return": ${id}}\n`);
          conn.write(
            Buffer.concat([
              Buffer.from([0xff]),
              Buffer.from(lines.join('') + (sent.answer ?? '{"return": {}}') + '\n'),
            ]),
          );
        }
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(sock(vmid), resolve));
    return server;
  }

  /** runs qm against a fake agent on VM 107, which is gone afterwards */
  async function qmWithFakeAgent(args: string[], reply: Parameters<typeof fakeAgent>[1]): Promise<Run> {
    const server = await fakeAgent(107, reply);
    try {
      return await qm(args);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  /** speaks Proxmox VE `pve`'s wording for the length of `fn` */
  async function inPve<T>(pve: '8' | '9', fn: () => Promise<T>): Promise<T> {
    mkdirSync(join(root, 'etc/openclaw-lab'), { recursive: true });
    writeFileSync(join(root, QM_PVE_FILE), `${pve}\n`);
    try {
      return await fn();
    } finally {
      rmSync(join(root, QM_PVE_FILE), { force: true });
    }
  }

  // Answers left over from an earlier client reach the next one on a virtio-serial port (the real agent on a unix
  // socket serves one client at a time, so only a fake shows it).
  test.each(['8', '9'] as const)(
    'Proxmox VE %s: a stale answer on the agent socket is skipped; a newer id is fatal, in that version’s words',
    (pve) =>
      inPve(pve, async () => {
        // an earlier client's answer (a smaller id) first, then this client's: QMPClient skips the stale one
        const stale = await qmWithFakeAgent(['guest', 'cmd', '107', 'ping'], (_, id) => ({ sync: [id - 1, id] }));
        expect(stale).toMatchObject({ code: 0, stderr: '' });
        // the ping's answer right, the command's sync answered with a newer id than it sent: "got wrong command id"
        const r = await qmWithFakeAgent(['guest', 'exec-status', '107', '1'], (_, id, connection) => ({
          sync: [connection === 0 ? id : id + 1],
        }));
        expect(r.code).toBe(255);
        const peer = pve === '8' ? 'qmp' : 'qga';
        expect(r.stderr).toMatch(
          new RegExp(
            `^VM 107 ${peer} command 'guest-exec-status' failed - got wrong command id '\\d+' \\(expected \\d+\\)\\n$`,
          ),
        );
      }),
  );

  test('an agent that answers garbage: the command failed, in QMPClient’s words', async () => {
    const r = await qmWithFakeAgent(['guest', 'exec-status', '107', '1'], (execute) =>
      execute === 'guest-exec-status' ? { answer: '{"return": {"exited": tru}}' } : {},
    );
    expect(r).toMatchObject({ code: 255, stdout: '' });
    expect(r.stderr).toMatch(/^VM 107 qga command 'guest-exec-status' failed - \S/);
    expect(r.stderr).not.toMatch(/got timeout/); // the answer came, it could not be read
  });

  test('an agent that takes the connection and never answers is not running (the ping’s 3 s)', async () => {
    expect(await qmWithFakeAgent(['guest', 'exec', '107', '--', 'true'], () => undefined)).toMatchObject({
      code: 255,
      stdout: '',
      stderr: 'QEMU guest agent is not running\n',
    });
  });

  test('a frozen agent: its error, as qm prints an agent error', async () => {
    const frozen =
      '{"error": {"class": "GenericError", "desc": "Command guest-exec has been disabled: the agent is in frozen state"}}';
    expect(
      await qmWithFakeAgent(['guest', 'exec', '107', '--', 'true'], (execute) =>
        execute === 'guest-exec' ? { answer: frozen } : {},
      ),
    ).toMatchObject({
      code: 255,
      stdout: '',
      stderr: 'Agent error: Command guest-exec has been disabled: the agent is in frozen state\n',
    });
  });

  test('qemu-ga before 7.2.20 leaves out-truncated out unless the output was cut; so does qm', async () => {
    const r = await qmWithFakeAgent(['guest', 'exec', '107', '--', 'echo', 'hi'], (execute) => {
      if (execute === 'guest-exec') return { answer: '{"return": {"pid": 4711}}' };
      if (execute === 'guest-exec-status') {
        return {
          answer: `{"return": {"exitcode": 0, "out-data": "${Buffer.from('hi\n').toString('base64')}", "exited": true}}`,
        };
      }
      return {};
    });
    expect(r).toMatchObject({
      code: 0,
      stdout: '{\n   "exitcode" : 0,\n   "exited" : 1,\n   "out-data" : "hi\\n"\n}\n',
      stderr: '',
    });
  });

  test.each(['8', '9'] as const)(
    'Proxmox VE %s: no agent socket reads "QEMU guest agent is not running" (the ping first)',
    (pve) =>
      inPve(pve, async () => {
        expect(await qm(['guest', 'exec-status', '102', '1'])).toMatchObject({
          code: 255,
          stderr: 'QEMU guest agent is not running\n',
        });
      }),
  );
});
