/**
 * The lab's QEMU guest agent: runs inside a guest as root and speaks qemu-ga's protocol on a unix socket
 * (the node reaches it at /var/run/qemu-server/<vmid>.qga, as Proxmox's qm does).
 *
 *     node qga-agent.js --socket <path> [--verbose]
 *
 * Behaviour copied from qemu-ga (qga/commands.c, qapi/qmp-dispatch.c):
 * - guest-sync, guest-sync-delimited (0xFF sentinel before the answer), guest-ping, guest-info,
 *   guest-get-host-name, guest-exec, guest-exec-status; anything else is CommandNotFound.
 * - guest-exec starts the process independently of the connection that asked for it, with real pipes
 *   (not socketpairs) as g_spawn_async_with_pipes gives; stdin gets the decoded input-data then EOF (or
 *   /dev/null); capture-output true (or "separated"/"stdout"/"stderr"/"merged"): stdout and stderr are kept up to
 *   QGA_OUTPUT_CAP_BYTES each (default 16 MiB, GUEST_EXEC_MAX_OUTPUT) and the rest is read and dropped.
 *   The child's environment is the agent's service environment: PATH only, no HOME.
 * - guest-exec-status reports exited:false until the process has exited and both output pipes are
 *   closed; the finished status is reported once, then the pid is forgotten.
 * - SIGTERM/SIGINT: stop listening, remove the socket, exit 0; started processes keep running.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { constants as osConstants, hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import {
  GUEST_EXEC_MAX_OUTPUT,
  JsonStreamSplitter,
  QGA_SENTINEL,
  qemuJson,
  strerror,
  type GuestExecStatus,
} from '../shared/qga-protocol';

/** The environment qemu-ga's children get from a systemd system service: PATH and nothing else. */
export const GUEST_EXEC_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
};

/** The version guest-info reports (Debian 12's qemu-guest-agent). */
const QGA_VERSION = '7.2.0';

class QmpError extends Error {
  constructor(
    readonly errorClass: string,
    desc: string,
  ) {
    super(desc);
  }
}

const generic = (desc: string) => new QmpError('GenericError', desc);

function closeQuietly(...fds: number[]): void {
  for (const fd of new Set(fds)) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}

interface OutputBuffer {
  chunks: Buffer[];
  length: number;
  truncated: boolean;
  closed: boolean;
}

interface ExecInfo {
  pid: number;
  hasOutput: boolean;
  finished: boolean;
  exitcode?: number;
  signal?: number;
  out: OutputBuffer;
  err: OutputBuffer;
}

type ArgType = 'str' | 'int' | 'bool' | 'strList' | 'captureOutput';
type ArgSpec = Record<string, { type: ArgType; required?: boolean }>;

const CAPTURE_MODES = ['none', 'stdout', 'stderr', 'separated', 'merged'] as const;
type CaptureMode = (typeof CAPTURE_MODES)[number];

/** QAPI's input visitor, as far as these commands need it (qapi/qobject-input-visitor.c texts). */
function checkArgs(args: Record<string, unknown>, spec: ArgSpec): void {
  for (const name of Object.keys(args)) {
    if (!(name in spec)) throw generic(`Parameter '${name}' is unexpected`);
  }
  for (const [name, { type, required }] of Object.entries(spec)) {
    const value = args[name];
    if (value === undefined) {
      if (required) throw generic(`Parameter '${name}' is missing`);
      continue;
    }
    const wrongType = (what: string, expected: string) =>
      generic(`Invalid parameter type for '${what}', expected: ${expected}`);
    switch (type) {
      case 'str':
        if (typeof value !== 'string') throw wrongType(name, 'string');
        break;
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(name, 'integer');
        break;
      case 'bool':
        if (typeof value !== 'boolean') throw wrongType(name, 'boolean');
        break;
      case 'strList':
        if (!Array.isArray(value)) throw wrongType(name, 'array');
        value.forEach((item, i) => {
          if (typeof item !== 'string') throw wrongType(`${name}[${i}]`, 'string');
        });
        break;
      case 'captureOutput':
        if (typeof value === 'string') {
          if (!(CAPTURE_MODES as readonly string[]).includes(value)) {
            throw generic(`Parameter '${name}' does not accept value '${value}'`);
          }
        } else if (typeof value !== 'boolean') {
          throw wrongType(name, 'GuestExecCaptureOutput');
        }
        break;
    }
  }
}

