/**
 * The run loop both guests share: start the command detached in the guest, poll for its end (500 ms, backing
 * off to 2 s; or, where the backend can wait on the far side, one wait after another, the first of up to 2 s, the
 * next of up to twice the command's age, 30 s at most), report
 * progress after every poll or wait, and on timeout or cancellation kill it in the guest (the whole tree) before
 * failing; a cancellation that `leaveRunning` accepts (a worker shutting down) leaves it running.
 * A retried activity passes the earlier pid back as `resumePid`: a command still running is waited for, a
 * finished one's unread result returned, an unknown one started afresh.
 */
import type { GuestCommand, GuestResult, RunHooks } from './guest';
import {
  GuestExecFailed,
  GuestCommandTimeout,
  GuestResultLost,
  InvalidGuestCommand,
  RemoteUnavailable,
} from './errors';

export type CommandStatus =
  | { state: 'running' }
  | { state: 'exited'; result: GuestResult }
  /** the guest does not know the pid (never started, result already read, agent restarted) */
  | { state: 'unknown' };

/** How one transport starts, watches and kills a detached command. */
export interface CommandBackend {
  /** names the guest in errors */
  readonly where: string;
  /** Starts the command; resolves with its pid. Never retried: a start cut off may have started it. */
  start(command: GuestCommand): Promise<number>;
  /** Asks after the command (reads and may consume its result). */
  status(pid: number, command: GuestCommand): Promise<CommandStatus>;
  /** Kills the command's tree (TERM, then KILL after the grace period); throws when that could not be confirmed. */
  kill(pid: number, command: GuestCommand, graceMs: number): Promise<void>;
  /** After a kill: what the command had printed (polls its status briefly). */
  collect(pid: number, command: GuestCommand): Promise<{ stdout: string; stderr: string }>;
  /** After a result was read: removes what the command left behind (best effort). */
  cleanup?(pid: number, command: GuestCommand): Promise<void>;
  /**
   * Waits up to `sliceMs` for the command's end where it runs (polling there, not over the network), then says
   * how it stands; the run loop calls it back to back instead of sleeping between status calls. Aborting
   * `signal` stops the wait; the far side stops after the poll in flight, like an abandoned status call.
   */
  waitForExit?(pid: number, command: GuestCommand, wait: ExitWait): Promise<CommandStatus>;
}

export interface ExitWait {
  sliceMs: number;
  /** how long the command has run: the far side's pauses grow with it */
  ranMs: number;
  signal?: AbortSignal;
}

export interface RunOptions {
  /** first poll interval and the one it backs off to (×1.5 each poll); the longest first waitForExit */
  pollFirstMs?: number;
  pollMaxMs?: number;
  /**
   * the longest later waitForExit: each takes up to twice the command's age within this, so a long command costs
   * the far side a few waits, not one every pollMaxMs (the heartbeat does not depend on it)
   */
  waitSliceMaxMs?: number;
  /** between TERM and KILL */
  killGraceMs?: number;
  /** a status call that hit a dropped connection is tried again this many times (1 s, 2 s, 4 s … apart) */
  statusRetries?: number;
}

const DEFAULTS: Required<RunOptions> = {
  pollFirstMs: 500,
  pollMaxMs: 2000,
  waitSliceMaxMs: 30_000,
  killGraceMs: 3000,
  statusRetries: 3,
};

const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const MAX_STDIN_BYTES = 1024 * 1024;
/** room for the script and its arguments, quoted, within Linux's 128 KiB limit on one argument (MAX_ARG_STRLEN) */
export const MAX_COMMAND_BYTES = 120 * 1024;

