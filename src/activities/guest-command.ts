import { CancelledFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import type { GuestCommand, GuestResult } from '../remote/guest';
import { guestFor, nodeFor } from '../remote';
import { RemoteError } from '../remote/errors';
import { failure, type NonRetryableType } from '../failures';
import type { SshEndpoint } from '../inventory';
import type { MigrateVmParams } from '../migration/input';
import { oneLine } from '../schema';

/** Fails the activity for good with this type, which the operator sees in the UI: no retry can fix it. */
export function refuse(type: NonRetryableType, message: string, details?: unknown): never {
  throw failure(type, message, details === undefined ? [] : [details]);
}

interface Heartbeat {
  label: string;
  pid: number;
}

/** What each running activity (attempt) heartbeated last. */
const lastHeartbeat = new WeakMap<Context, Heartbeat>();

/** How often runInGuest heartbeats while it waits, whatever the guest's answers take: the worker is alive. */
export const HEARTBEAT_PULSE_MS = 2000;

/**
 * Cancellations that end this attempt without anyone asking for the work to stop: the worker shuts down, or the
 * server gave up on the attempt (a timeout) and retries it. The retry resumes the guest command by its pid, as
 * after a crashed worker, so it is left running. Anything else (the run cancelled, the activity paused or reset,
 * the run closed) kills it.
 */
const ATTEMPT_ENDED = new Set(['WORKER_SHUTDOWN', 'TIMED_OUT']);

/**
 * Runs one of a phase's fixed scripts in the VM for the current activity: heartbeats the guest pid while it
 * waits, kills the guest command when the activity is cancelled (not when the attempt merely ends, see
 * ATTEMPT_ENDED), and on a retry waits for the previous attempt's command when it still runs instead of starting
 * a second one.
 */
export async function runInGuest(params: MigrateVmParams, command: GuestCommand): Promise<GuestResult> {
  const context = Context.current();
  const previous = context.info.heartbeatDetails as Heartbeat | undefined;
  const resumePid = previous?.label === command.label ? previous.pid : undefined;
  // The pulse repeats the last pid this attempt heartbeated, else the previous attempt's: a crash before this
  // command's pid is known must still leave the next attempt a pid to resume.
  const pulse = setInterval(() => context.heartbeat(lastHeartbeat.get(context) ?? previous), HEARTBEAT_PULSE_MS);
  try {
    return await guestFor(params).run(command, {
      signal: context.cancellationSignal,
      leaveRunning: (reason) => reason instanceof CancelledFailure && ATTEMPT_ENDED.has(reason.message),
      resumePid,
      onProgress: ({ pid }) => {
        const details: Heartbeat = { label: command.label, pid };
        lastHeartbeat.set(context, details);
        context.heartbeat(details);
      },
    });
  } catch (err) {
    throw asFailure(err);
  } finally {
    clearInterval(pulse);
  }
}

/**
 * Like runInGuest, and a non-zero exit fails the activity (retryable, unless `refusal` names a type that is not;
 * with `exitCode`, only that exit is refused).
 */
export async function runChecked(
  params: MigrateVmParams,
  command: GuestCommand,
  refusal?: { type: NonRetryableType; message: string; exitCode?: number },
): Promise<GuestResult> {
  const result = await runInGuest(params, command);
  if (result.exitCode !== 0) {
    const output = lastLines(`${result.stdout}\n${result.stderr}`);
    if (refusal && (refusal.exitCode ?? result.exitCode) === result.exitCode)
      refuse(refusal.type, `${refusal.message}: exit ${result.exitCode}\n${output}`);
    throw failure('GuestCommandFailed', `${command.label} exited ${result.exitCode} on vm ${params.vmid}:\n${output}`);
  }
  return result;
}

/** `qm` on the node, for the scan's read-only look at the VM from outside. */
export async function qm(params: MigrateVmParams, args: string[]): Promise<GuestResult> {
  try {
    return await nodeFor(params.node).qm(args);
  } catch (err) {
    throw asFailure(err);
  }
}

/** A fixed script on the node itself (the shared resources: NAT rules, ledger). */
export async function onNode(node: SshEndpoint, command: Omit<GuestCommand, 'timeoutMs'>): Promise<GuestResult> {
  try {
    return await nodeFor(node).shell(command);
  } catch (err) {
    throw asFailure(err);
  }
}

/**
 * The remote layer's errors become failures of their own type; those no retry can fix end the activity. Their
 * messages quote what qm or the guest's agent answered: cut, as guest output is, before they reach the history.
 */
function asFailure(err: unknown): unknown {
  return err instanceof RemoteError ? failure(err.name, oneLine(err.message, 2000)) : err;
}

/** Lines of guest output that may hold a secret: tokens, passwords, auth headers, keys, long random strings. */
const CREDENTIAL =
  /token|passw|secret|api[_-]?key|authori[sz]ation|bearer|cookie|private[ _-]?key|-----BEGIN|[A-Za-z0-9+/_=-]{32,}/i;

/**
 * The guest's last lines for a failure message (history, record): at most `count` lines and `maxBytes` bytes,
 * each line cut, control characters escaped, and a line that looks like a credential withheld.
 */
export function lastLines(text: string, count = 20, maxBytes = 2000): string {
  const lines = text
    .trim()
    .split('\n')
    .slice(-count)
    .map((line) => (CREDENTIAL.test(line) ? '[line withheld: it looks like a credential]' : oneLine(line, 240)));
  let kept = lines.join('\n');
  while (Buffer.byteLength(kept) > maxBytes && lines.length > 1) kept = (lines.shift(), `[…]\n${lines.join('\n')}`);
  return Buffer.byteLength(kept) > maxBytes ? oneLine(kept, maxBytes / 4) : kept;
}

/** A `key=value` line that a phase script prints for its activity to read; the key is lower case. */
const KEY_VALUE_LINE = /^([a-z_][a-z0-9_]*)=/;

/** Parses `key=value` lines (a key may repeat) that the phase scripts print for the activities to read. */
export function keyValues(stdout: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const key = KEY_VALUE_LINE.exec(line)?.[1];
    if (key === undefined) continue;
    values.set(key, [...(values.get(key) ?? []), line.slice(key.length + 1)]);
  }
  return values;
}

/** A phase's output without the key=value lines its activity reads: the tools' own tables, for the record. */
export function withoutKeyValues(stdout: string): string {
  return stdout
    .split('\n')
    .filter((line) => !KEY_VALUE_LINE.test(line))
    .join('\n')
    .trim();
}

/**
 * A moment by the guest's own clock, as its scripts print it (`date +%s%3N`: milliseconds since the epoch, 13
 * digits until the year 2286), kept as an ISO time: outages are differences of two such, so no other clock enters.
 */
export const GuestClockSchema = z
  .string()
  .regex(/^\d{13}$/, "the guest's clock in milliseconds (date +%s%3N)")
  .transform((ms) => new Date(Number(ms)).toISOString());

export function one(values: Map<string, string[]>, key: string): string {
  const found = values.get(key)?.[0];
  if (found === undefined) throw new Error(`the guest's answer lacks '${key}'`);
  return found;
}
