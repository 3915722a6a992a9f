/**
 * Guests reached through the Proxmox node's `qm guest exec` (the SOP's way), over the node's pooled SSH
 * connection. Commands start with `--synchronous 0` and are polled with `qm guest exec-status`: nothing waits
 * on qm's own 30 s synchronous limit, and a command outlives the SSH connection that started it.
 *
 * A dropped connection (the lab's ssh-drop fault kills the node's sshd session in the middle of
 * `qm guest exec`): the start is not retried here, since the command may already run in the guest, so run()
 * throws RemoteUnavailable and the activity's retry starts it again (at least once: phases must be idempotent).
 * A dropped poll is retried on a new connection (statusRetries, 1 s, 2 s, 4 s apart) and the run goes on; if
 * those retries fail too, RemoteUnavailable, and the retried activity resumes the heartbeated pid.
 */
import type { SshEndpoint } from '../inventory';
import { GuestExecFailed, GuestUnreachable } from './errors';
import type { Guest, GuestCommand, GuestResult, ProxmoxNode, RunHooks } from './guest';
import {
  KILL_SCRIPT,
  checkKill,
  graceSeconds,
  retryUnavailable,
  runDetached,
  sleep,
  type CommandBackend,
  type CommandStatus,
  type RunOptions,
} from './async-run';
import { shellCommand } from './shell-quote';
import { describeEndpoint, exec, type ExecResult } from './ssh';

export interface QmOptions {
  /** one qm call (start, exec-status) must answer within this; default 60 s */
  qmTimeoutMs?: number;
}

/** `qm` on a Proxmox node, over the pooled SSH connection. */
export class QmNode implements ProxmoxNode {
  readonly description: string;
  private readonly qmTimeoutMs: number;

  constructor(
    readonly endpoint: SshEndpoint,
    options: QmOptions = {},
  ) {
    this.description = `qm on ${describeEndpoint(endpoint)}`;
    this.qmTimeoutMs = options.qmTimeoutMs ?? 60_000;
  }

  /** Runs `qm <args…>` (each word quoted); a non-zero exit is a result. Throws Remote* errors only. */
  qm(args: readonly string[], stdin?: string): Promise<GuestResult> {
    return exec(this.endpoint, shellCommand(['qm', ...args]), stdin, { timeoutMs: this.qmTimeoutMs });
  }

  shell({ script, label, args = [], stdin }: Omit<GuestCommand, 'timeoutMs'>): Promise<GuestResult> {
    return exec(this.endpoint, shellCommand(['/bin/bash', '-c', script, label, ...args]), stdin, {
      timeoutMs: this.qmTimeoutMs,
    });
  }
}

/**
 * qm's JSON carries the agent's output as Perl byte strings encoded as UTF-8 once more: each byte became a
 * character. Undo that; text that holds characters past U+00FF was not double-encoded and stays as it is.
 */
export function decodeQmData(text: string | undefined): string {
  if (!text) return '';
  // eslint-disable-next-line no-control-regex
  if (/[^\u0000-\u00ff]/.test(text)) return text;
  return Buffer.from(text, 'latin1').toString('utf8');
}

/**
 * What a failed qm call means, from its words. Checked against qemu-server's QMPClient.pm and Agent.pm (Proxmox VE
 * 8 and 9.1) and qemu-ga 7.2 and later:
 * - the node could not talk to the agent: QMPClient wraps every transport failure (timeout, closed connection, a
 *   stale answer on the shared socket: "got wrong command id", no socket) as `VM <vmid> qmp command '…' failed - …`
 *   before 9.1 and `VM <vmid> qga command '…' failed - …` since; Agent.pm adds "not running", "No QEMU guest
 *   agent configured";
 * - the agent forgot the pid: "Agent error: Invalid parameter 'pid'" (qemu-ga 7.2, Debian 12) or
 *   "Agent error: PID <n> does not exist" (since 8.1);
 * - the agent is frozen by a snapshot backup's fsfreeze: it disables guest-exec and guest-exec-status with
 *   "…has been disabled: the agent is in frozen state" until the thaw;
 * - anything else the agent answered ("Agent error: …") or qm refused: the command cannot run as asked.
 */
export type QmFailure = 'unreachable' | 'pid-unknown' | 'agent-frozen' | 'failed';

const QM_FAILURES: readonly [QmFailure, RegExp][] = [
  ['pid-unknown', /Invalid parameter 'pid'|PID \d+ does not exist/],
  ['agent-frozen', /the agent is in frozen state/],
  [
    'unreachable',
    /\bq(?:mp|ga) command '[^']*' failed\b|unable to (?:open monitor socket|connect to VM \d+ q(?:mp|ga) socket)|not running|No QEMU guest agent configured/,
  ],
];

export function classifyQmFailure(text: string): QmFailure {
  return QM_FAILURES.find(([, words]) => words.test(text))?.[0] ?? 'failed';
}

interface ExecStatusJson {
  exited?: number | boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: number | boolean;
  'err-truncated'?: number | boolean;
}

export interface QgaGuestOptions extends RunOptions, QmOptions {}

export class QgaGuest implements Guest {
  readonly description: string;
  private readonly node: QmNode;
  private readonly backend: CommandBackend;

  constructor(
    readonly vmid: number,
    nodeEndpoint: SshEndpoint,
    private readonly options: QgaGuestOptions = {},
  ) {
    this.node = new QmNode(nodeEndpoint, options);
    this.description = `vm ${vmid} via qm on ${describeEndpoint(nodeEndpoint)}`;
    this.backend = {
      where: this.description,
      start: (command) => this.start(command),
      status: (pid) => this.status(pid),
      kill: (pid, _command, graceMs) => this.kill(pid, graceMs),
      collect: (pid) => this.collect(pid),
    };
  }