/** qemu's qbase64_decode: strict standard base64 (newlines allowed). */
function decodeBase64(data: string): Buffer {
  if (data.includes('\0')) throw generic('Base64 data contains embedded NUL characters');
  if (!/^[A-Za-z0-9+/=\n]*$/.test(data)) throw generic('Base64 data contains invalid characters');
  if (data.replace(/\n/g, '').length % 4 !== 0) throw generic('Base64 data length must be a multiple of 4');
  return Buffer.from(data, 'base64');
}

export interface AgentOptions {
  socketPath: string;
  /** per-stream capture cap for guest-exec (bytes) */
  outputCap?: number;
  log?: (line: string) => void;
}

export class GuestAgent {
  private readonly processes = new Map<number, ExecInfo>();
  private readonly server: Server;
  private readonly connections = new Set<Socket>();
  private readonly outputCap: number;
  private readonly log: (line: string) => void;
  private fifoDir: string | undefined;
  private fifoSeq = 0;

  constructor(private readonly opts: AgentOptions) {
    this.outputCap = opts.outputCap ?? GUEST_EXEC_MAX_OUTPUT;
    this.log = opts.log ?? (() => undefined);
    this.server = createServer((sock) => this.serve(sock));
  }

  /** Removes a stale socket file, then listens. */
  listen(): Promise<void> {
    mkdirSync(dirname(this.opts.socketPath), { recursive: true });
    rmSync(this.opts.socketPath, { force: true });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening and removes the socket; processes it started are left running. */
  close(): void {
    this.server.close();
    for (const sock of this.connections) sock.destroy();
    rmSync(this.opts.socketPath, { force: true });
    if (this.fifoDir) rmSync(this.fifoDir, { recursive: true, force: true });
  }

  private serve(sock: Socket): void {
    this.connections.add(sock);
    const splitter = new JsonStreamSplitter();
    // one request at a time per connection, answered in order, like qemu-ga
    let queue = Promise.resolve();
    sock.on('data', (chunk: Buffer) => {
      for (const text of splitter.push(chunk)) {
        queue = queue.then(() => this.answer(sock, text));
      }
    });
    sock.on('error', () => undefined); // a client that went away mid-command is no concern of ours
    sock.on('close', () => this.connections.delete(sock));
  }

  private async answer(sock: Socket, text: string): Promise<void> {
    let delimited = false;
    let response: Record<string, unknown>;
    let id: unknown;
    try {
      let request: unknown;
      try {
        request = JSON.parse(text);
      } catch (err) {
        throw generic(`JSON parse error, ${(err as Error).message}`);
      }
      if (typeof request !== 'object' || request === null || Array.isArray(request)) {
        throw generic('QMP input must be a JSON object');
      }
      const req = request as Record<string, unknown>;
      id = req.id;
      for (const key of Object.keys(req)) {
        if (!['execute', 'exec-oob', 'arguments', 'id'].includes(key)) {
          throw generic(`QMP input member '${key}' is unexpected`);
        }
      }
      const execute = req.execute ?? req['exec-oob'];
      if (execute === undefined) throw generic("QMP input lacks member 'execute'");
      if (typeof execute !== 'string') throw generic("QMP input member 'execute' must be a string");
      const args = req.arguments ?? {};
      if (typeof args !== 'object' || args === null || Array.isArray(args)) {
        throw generic("QMP input member 'arguments' must be an object");
      }
      if (execute === 'guest-sync-delimited') delimited = true;
      response = { return: await this.dispatch(execute, args as Record<string, unknown>) };
    } catch (err) {
      const e = err instanceof QmpError ? err : generic((err as Error).message);
      response = { error: { class: e.errorClass, desc: e.message } };
    }
    if (id !== undefined) response.id = id;
    if (sock.destroyed || !sock.writable) return;
    const line = Buffer.from(qemuJson(response) + '\n');
    sock.write(delimited ? Buffer.concat([Buffer.from([QGA_SENTINEL]), line]) : line);
  }

  private async dispatch(execute: string, args: Record<string, unknown>): Promise<unknown> {
    switch (execute) {
      case 'guest-sync':
      case 'guest-sync-delimited':
        checkArgs(args, { id: { type: 'int', required: true } });
        return args.id;
      case 'guest-ping':
        checkArgs(args, {});
        this.log('guest-ping called');
        return {};
      case 'guest-info':
        checkArgs(args, {});
        return {
          version: QGA_VERSION,
          supported_commands: SUPPORTED_COMMANDS.map((name) => ({
            enabled: true,
            name,
            'success-response': true,
          })),
        };
      case 'guest-get-host-name':
        checkArgs(args, {});
        return { 'host-name': hostname() };
      case 'guest-exec':
        checkArgs(args, {
          path: { type: 'str', required: true },
          arg: { type: 'strList' },
          env: { type: 'strList' },
          'input-data': { type: 'str' },
          'capture-output': { type: 'captureOutput' },
        });
        return this.exec(args);
      case 'guest-exec-status':
        checkArgs(args, { pid: { type: 'int', required: true } });
        return this.execStatus(args.pid as number);
      default:
        throw new QmpError('CommandNotFound', `The command ${execute} has not been found`);
    }
  }

  private async exec(args: Record<string, unknown>): Promise<{ pid: number }> {
    const path = args.path as string;
    const argv = (args.arg as string[] | undefined) ?? [];
    const input = args['input-data'] !== undefined ? decodeBase64(args['input-data'] as string) : undefined;
    const capture = args['capture-output'];
    const mode: CaptureMode =
      capture === true ? 'separated' : capture === false || capture === undefined ? 'none' : (capture as CaptureMode);
    const env: Record<string, string> = {};
    if (args.env !== undefined) {
      for (const entry of args.env as string[]) {
        const eq = entry.indexOf('=');
        if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
      }
    } else {
      Object.assign(env, GUEST_EXEC_ENV);
    }
    this.log(`guest-exec called: "${[path, ...argv].join(' ')}"`);

    // Real pipes, as g_spawn_async_with_pipes makes them: Node's 'pipe' stdio is a socketpair, and a
    // bash whose stdin is a socket thinks sshd started it and sources ~/.bashrc.
    const capOut = mode === 'separated' || mode === 'stdout' || mode === 'merged';
    const capErr = mode === 'separated' || mode === 'stderr';
    const pipes: { readFd: number; writeFd: number }[] = [];
    const parentFds: number[] = [];
    const childFds: number[] = [];
    let stdin: number | 'ignore' = 'ignore';
    let stdout: number | 'ignore' = 'ignore';
    let stderr: number | 'ignore' = 'ignore';
    let child: ChildProcess;
    try {
      if (input !== undefined) {
        const p = this.openPipe();
        pipes.push(p);
        stdin = p.readFd;
        childFds.push(p.readFd);
        parentFds.push(p.writeFd);
      }
      if (capOut) {
        const p = this.openPipe();
        pipes.push(p);
        stdout = p.writeFd;
        if (mode === 'merged') stderr = p.writeFd;
        childFds.push(p.writeFd);
        parentFds.push(p.readFd);
      }
      if (capErr) {
        const p = this.openPipe();
        pipes.push(p);
        stderr = p.writeFd;
        childFds.push(p.writeFd);
        parentFds.push(p.readFd);
      }
      const stdio: StdioOptions = [stdin, stdout, stderr];
      child = spawn(path, argv, { argv0: path, env, cwd: '/', stdio });
    } catch (err) {
      for (const p of pipes) closeQuietly(p.readFd, p.writeFd);
      throw err instanceof QmpError
        ? err
        : generic(`Guest agent command failed, error was '${(err as Error).message}'`);
    }
    closeQuietly(...childFds); // the child has its own copies now
    if (child.pid === undefined) {
      closeQuietly(...parentFds);
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
      throw generic(
        `Guest agent command failed, error was 'Failed to execute child process \u201c${path}\u201d (${strerror(err.code)})'`,
      );
    }

    const newBuffer = (closed: boolean): OutputBuffer => ({ chunks: [], length: 0, truncated: false, closed });
    const info: ExecInfo = {
      pid: child.pid,
      hasOutput: mode !== 'none',
      finished: false,
      out: newBuffer(!capOut),
      err: newBuffer(!capErr),
    };
    this.processes.set(info.pid, info);
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => {
      info.finished = true;
      if (code !== null) info.exitcode = code;
      else if (signal) info.signal = osConstants.signals[signal];
    });
    const collect = (fd: number, buf: OutputBuffer) => {
      const stream = new Socket({ fd, readable: true, writable: false });
      stream.on('data', (chunk: Buffer) => {
        const room = this.outputCap - buf.length;
        if (chunk.length > room) buf.truncated = true;
        if (room <= 0) return; // read and dropped, so the process never blocks on a full pipe
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        buf.chunks.push(kept);
        buf.length += kept.length;
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        buf.closed = true;
      });
    };
    let next = 0;
    if (input !== undefined) {
      const sink = new Socket({ fd: parentFds[next++], readable: false, writable: true });
      sink.on('error', () => undefined); // the process may exit without reading its input
      sink.end(input);
    }
    if (capOut) collect(parentFds[next++], info.out);
    if (capErr) collect(parentFds[next++], info.err);
    return { pid: info.pid };
  }

