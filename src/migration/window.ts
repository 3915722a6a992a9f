/**
 * Maintenance windows (issue 23): the hours in which a VM's outage may start. A window recurs on its days at a local
 * time of its IANA zone; phase C (Docker stopped: the customer's outage begins) starts only inside it and only while
 * enough of it is left for the cutover. Pure functions of the time given: the workflow passes its own (deterministic)
 * time, and the zone's offsets come from Intl, which the workflow sandbox keeps (the worker's ICU data: a worker on a
 * release whose tz rules differ would place a window differently from then on, not change a past decision).
 */
import { z } from 'zod';
import { DAY, duration, HOUR, MINUTE, SECOND, strictObject } from '../schema';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** 'HH:MM' or 'HH:MM:SS', 24-hour local time. */
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'a time of day, HH:MM or HH:MM:SS (24-hour)');

/** An IANA time zone Intl knows, in its canonical spelling (as Intl resolves it). */
const timeZone = z
  .string()
  .max(64)
  .transform((zone, ctx) => {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    } catch {
      ctx.addIssue({ code: 'custom', message: `unknown time zone '${zone}' (an IANA name, e.g. Asia/Shanghai)` });
      return z.NEVER;
    }
  });

/** When no bound is set and none measured: what the cutover may take, by the run's order (see `cutoverBound`). */
export const SAFE_CUTOVER_MS = { sop: HOUR, prestaged: 20 * MINUTE } as const;

export const WindowSchema = strictObject({
  /** the days it opens on (its local date; a window past midnight ends on the next); default every day */
  days: z
    .array(z.enum(WEEKDAYS))
    .min(1)
    .max(7)
    .refine((days) => new Set(days).size === days.length, 'each day once')
    .optional(),
  start: clock,
  /** at or before `start`: the window ends on the next day */
  end: clock,
  timeZone,
  /** how much of the window the cutover needs (C to H): C starts no later than this before the end */
  cutoverMs: duration(SECOND, DAY).optional(),
  /** phase I (Docker removal, after approval) waits for the window too; default: it runs once approved */
  removeDocker: z.boolean().optional(),
}).superRefine((window, ctx) => {
  if (secondsOf(window.start) === secondsOf(window.end))
    ctx.addIssue({ code: 'custom', path: ['end'], message: 'the same as start: an empty window' });
  else if (window.cutoverMs !== undefined && window.cutoverMs > lengthMs(window))
    ctx.addIssue({
      code: 'custom',
      path: ['cutoverMs'],
      message: `longer than the window (${inWords(lengthMs(window))}): no cutover would ever start`,
    });
});
export type MaintenanceWindow = z.output<typeof WindowSchema>;

function secondsOf(time: string): number {
  const [h, m, s = 0] = time.split(':').map(Number);
  return h * 3600 + m * 60 + s;
}