  run(command: GuestCommand, hooks?: RunHooks): Promise<GuestResult> {
    return runDetached(this.backend, command, hooks, this.options);
  }

  private fail(what: string, result: ExecResult): Error {
    const text = (result.stderr.trim() || result.stdout.trim() || `exit ${result.exitCode}`).replace(/\n+/g, '; ');
    const failure = classifyQmFailure(text);
    if (failure === 'agent-frozen') {
      return new GuestUnreachable(
        `vm ${this.vmid} (${this.node.endpoint.host}): ${what}: the guest agent is frozen (a snapshot backup's ` +
          `fsfreeze?); the command did not start and is tried again after the thaw: ${text}`,
      );
    }
    if (failure !== 'failed')
      return new GuestUnreachable(`vm ${this.vmid} (${this.node.endpoint.host}): ${what}: ${text}`);
    return new GuestExecFailed(
      `vm ${this.vmid} (${this.description}): ${what} failed (qm exit ${result.exitCode}): ${text}`,
    );
  }

  /** `qm guest exec <vmid> --synchronous 0 [--pass-stdin 1] -- <argv…>` → the pid */
  private async startArgv(argv: readonly string[], stdin: string | undefined, what: string): Promise<number> {
    const args = ['guest', 'exec', String(this.vmid), '--synchronous', '0'];
    if (stdin !== undefined) args.push('--pass-stdin', '1');
    const result = await this.node.qm([...args, '--', ...argv], stdin);
    if (result.exitCode !== 0) throw this.fail(`starting ${what}`, result);
    let pid: unknown;
    try {
      pid = (JSON.parse(result.stdout) as { pid?: unknown }).pid;
    } catch {
      pid = undefined;
    }
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) {
      throw new GuestExecFailed(
        `vm ${this.vmid}: qm guest exec printed no pid for ${what}: ${JSON.stringify(result.stdout)}`,
      );
    }
    return pid;
  }

  private start(command: GuestCommand): Promise<number> {
    return this.startArgv(
      ['/bin/bash', '-c', command.script, command.label, ...(command.args ?? [])],
      command.stdin,
      command.label,
    );
  }

  /** `qm guest exec-status <vmid> <pid>`: reading a finished status consumes it (the agent forgets the pid). */
  private async status(pid: number): Promise<CommandStatus> {
    const result = await this.node.qm(['guest', 'exec-status', String(this.vmid), String(pid)]);
    if (result.exitCode !== 0) {
      const failure = classifyQmFailure(result.stderr);
      if (failure === 'pid-unknown') return { state: 'unknown' };
      // A frozen agent answers no status until the thaw; the command itself runs on, so keep polling (the
      // command's own timeout still bounds the wait).
      if (failure === 'agent-frozen') return { state: 'running' };
      throw this.fail(`exec-status of pid ${pid}`, result);
    }
    let json: ExecStatusJson;
    try {
      json = JSON.parse(result.stdout) as ExecStatusJson;
    } catch {
      throw new GuestExecFailed(
        `vm ${this.vmid}: unreadable exec-status of pid ${pid}: ${JSON.stringify(result.stdout)}`,
      );
    }
    if (!json.exited) return { state: 'running' };
    const exitCode = json.exitcode ?? (json.signal !== undefined ? 128 + json.signal : -1);
    let stdout = decodeQmData(json['out-data']);
    let stderr = decodeQmData(json['err-data']);
    if (json['out-truncated']) stdout += '\n[openclaw-migrate: the guest agent truncated this output at its limit]\n';
    if (json['err-truncated']) stderr += '\n[openclaw-migrate: the guest agent truncated this output at its limit]\n';
    return { state: 'exited', result: { exitCode, stdout, stderr } };
  }

  /** Runs the kill script in the guest, also detached and polled, and checks what it reported. */
  private async kill(pid: number, graceMs: number): Promise<void> {
    const killPid = await retryUnavailable(
      () =>
        this.startArgv(
          ['/bin/bash', '-c', KILL_SCRIPT, 'openclaw-migrate-kill', String(pid), graceSeconds(graceMs)],
          undefined,
          `the kill of pid ${pid}`,
        ),
      1,
    );
    const deadline = Date.now() + graceMs + 15_000;
    while (Date.now() < deadline) {
      await sleep(300);
      const now = await retryUnavailable(() => this.status(killPid), 2);
      if (now.state === 'exited') return checkKill(now.result, pid);
      if (now.state === 'unknown') throw new GuestExecFailed(`the kill of pid ${pid} (pid ${killPid}) went missing`);
    }
    throw new GuestExecFailed(
      `the kill of pid ${pid} did not finish within ${Math.round((graceMs + 15_000) / 1000)} s`,
    );
  }

  /** The killed command's status, once the agent has seen it exit and its pipes close. */
  private async collect(pid: number): Promise<{ stdout: string; stderr: string }> {
    for (let i = 0; i < 20; i++) {
      const now = await retryUnavailable(() => this.status(pid), 1);
      if (now.state === 'exited') return { stdout: now.result.stdout, stderr: now.result.stderr };
      if (now.state === 'unknown') throw new GuestExecFailed(`the status of pid ${pid} was already read`);
      await sleep(250);
    }
    throw new GuestExecFailed(`pid ${pid} still holds its output pipes open (a process outside its tree?)`);
  }
}
