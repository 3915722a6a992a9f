/**
 * Guests reached through the Proxmox node's `qm guest exec` (the SOP's way), over the node's pooled SSH
 * connection. Commands start with `--synchronous 0` (the pid comes back at once: heartbeats, resumePid, the kill),
 * and a fixed script on the node (scripts/exec-status-wait.sh) waits there for up to a slice per SSH call: a young
 * command's by polling `qm guest exec-status` (50 ms apart at first, 500 ms at most), an older one's through a
 * waiter in the guest (scripts/guest-pid-wait.sh) under one `qm guest exec --timeout`, which polls inside one qm
 * process as qm's own synchronous wait does, then one exec-status. Nothing waits on qm's own 30 s synchronous
 * limit, and a command outlives the SSH connection that started it.
 *
 * A dropped connection (the lab's ssh-drop fault kills the node's sshd session in the middle of
 * `qm guest exec`): the start is not retried here, since the command may already run in the guest, so run()
 * throws RemoteUnavailable and the activity's retry starts it again (at least once: phases must be idempotent).
 * A dropped poll, or an agent answer lost on the way (QMPClient's "got timeout", "got wrong command id"), is
 * retried on a new connection (statusRetries, 1 s, 2 s, 4 s apart) and the run goes on; if those retries fail
 * too, RemoteUnavailable, and the retried activity resumes the heartbeated pid.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { SshEndpoint } from '../inventory';
import { GuestExecFailed, GuestUnreachable, RemoteUnavailable } from './errors';
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
  type ExitWait,
  type RunOptions,
} from './async-run';
import { shellCommand } from './shell-quote';
import { describeEndpoint, type ExecResult, type SshPool } from './ssh';

export interface QmOptions {
  /** one qm call (start, exec-status) must answer within this; default 60 s */
  qmTimeoutMs?: number;
}

/** `qm` on a Proxmox node, over the pooled SSH connection. */
export class QmNode implements ProxmoxNode {
  readonly description: string;
  private readonly qmTimeoutMs: number;

  constructor(
    private readonly pool: SshPool,
    readonly endpoint: SshEndpoint,
    options: QmOptions = {},
  ) {
    this.description = `qm on ${describeEndpoint(endpoint)}`;
    this.qmTimeoutMs = options.qmTimeoutMs ?? 60_000;
  }

  /** Runs `qm <args…>` (each word quoted); a non-zero exit is a result. Throws Remote* errors only. */
  qm(args: readonly string[], stdin?: string): Promise<GuestResult> {
    return this.pool.exec(this.endpoint, shellCommand(['qm', ...args]), stdin, { timeoutMs: this.qmTimeoutMs });
  }

