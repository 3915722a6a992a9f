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

/** An exit status of a guest command that is a failure of its own, not retried (every status without exitCode). */
interface Refusal {
  type: NonRetryableType;
  message: string;
  exitCode?: number;
}

/** Like runInGuest, and a non-zero exit fails the activity: retryable, unless one of `refusals` matches it. */

export async function runChecked(
  params: MigrateVmParams,
  command: GuestCommand,
  refusals?: Refusal | Refusal[],
): Promise<GuestResult> {
  const result = await runInGuest(params, command);
  if (result.exitCode !== 0) {
    const output = lastLines(`${result.stdout}\n${result.stderr}`);
    const refusal = [refusals ?? []].flat().find((r) => (r.exitCode ?? result.exitCode) === result.exitCode);
    if (refusal) refuse(refusal.type, `${refusal.message}: exit ${result.exitCode}\n${output}`);
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
 * messages quote what qm or the guest's agent answered: filtered and cut, as guest output is, before they reach the
 * history.
 */
export function asFailure(err: unknown): unknown {
  return err instanceof RemoteError ? failure(err.name, oneLine(withholdCredentials(err.message), 2000)) : err;
}

const WITHHELD = '[withheld]';

/**
 * What has a credential's shape, and what it becomes: PEM blocks; auth headers and bearer tokens; a URL's userinfo;
 * the value of a `password=`, `token:` or `"apiKey": "…"` (not a number, boolean or null: `"inputTokens": 10`); the
 * tokens of known services by their prefix; and random-looking words (randomLooking). Paths, words and ids stay, so
 * a failure's reason can still be read.
 */
const CREDENTIAL_SHAPES: [RegExp, string | ((match: string) => string)][] = [
  [/-----BEGIN [A-Z0-9 ]*-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/g, '[withheld: a PEM block]'],
  [/\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|x-auth-token)(\s*[:=]\s*)[^\n]*/gi, `$1$2${WITHHELD}`],
  [/\b(bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/gi, `$1${WITHHELD}`],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi, `$1${WITHHELD}@`],
  [
    /([\w.-]*(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[\w.-]*["']?\s*[:=]\s*)(?!(?:-?\d+|true|false|null)\b)("[^"\n]*"|'[^'\n]*'|[^\s,;&"'{[]+)/gi,
    `$1${WITHHELD}`,
  ],
  [
    /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}|sk-[\w-]{20,}|xox[abposr]-[\w-]{10,}|xapp-[\w-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[\w-]{35}|glpat-[\w-]{20,}|npm_[A-Za-z0-9]{36}|eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*|[MNO][\w-]{23,27}\.[\w-]{6}\.[\w-]{27,})/g,
    '[withheld: a token]',
  ],
  [/(?<![0-9])[0-9]{8,10}:[\w-]{35}(?![\w-])/g, '[withheld: a bot token]'],
  [/[\w+/=.~-]{20,}/g, (word) => (randomLooking(word) ? '[withheld: a random-looking string]' : word)],
];

/**
 * A word that looks random rather than written: never one with a '/' (a path or a URL, however long) nor a UUID (an
 * id: sessions, runs); 32 or more hex digits (keys, also hashes); or 20 letters and digits or more that mix lower
 * case, upper case and digits and switch between them at least every third character or so (words and CamelCase
 * switch less).
 */
function randomLooking(word: string): boolean {
  if (word.includes('/')) return false;
  const plain = word.replace(/[^A-Za-z0-9]/g, '');
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(word)) return false;
  if (/^(?:[0-9a-f]{32,}|[0-9A-F]{32,})$/.test(plain)) return /[0-9]/.test(plain) && /[a-f]/i.test(plain);
  if (plain.length < 20 || !/[a-z]/.test(plain) || !/[A-Z]/.test(plain) || !/[0-9]/.test(plain)) return false;
  const kind = (c: string) => (c >= 'a' && c <= 'z' ? 0 : c >= 'A' && c <= 'Z' ? 1 : 2);
  let switches = 0;
  for (let i = 1; i < plain.length; i++) if (kind(plain[i]) !== kind(plain[i - 1])) switches++;
  return switches / (plain.length - 1) >= 0.3;
}

/** Text from a guest, qm or the node with whatever has a credential's shape withheld (CREDENTIAL_SHAPES). */
export function withholdCredentials(text: string): string {
  return CREDENTIAL_SHAPES.reduce(
    (kept, [shape, replacement]) => kept.replace(shape, replacement as (match: string) => string),
    text,
  );
}

/**
 * The guest's last lines for a failure message (history, record): at most `count` lines and `maxBytes` bytes,
 * credentials withheld (withholdCredentials), each line cut and its control characters escaped.
 */
export function lastLines(text: string, count = 20, maxBytes = 2000): string {
  const lines = withholdCredentials(text.trim())
    .split('\n')
    .slice(-count)
    .map((line) => oneLine(line, 240));
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

/** The first value of `key` in a guest's key-value answer (keyValues), which the answer must have. */
export function requiredValue(values: Map<string, string[]>, key: string): string {
  const found = values.get(key)?.[0];
  if (found === undefined) throw new Error(`the guest's answer lacks '${key}'`);
  return found;
}