/** The window's length on a day without a clock change. */
export function lengthMs(window: Pick<MaintenanceWindow, 'start' | 'end'>): number {
  return ((((secondsOf(window.end) - secondsOf(window.start)) % 86400) + 86400) % 86400) * SECOND;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The zone's local date and time at an instant, as if it were UTC (ms), and its weekday. */
function local(zone: string, at: number): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const part = Object.fromEntries(format.formatToParts(new Date(at)).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(part.year, part.month - 1, part.day, part.hour, part.minute, part.second);
}

/** The zone's offset from UTC at an instant (local − UTC), to the second. */
function offsetAt(zone: string, at: number): number {
  return local(zone, at) - Math.floor(at / SECOND) * SECOND;
}

/**
 * The instant of a local date and time in a zone. A time that occurs twice (the clock set back) is its first; one
 * that never occurs (the clock set forward over it) is taken with the offset before the change, i.e. as much after
 * the gap as it was into it (02:30 on a day New York skips 02:00–03:00 is 03:30 EDT).
 */
function instantOf(zone: string, localMs: number): number {
  const before = offsetAt(zone, localMs - DAY);
  const after = offsetAt(zone, localMs + DAY);
  const fits = [before, after].map((offset) => localMs - offset).filter((at) => local(zone, at) === localMs);
  return fits.length ? Math.min(...fits) : localMs - before;
}

/** One occurrence of a window: when it opens and closes. */
export interface Opening {
  opensAt: number;
  closesAt: number;
}

/**
 * When a step that needs `needMs` of the window may start, at or after `now`: now, inside an occurrence with enough
 * of it left, else the opening of the next occurrence long enough. A need longer than an occurrence (a clock change
 * shortened it) waits for one long enough; the input refuses a bound longer than the window itself.
 */
export function nextStart(window: MaintenanceWindow, now: number, needMs: number): Opening & { at: number } {
  const days: readonly Weekday[] = window.days ?? WEEKDAYS;
  const today = local(window.timeZone, now);
  const midnight = today - (today % DAY);
  const [start, end] = [secondsOf(window.start) * SECOND, secondsOf(window.end) * SECOND];
  let last: Opening | undefined;
  // from yesterday (a window past midnight may still be open) over two weeks: one long enough is always among them
  for (let k = -1; k <= 14; k++) {
    const date = midnight + k * DAY;
    if (!days.includes(WEEKDAYS[new Date(date).getUTCDay()])) continue;
    const opening = {
      opensAt: instantOf(window.timeZone, date + start),
      closesAt: instantOf(window.timeZone, date + (end <= start ? DAY : 0) + end),
    };
    if (opening.closesAt <= now) continue;
    const at = Math.max(now, opening.opensAt);
    if (at + needMs <= opening.closesAt) return { at, ...opening };
    last ??= opening;
  }
  // unreachable while the bound fits the window (the input's check): the next opening, whatever is left of it
  const { opensAt, closesAt } = last!;
  return { at: Math.max(now, opensAt), opensAt, closesAt };
}

/** '3 h 12 min', '45 s': a wait as an operator reads it. */
export function inWords(ms: number): string {
  const minutes = Math.ceil(ms / MINUTE);
  if (ms < MINUTE) return `${Math.ceil(ms / SECOND)} s`;
  const [d, h, m] = [Math.floor(minutes / 1440), Math.floor((minutes % 1440) / 60), minutes % 60];
  return [d && `${d} d`, h && `${h} h`, m && `${m} min`].filter(Boolean).join(' ');
}

/** The zone's offset at an instant as 'UTC+8', 'UTC-4', 'UTC+5:30'. */
function utcOffset(zone: string, at: number): string {
  const minutes = Math.round(offsetAt(zone, at) / MINUTE);
  const sign = minutes < 0 ? '-' : '+';
  const [h, m] = [Math.floor(Math.abs(minutes) / 60), Math.abs(minutes) % 60];
  return `UTC${sign}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
}

/** '02:00–05:00 Asia/Shanghai (UTC+8), mon fri': the window as written, with the zone's offset at an instant. */
export function describeWindow(window: MaintenanceWindow, at: number): string {
  const days = window.days && window.days.length < 7 ? `, ${window.days.join(' ')}` : '';
  return `${window.start}–${window.end} ${window.timeZone} (${utcOffset(window.timeZone, at)})${days}`;
}

/** An instant as the zone's local date and time: '2026-12-07 02:00'. */
export function localTime(zone: string, at: number): string {
  return new Date(local(zone, at)).toISOString().slice(0, 16).replace('T', ' ');
}

/** How much of the window a cutover needs, and where that bound comes from (shown as the run waits). */
export function cutoverBound(
  window: MaintenanceWindow,
  prestage: boolean,
  measuredMs: number | undefined,
): { ms: number; from: string } {
  if (window.cutoverMs !== undefined) return { ms: window.cutoverMs, from: 'set by the operator' };
  // a default longer than the window would hold the VM for ever: it takes the whole window then
  const fit = (ms: number) => Math.min(ms, lengthMs(window));
  if (measuredMs !== undefined)
    return { ms: fit(Math.ceil(measuredMs * 1.5)), from: '1.5 × the longest cutover measured so far in this fleet' };
  const order = prestage ? 'prestaged' : 'sop';
  return {
    ms: fit(SAFE_CUTOVER_MS[order]),
    from: `the safe default for ${prestage ? 'a pre-staged' : "the SOP's"} order`,
  };
}