  /** `wait`: a script that takes its time on purpose (the node's exec-status wait) gets that much longer. */
  shell(
    { script, label, args = [], stdin }: Omit<GuestCommand, 'timeoutMs'>,
    wait: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<GuestResult> {
    return this.pool.exec(this.endpoint, shellCommand(['/bin/bash', '-c', script, label, ...args]), stdin, {
      timeoutMs: this.qmTimeoutMs + (wait.timeoutMs ?? 0),
      signal: wait.signal,
    });
  }
}

/** What qm said of a failure, on one line. */
function qmWords(result: ExecResult): string {
  return (result.stderr.trim() || result.stdout.trim() || `exit ${result.exitCode}`).replace(/\n+/g, '; ');
}

function parseQmJson<T>(schema: z.ZodType<T>, text: string): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
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
 * What a failed qm call means, from its words. Checked against qemu-server's QMPClient.pm, Monitor.pm and Agent.pm
 * (Proxmox VE 8, and 9.1: qemu-server 9.0.26 and later) and qemu-ga 7.2 and later:
 * - the agent cannot be reached: Agent.pm pings it before every command, so most outages read "QEMU guest agent
 *   is not running"; also "VM <vmid> is not running", "No QEMU guest agent configured", and from Monitor.pm and
 *   QMPClient "VM <vmid> not running", "unable to open monitor socket" (9.1: no qga socket), "unable to connect
 *   to VM <vmid> qga socket - …";
 * - the agent was reached but its answer was lost: QMPClient wraps every transport failure as
 *   `VM <vmid> qmp command '…' failed - …` before 9.1 and `VM <vmid> qga command '…' failed - …` since: "got
 *   timeout", "client closed connection", a stale answer on the shared agent socket ("got wrong command id
 *   '…' (expected …)", "received response without command id", "response is not complete");
 * - the agent forgot the pid: "Agent error: Invalid parameter 'pid'" (qemu-ga 7.2, Debian 12) or
 *   "Agent error: PID <n> does not exist" (since 8.1);
 * - the agent is frozen by a snapshot backup's fsfreeze: it disables guest-exec and guest-exec-status with
 *   "…has been disabled: the agent is in frozen state" (qemu-ga before 6.0: "…has been disabled for this
 *   instance") until the thaw;
 * - anything else the agent answered ("Agent error: …") or qm refused: the command cannot run as asked.
 */
export type QmFailure = 'unreachable' | 'answer-lost' | 'pid-unknown' | 'agent-frozen' | 'failed';

const QM_FAILURES: readonly [QmFailure, RegExp][] = [
  ['pid-unknown', /Invalid parameter 'pid'|PID \d+ does not exist/],
  ['agent-frozen', /the agent is in frozen state|has been disabled for this instance/],
  [
    'unreachable',
    /unable to (?:open monitor socket|connect to VM \d+ q(?:mp|ga) socket)|not running|No QEMU guest agent configured/,
  ],
  ['answer-lost', /\bq(?:mp|ga) command '[^']*' failed\b/],
];

export function classifyQmFailure(text: string): QmFailure {
  return QM_FAILURES.find(([, words]) => words.test(text))?.[0] ?? 'failed';
}

/** A string of qm's JSON: the agent keeps 16 MiB of each stream, which qm's double encoding may double. */
const qmData = z.string().max(64 * 1024 * 1024);
/** qm's booleans are 1/0 (Agent.pm converts the agent's); the agent leaves `*-truncated` out with no output. */
const qmFlag = z.union([z.literal(0), z.literal(1), z.boolean()]);

/** `qm guest exec-status`: qemu-ga's GuestExecStatus as qm prints it. */
const ExecStatusSchema = z.strictObject({
  exited: qmFlag,
  exitcode: z.number().int().optional(),
  signal: z.number().int().optional(),
  'out-data': qmData.optional(),
  'err-data': qmData.optional(),
  'out-truncated': qmFlag.optional(),
  'err-truncated': qmFlag.optional(),
});

/** `qm guest exec --synchronous 0`: the pid. */
const ExecStartSchema = z.strictObject({ pid: z.number().int().positive() });

/** Waits on the node for a command's end: `exec-status-wait.sh <vmid> <pid> <slice ms> <pauses ms…> <ran ms> <waiter>`. */
const EXEC_STATUS_WAIT_SCRIPT = readFileSync(join(__dirname, 'scripts', 'exec-status-wait.sh'), 'utf8');
/** Waits in the guest for a pid to end, without a process per look: `guest-pid-wait.sh <pid> <ms>`. */
const GUEST_PID_WAIT_SCRIPT = readFileSync(join(__dirname, 'scripts', 'guest-pid-wait.sh'), 'utf8');

const TRUNCATED = '\n[openclaw-migrate: the guest agent truncated this output at its limit]\n';

export interface QgaGuestOptions extends RunOptions, QmOptions {
  /** the node's pause between two `exec-status` polls: from the first, growing with the command's age to the longest */
  waitPausesMs?: { first: number; longest: number };
  /** how long a frozen agent (a snapshot backup's fsfreeze) is waited for at a command's start; default 2 min */
  frozenWaitMs?: number;
}

export class QgaGuest implements Guest {
  readonly description: string;
  private readonly node: QmNode;
  private readonly backend: CommandBackend;
  private readonly waitPausesMs: { first: number; longest: number };
  private readonly frozenWaitMs: number;

  constructor(
    pool: SshPool,
    readonly vmid: number,
    nodeEndpoint: SshEndpoint,
    private readonly options: QgaGuestOptions = {},
  ) {
    this.node = new QmNode(pool, nodeEndpoint, options);
    this.description = `vm ${vmid} via qm on ${describeEndpoint(nodeEndpoint)}`;
    this.waitPausesMs = options.waitPausesMs ?? { first: 50, longest: 500 };
    this.frozenWaitMs = options.frozenWaitMs ?? 120_000;
    this.backend = {
      where: this.description,
      start: (command) => this.start(command),
      status: (pid) => this.status(pid),
      waitForExit: (pid, _command, wait) => this.waitForExit(pid, wait),
      kill: (pid, _command, graceMs) => this.kill(pid, graceMs),
      collect: (pid) => this.collect(pid),
    };
  }

  run(command: GuestCommand, hooks?: RunHooks): Promise<GuestResult> {
    return runDetached(this.backend, command, hooks, this.options);
  }

  private fail(what: string, result: ExecResult, failure: QmFailure): Error {
    const text = qmWords(result);
    const where = `vm ${this.vmid} (${this.node.endpoint.host}): ${what}`;
    switch (failure) {
      case 'agent-frozen':
        return new GuestUnreachable(
          `${where}: the guest agent stayed frozen (a snapshot backup's fsfreeze?) for ` +
            `${Math.round(this.frozenWaitMs / 1000)} s; the command did not start: ${text}`,
        );
      case 'answer-lost':
        return new GuestUnreachable(`${where}: the agent's answer was lost (the command may have started): ${text}`);
      case 'unreachable':
        return new GuestUnreachable(`${where}: ${text}`);
      default:
        return new GuestExecFailed(
          `vm ${this.vmid} (${this.description}): ${what} failed (qm exit ${result.exitCode}): ${text}`,
        );
    }
  }

  /**
   * `qm guest exec <vmid> --synchronous 0 [--pass-stdin 1] -- <argv…>` → the pid. A frozen agent refused the
   * command without running it: asked again, with growing pauses, for up to frozenWaitMs.
   */
  private async startArgv(argv: readonly string[], stdin: string | undefined, what: string): Promise<number> {
    const args = ['guest', 'exec', String(this.vmid), '--synchronous', '0'];
    if (stdin !== undefined) args.push('--pass-stdin', '1');
    const frozenUntil = Date.now() + this.frozenWaitMs;
    for (let pause = 1000; ; pause = Math.min(10_000, pause * 2)) {
      const result = await this.node.qm([...args, '--', ...argv], stdin);
      if (result.exitCode === 0) {
        const started = parseQmJson(ExecStartSchema, result.stdout);
        if (!started) {
          throw new GuestExecFailed(
            `vm ${this.vmid}: qm guest exec printed no pid for ${what}: ${JSON.stringify(result.stdout.slice(0, 500))}`,
          );
        }
        return started.pid;
      }
      const failure = classifyQmFailure(qmWords(result));
      if (failure !== 'agent-frozen' || Date.now() + pause > frozenUntil)
        throw this.fail(`starting ${what}`, result, failure);
      await sleep(pause);
    }
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
    return this.statusFrom(pid, await this.node.qm(['guest', 'exec-status', String(this.vmid), String(pid)]));
  }

  /**
   * exec-status-wait.sh on the node: waits there until the command exits or the slice is over, so the network is
   * crossed once per slice, and its end is seen within a pause (≤ 500 ms) or, through the guest's waiter, within
   * qm's one-second poll plus one exec-status.
   */
  private async waitForExit(pid: number, { sliceMs, ranMs, signal }: ExitWait): Promise<CommandStatus> {
    const { first, longest } = this.waitPausesMs;
    const result = await this.node.shell(
      {
        script: EXEC_STATUS_WAIT_SCRIPT,
        label: 'exec-status-wait',
        args: [
          ...[this.vmid, pid, sliceMs, first, longest, ranMs].map((n) => String(Math.max(0, Math.round(n)))),
          GUEST_PID_WAIT_SCRIPT,
        ],
      },
      { timeoutMs: sliceMs, signal },
    );
    // the script's '.' before each poll (its way to notice a caller gone), then qm's JSON on a line of its own
    const status = await this.statusFrom(pid, { ...result, stdout: result.stdout.replace(/^\.*\n?/, '') });
    // a frozen agent answers no status until the thaw: a pause before asking again, not a busy loop
    if (status.state === 'running' && result.exitCode !== 0) await sleep(longest, signal);
    return status;
  }

  /** What one exec-status answer says. Throws RemoteUnavailable for a lost answer (the poll is retried). */
  private statusFrom(pid: number, result: ExecResult): CommandStatus {
    if (result.exitCode !== 0) {
      const failure = classifyQmFailure(qmWords(result));
      if (failure === 'pid-unknown') return { state: 'unknown' };
      // A frozen agent answers no status until the thaw; the command itself runs on, so keep polling (the
      // command's own timeout still bounds the wait).
      if (failure === 'agent-frozen') return { state: 'running' };
      if (failure === 'answer-lost') {
        throw new RemoteUnavailable(`vm ${this.vmid}: exec-status of pid ${pid}: ${qmWords(result)}`);
      }
      throw this.fail(`exec-status of pid ${pid}`, result, failure);
    }
    const json = parseQmJson(ExecStatusSchema, result.stdout);
    if (!json) {
      throw new GuestExecFailed(
        `vm ${this.vmid}: unreadable exec-status of pid ${pid}: ${JSON.stringify(result.stdout.slice(0, 500))}`,
      );
    }
    if (!json.exited) return { state: 'running' };
    const exitCode = json.exitcode ?? (json.signal !== undefined ? 128 + json.signal : -1);
    const stdout = decodeQmData(json['out-data']) + (json['out-truncated'] ? TRUNCATED : '');
    const stderr = decodeQmData(json['err-data']) + (json['err-truncated'] ? TRUNCATED : '');
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