/** Refuses a command the transports could not pass on faithfully. */
export function validateCommand(command: GuestCommand): void {
  if (!LABEL.test(command.label)) {
    throw new InvalidGuestCommand(
      `a command label is 1-64 of [A-Za-z0-9_.-] (it names files and processes), got ${JSON.stringify(command.label)}`,
    );
  }
  for (const [i, value] of [command.script, ...(command.args ?? [])].entries()) {
    if (typeof value !== 'string') throw new InvalidGuestCommand(`${command.label}: argument ${i} is not a string`);
    if (value.includes('\0')) {
      throw new InvalidGuestCommand(
        `${command.label}: ${i === 0 ? 'the script' : `argument $${i}`} contains a NUL byte, which no command line can carry`,
      );
    }
  }
  if (command.stdin !== undefined && Buffer.byteLength(command.stdin, 'utf8') > MAX_STDIN_BYTES) {
    throw new InvalidGuestCommand(
      `${command.label}: stdin is ${Buffer.byteLength(command.stdin, 'utf8')} bytes; at most 1 MiB passes (qm's limit)`,
    );
  }
  // The script and its arguments travel as one argument of `sh -c` on the far side: Linux takes 128 KiB at most.
  const words = [command.script, command.label, ...(command.args ?? [])];
  const size = words.reduce((sum, w) => sum + Buffer.byteLength(w, 'utf8') + 3 * (w.split("'").length - 1) + 3, 0);
  if (size > MAX_COMMAND_BYTES) {
    throw new InvalidGuestCommand(
      `${command.label}: the script and its arguments take ${size} bytes quoted; at most ${MAX_COMMAND_BYTES} fit a command line (pass data on stdin)`,
    );
  }
  if (!(command.timeoutMs > 0)) throw new InvalidGuestCommand(`${command.label}: timeoutMs must be positive`);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** Calls `fn` again after a dropped connection (RemoteUnavailable), with growing pauses; other errors pass. */
export async function retryUnavailable<T>(fn: () => Promise<T>, retries: number, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof RemoteUnavailable) || attempt >= retries) throw err;
      await sleep(1000 * 2 ** attempt, signal);
    }
  }
}

class Aborted {
  constructor(readonly reason: unknown) {}
}

export async function runDetached(
  backend: CommandBackend,
  command: GuestCommand,
  hooks: RunHooks = {},
  options: RunOptions = {},
): Promise<GuestResult> {
  const opts = { ...DEFAULTS, ...options };
  const { signal } = hooks;
  validateCommand(command);
  signal?.throwIfAborted();
  const status = (pid: number) => retryUnavailable(() => backend.status(pid, command), opts.statusRetries, signal);
  const finished = async (pid: number, result: GuestResult) => {
    await backend.cleanup?.(pid, command).catch(() => undefined);
    return result;
  };

  const begun = Date.now();
  let pid: number | undefined;
  if (hooks.resumePid !== undefined) {
    const earlier = await status(hooks.resumePid);
    if (earlier.state === 'exited') return finished(hooks.resumePid, earlier.result);
    if (earlier.state === 'running') pid = hooks.resumePid;
  }
  if (pid === undefined) pid = await backend.start(command);

  const progress = () => {
    try {
      hooks.onProgress?.({ pid: pid!, elapsedMs: Date.now() - begun });
    } catch {
      // a failing progress listener must not leave the command unwatched
    }
  };
  progress();

  const deadline = Date.now() + command.timeoutMs;
  let interval = opts.pollFirstMs;
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const { waitForExit } = backend;
      const ask = waitForExit
        ? () => {
            const ranMs = Date.now() - begun;
            const sliceMs = Math.max(opts.pollMaxMs, Math.min(opts.waitSliceMaxMs, 2 * ranMs));
            return waitForExit.call(backend, pid!, command, { sliceMs: Math.min(sliceMs, remaining), ranMs, signal });
          }
        : () => backend.status(pid!, command);
      if (!waitForExit) {
        await sleep(Math.min(interval, remaining), signal).catch((reason) => {
          throw new Aborted(reason);
        });
      }
      const now = await retryUnavailable(ask, opts.statusRetries, signal).catch((err) => {
        throw signal?.aborted ? new Aborted(abortReason(signal)) : err;
      });
      // a result that came in is the truth even when the run was cancelled meanwhile: nothing is left to kill
      if (now.state === 'exited') return await finished(pid, now.result);
      if (signal?.aborted) throw new Aborted(abortReason(signal));
      if (now.state === 'unknown') {
        throw new GuestResultLost(
          `${command.label} (pid ${pid}, ${backend.where}): the guest no longer knows the command: its agent restarted, ` +
            'or its result was read by a call whose answer was lost',
        );
      }
      progress();
      interval = Math.min(opts.pollMaxMs, Math.round(interval * 1.5));
    }
  } catch (err) {
    if (!(err instanceof Aborted)) throw err;
    if (!hooks.leaveRunning?.(err.reason)) await stop(backend, pid, command, opts.killGraceMs).catch(() => undefined);
    throw err.reason;
  }

  const stopped = await stop(backend, pid, command, opts.killGraceMs);
  throw new GuestCommandTimeout(
    command.label,
    pid,
    command.timeoutMs,
    stopped.stdout,
    stopped.stderr,
    stopped.killError === undefined,
    backend.where,
    stopped.killError,
  );
}