  /** a pipe(2) (a FIFO opened at both ends and unlinked): both descriptors blocking, close-on-exec */
  private openPipe(): { readFd: number; writeFd: number } {
    if (!this.fifoDir) this.fifoDir = mkdtempSync(join(tmpdir(), 'qga-agent-'));
    const path = join(this.fifoDir, String(++this.fifoSeq));
    const mkfifo = existsSync('/usr/bin/mkfifo') ? '/usr/bin/mkfifo' : 'mkfifo';
    const made = spawnSync(mkfifo, ['-m', '600', path], { stdio: 'ignore' });
    if (made.status !== 0) throw generic("Guest agent command failed, error was 'cannot create a pipe'");
    const hold = openSync(path, fsConstants.O_RDWR); // so that neither open below blocks
    try {
      const readFd = openSync(path, fsConstants.O_RDONLY);
      const writeFd = openSync(path, fsConstants.O_WRONLY);
      return { readFd, writeFd };
    } finally {
      closeSync(hold);
      rmSync(path, { force: true });
    }
  }

  private execStatus(pid: number): GuestExecStatus {
    this.log(`guest-exec-status called, pid: ${pid}`);
    const info = this.processes.get(pid);
    if (!info) throw generic("Invalid parameter 'pid'");
    let finished = info.finished;
    // need to wait till output channels are closed to be sure all output was captured
    if (info.hasOutput) finished = finished && info.out.closed && info.err.closed;
    if (!finished) return { exited: false };
    const status: GuestExecStatus = { exited: true };
    if (info.exitcode !== undefined) status.exitcode = info.exitcode;
    else if (info.signal !== undefined) status.signal = info.signal;
    if (info.out.length > 0) {
      status['out-data'] = Buffer.concat(info.out.chunks).toString('base64');
      if (info.out.truncated) status['out-truncated'] = true;
    }
    if (info.err.length > 0) {
      status['err-data'] = Buffer.concat(info.err.chunks).toString('base64');
      if (info.err.truncated) status['err-truncated'] = true;
    }
    this.processes.delete(pid);
    return status;
  }
}

