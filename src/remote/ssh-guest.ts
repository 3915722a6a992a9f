/**
 * Guests reached straight over SSH (seed 004's machines, no Proxmox node in between), with the same model as
 * qm's: the command starts detached in the guest (its own session, via setsid) with its output in files under
 * /run/openclaw-migrate/<label>-<random>/ (in, out, err, rc, pid), and is polled until the rc file appears.
 * It outlives the SSH connection that started it; a retry finds it again by pid and label.
 *
 * The wrappers below are fixed text: every value reaches them as a positional argument.
 */
import type { SshEndpoint } from '../inventory';
import { GuestExecFailed } from './errors';
import type { Guest, GuestCommand, GuestResult, RunHooks } from './guest';
import {
  KILL_SCRIPT,
  checkKill,
  graceSeconds,
  runDetached,
  type CommandBackend,
  type CommandStatus,
  type RunOptions,
} from './async-run';
import { shellCommand } from './shell-quote';
import { describeEndpoint, type ExecResult, type SshPool } from './ssh';

/**
 * Runs in the new session: `$1` the command's directory, then `<script> <label> <args…>`. Its stdin is the `in`
 * file (unlinked once open: it may hold secrets), its output goes to `out` and `err`, its status to `rc`.
 */
const RUNNER = `dir=$1
shift
exec 3<"$dir/in"
rm -f "$dir/in"
/bin/bash -c "$@" <&3 3<&- >"$dir/out" 2>"$dir/err"
echo $? >"$dir/rc.tmp"
mv "$dir/rc.tmp" "$dir/rc"
`;

/**
 * `$1` the runner, `$2` the base directory, `$3` the label, then `<script> <args…>`; stdin becomes the command's.
 * Prints the pid of the runner, which leads its own session and process group (the subshell is no group
 * leader, so setsid needs no fork and keeps the pid).
 */
const START = `set -eu
runner=$1 base=$2 label=$3
shift 3
umask 077
mkdir -p "$base"
dir=$(mktemp -d "$base/$label-XXXXXXXXXX")
cat >"$dir/in"
script=$1
shift
( exec setsid /bin/bash -c "$runner" openclaw-migrate-runner "$dir" "$script" "$label" "$@" </dev/null >/dev/null 2>&1 ) &
echo $! >"$dir/pid"
echo $!
`;

/** Finds the command's directory by base, label and pid (`$1 $2 $3`), or exits 11. */
const FIND = `set -u
base=$1 label=$2 pid=$3
dir=
for d in "$base/$label"-*; do
  if [ -f "$d/pid" ] && [ "$(cat "$d/pid")" = "$pid" ]; then dir=$d; break; fi
done
[ -n "$dir" ] || exit 11
alive() {
  local line
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  line=\${line##*) }
  [ "\${line%% *}" != Z ]
}
`;

/** Exit 10: running. Exit 0: finished, stdout `rc=<n>` then its output, stderr its errors. Exit 12: gone without rc. */
const STATUS = `${FIND}
if [ -f "$dir/rc" ]; then
  printf 'rc=%s\\n' "$(cat "$dir/rc")"
  cat "$dir/out"
  cat "$dir/err" >&2
  exit 0
fi
alive "$pid" && exit 10
printf 'rc=\\n'
cat "$dir/out" 2>/dev/null
cat "$dir/err" >&2 2>/dev/null
exit 12
`;

const CLEANUP = `${FIND}
rm -rf -- "$dir"
`;

export interface SshGuestOptions extends RunOptions {
  /** where the commands' directories go; default /run/openclaw-migrate (root's tmpfs: gone at reboot) */
  stateDir?: string;
  /** one control call (start, status, kill) must answer within this; default 60 s */
  callTimeoutMs?: number;
}

export class SshGuest implements Guest {
  readonly description: string;
  private readonly backend: CommandBackend;
  private readonly stateDir: string;
  private readonly callTimeoutMs: number;