/** Kills the command, then gathers what it printed; reports a failed kill instead of throwing. */
async function stop(
  backend: CommandBackend,
  pid: number,
  command: GuestCommand,
  graceMs: number,
): Promise<{ stdout: string; stderr: string; killError?: string }> {
  let killError: string | undefined;
  try {
    await backend.kill(pid, command, graceMs);
  } catch (err) {
    killError = (err as Error).message;
  }
  try {
    const out = await backend.collect(pid, command);
    await backend.cleanup?.(pid, command).catch(() => undefined);
    return { ...out, killError };
  } catch (err) {
    return { stdout: '', stderr: `[openclaw-migrate: output not collected: ${(err as Error).message}]`, killError };
  }
}

/**
 * Kills a command and everything it started, run as `/bin/bash -c KILL_SCRIPT <name> <pid> <grace seconds>`.
 * qemu-ga does not make the commands it starts process-group leaders (neither does the lab's agent), so
 * `kill -- -<pid>` would find no group: this walks /proc instead. Members: the pid, its descendants, and, when
 * it leads a process group or session (the ssh transport starts it with setsid), whatever is still in those.
 * The members are stopped first (so none forks away while they are collected), then sent TERM and continued;
 * whatever still lives after the grace period is stopped again and gets KILL (stopped, a parent cannot report
 * a child's death on the command's stderr before its own KILL lands). Needs bash and /proc only.
 */
export const KILL_SCRIPT = `set -u
root=$1 grace=$2
case $root in '' | *[!0-9]* | 0 | 1) echo "not a pid: $root" >&2; exit 2 ;; esac
declare -A parent group session
scan() {
  parent=() group=() session=()
  local f line pid state pp pg sid
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    pid=\${f#/proc/}; pid=\${pid%/stat}
    read -r state pp pg sid _ <<<"\${line##*) }"
    parent[$pid]=$pp group[$pid]=$pg session[$pid]=$sid
  done
}
members() {
  local -A seen=([$root]=1)
  local changed=1 p
  while [ "$changed" = 1 ]; do
    changed=0
    for p in "\${!parent[@]}"; do
      [ -n "\${seen[$p]:-}" ] && continue
      if [ -n "\${seen[\${parent[$p]}]:-}" ] || [ "\${group[$p]}" = "$root" ] || [ "\${session[$p]}" = "$root" ]; then
        seen[$p]=1 changed=1
      fi
    done
  done
  unset "seen[$$]" "seen[1]"
  echo "\${!seen[@]}"
}
alive() {
  local line
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  line=\${line##*) }
  [ "\${line%% *}" != Z ]
}
scan; pids=$(members)
kill -STOP $pids 2>/dev/null
scan; pids=$(members)
kill -STOP $pids 2>/dev/null
kill -TERM $pids 2>/dev/null
kill -CONT $pids 2>/dev/null
tries=$((grace * 5))
while :; do
  left=
  for p in $pids; do alive "$p" && left="$left $p"; done
  if [ -z "$left" ]; then echo "terminated: $pids"; exit 0; fi
  tries=$((tries - 1))
  [ "$tries" -le 0 ] && break
  sleep 0.2
done
kill -STOP $left 2>/dev/null
kill -KILL $left 2>/dev/null
for i in 1 2 3 4 5 6 7 8 9 10; do
  still=
  for p in $left; do alive "$p" && still="$still $p"; done
  if [ -z "$still" ]; then echo "terminated: $pids (KILL:$left)"; exit 0; fi
  sleep 0.2
done
echo "still alive after KILL:$still" >&2
exit 1
`;

/** The kill script's grace argument: whole seconds, at least 1. */
export function graceSeconds(graceMs: number): string {
  return String(Math.max(1, Math.ceil(graceMs / 1000)));
}

/** Throws unless the kill script reported success. */
export function checkKill(result: GuestResult, pid: number): void {
  if (result.exitCode !== 0) {
    throw new GuestExecFailed(
      `killing pid ${pid} failed (exit ${result.exitCode}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
}