const SUPPORTED_COMMANDS = [
  'guest-exec',
  'guest-exec-status',
  'guest-get-host-name',
  'guest-info',
  'guest-ping',
  'guest-sync',
  'guest-sync-delimited',
];

/** QGA_OUTPUT_CAP_BYTES, else qemu-ga's 16 MiB. */
export function outputCapFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.QGA_OUTPUT_CAP_BYTES;
  if (raw === undefined || raw === '') return GUEST_EXEC_MAX_OUTPUT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`QGA_OUTPUT_CAP_BYTES must be a byte count, got '${raw}'`);
  return n;
}

function parseArgs(argv: string[]): { socketPath: string; verbose: boolean } {
  let socketPath: string | undefined;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket' || a === '-s') socketPath = argv[++i];
    else if (a.startsWith('--socket=')) socketPath = a.slice('--socket='.length);
    else if (a === '--verbose' || a === '-v') verbose = true;
    else throw new Error(`unknown argument '${a}'`);
  }
  if (!socketPath) throw new Error('--socket <path> is required');
  return { socketPath, verbose };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  let opts: { socketPath: string; verbose: boolean };
  let outputCap: number;
  try {
    opts = parseArgs(argv);
    outputCap = outputCapFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`qga-agent: ${(err as Error).message}\nusage: qga-agent --socket <path> [--verbose]\n`);
    process.exit(2);
  }
  const agent = new GuestAgent({
    socketPath: opts.socketPath,
    outputCap,
    log: opts.verbose ? (line) => process.stderr.write(`qga-agent: ${line}\n`) : undefined,
  });
  const stop = () => {
    agent.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => undefined);
  try {
    await agent.listen();
  } catch (err) {
    process.stderr.write(`qga-agent: cannot listen on ${opts.socketPath}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (opts.verbose) process.stderr.write(`qga-agent: listening on ${opts.socketPath}\n`);
}

if (require.main === module) {
  void main();
}