  constructor(
    private readonly pool: SshPool,
    readonly endpoint: SshEndpoint,
    /** names the VM in descriptions and errors */
    readonly vmid?: number,
    private readonly options: SshGuestOptions = {},
  ) {
    this.description = `${vmid !== undefined ? `vm ${vmid}` : 'machine'} via ssh to ${describeEndpoint(endpoint)}`;
    this.stateDir = options.stateDir ?? '/run/openclaw-migrate';
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.backend = {
      where: this.description,
      start: (command) => this.start(command),
      status: (pid, command) => this.status(pid, command),
      kill: (pid, _command, graceMs) => this.kill(pid, graceMs),
      collect: (pid, command) => this.collect(pid, command),
      cleanup: (pid, command) => this.cleanup(pid, command),
    };
  }

  run(command: GuestCommand, hooks?: RunHooks): Promise<GuestResult> {
    return runDetached(this.backend, command, hooks, this.options);
  }

  private call(script: string, name: string, args: readonly string[], stdin?: string, timeoutMs?: number) {
    return this.pool.exec(this.endpoint, shellCommand(['/bin/bash', '-c', script, name, ...args]), stdin ?? '', {
      timeoutMs: timeoutMs ?? this.callTimeoutMs,
    });
  }

  private fail(what: string, result: ExecResult): GuestExecFailed {
    const text = (result.stderr.trim() || result.stdout.trim() || '(no output)').replace(/\n+/g, '; ');
    return new GuestExecFailed(`${this.description}: ${what} failed (exit ${result.exitCode}): ${text}`);
  }

  private async start(command: GuestCommand): Promise<number> {
    const result = await this.call(
      START,
      'openclaw-migrate-start',
      [RUNNER, this.stateDir, command.label, command.script, ...(command.args ?? [])],
      command.stdin,
    );
    const pid = Number(result.stdout.trim());
    if (result.exitCode !== 0 || !Number.isInteger(pid) || pid <= 1)
      throw this.fail(`starting ${command.label}`, result);
    return pid;
  }

  private async status(pid: number, command: GuestCommand): Promise<CommandStatus> {
    const result = await this.call(STATUS, 'openclaw-migrate-status', [this.stateDir, command.label, String(pid)]);
    if (result.exitCode === 10) return { state: 'running' };
    if (result.exitCode === 11) return { state: 'unknown' };
    if (result.exitCode !== 0 && result.exitCode !== 12)
      throw this.fail(`the status of ${command.label} (pid ${pid})`, result);
    const newline = result.stdout.indexOf('\n');
    const rc = /^rc=(\d*)$/.exec(result.stdout.slice(0, newline));
    if (newline < 0 || !rc) throw this.fail(`reading the status of ${command.label} (pid ${pid})`, result);
    const stdout = result.stdout.slice(newline + 1);
    if (result.exitCode === 12) {
      // the runner died without writing rc: killed (by us after a timeout, or by someone else)
      return { state: 'exited', result: { exitCode: 137, stdout, stderr: result.stderr } };
    }
    return { state: 'exited', result: { exitCode: Number(rc[1]), stdout, stderr: result.stderr } };
  }

  private async kill(pid: number, graceMs: number): Promise<void> {
    const result = await this.call(
      KILL_SCRIPT,
      'openclaw-migrate-kill',
      [String(pid), graceSeconds(graceMs)],
      undefined,
      graceMs + 15_000,
    );
    checkKill(result, pid);
  }

  private async collect(pid: number, command: GuestCommand): Promise<{ stdout: string; stderr: string }> {
    const now = await this.status(pid, command);
    if (now.state === 'exited') return { stdout: now.result.stdout, stderr: now.result.stderr };
    throw new GuestExecFailed(`${command.label} (pid ${pid}) is ${now.state === 'running' ? 'still running' : 'gone'}`);
  }

  private async cleanup(pid: number, command: GuestCommand): Promise<void> {
    await this.call(CLEANUP, 'openclaw-migrate-cleanup', [this.stateDir, command.label, String(pid)]);
  }
}
