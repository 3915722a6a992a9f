import { constants } from 'node:os';

const US_PER_MS = 1000;
const US_PER_S = 1_000_000;
const US_PER_MIN = 60 * US_PER_S;
const US_PER_H = 60 * US_PER_MIN;
const US_PER_DAY = 24 * US_PER_H;
const US_PER_WEEK = 7 * US_PER_DAY;
const US_PER_MONTH = 2_629_800 * US_PER_S;
const US_PER_YEAR = 31_557_600 * US_PER_S;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function tzName(d: Date): string {
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(d)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? 'UTC';
}

/** systemd's format_timestamp(): `Thu 2026-02-19 10:00:00 UTC`. */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getDay()]} ${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tzName(d)}`
  );
}

/** journalctl's short format time: `Feb 19 10:00:00` (local time). */
export function formatShortTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${MONTHS[d.getMonth()]} ${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** journalctl -o short-iso. */
export function formatIsoTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:` +
    `${pad(d.getSeconds())}${sign}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`
  );
}

/** journalctl -o short-precise. */
export function formatPreciseTime(us: number): string {
  return `${formatShortTime(us)}.${pad(Math.floor(us % US_PER_S), 6)}`;
}

/** systemd's format_timestamp_relative(): `5s ago`, `1min 3s ago`, `2h 5min ago`. */
export function formatRelative(thenMs: number, nowMs: number = Date.now()): string {
  const d = Math.max(0, Math.round((nowMs - thenMs) * 1000));
  const s = 'ago';
  const f = Math.floor;
  if (d >= US_PER_YEAR) {
    const y = f(d / US_PER_YEAR);
    const m = f((d % US_PER_YEAR) / US_PER_MONTH);
    return `${y} ${y === 1 ? 'year' : 'years'} ${m} ${m === 1 ? 'month' : 'months'} ${s}`;
  }
  if (d >= US_PER_MONTH) {
    const m = f(d / US_PER_MONTH);
    const days = f((d % US_PER_MONTH) / US_PER_DAY);
    return `${m} ${m === 1 ? 'month' : 'months'} ${days} ${days === 1 ? 'day' : 'days'} ${s}`;
  }
  if (d >= US_PER_WEEK) {
    const w = f(d / US_PER_WEEK);
    const days = f((d % US_PER_WEEK) / US_PER_DAY);
    return `${w} ${w === 1 ? 'week' : 'weeks'} ${days} ${days === 1 ? 'day' : 'days'} ${s}`;
  }
  if (d >= 2 * US_PER_DAY) return `${f(d / US_PER_DAY)} days ${s}`;
  if (d >= 25 * US_PER_H) return `1 day ${f((d - US_PER_DAY) / US_PER_H)}h ${s}`;
  if (d >= 6 * US_PER_H) return `${f(d / US_PER_H)}h ${s}`;
  if (d >= US_PER_H) return `${f(d / US_PER_H)}h ${f((d % US_PER_H) / US_PER_MIN)}min ${s}`;
  if (d >= 5 * US_PER_MIN) return `${f(d / US_PER_MIN)}min ${s}`;
  if (d >= US_PER_MIN) return `${f(d / US_PER_MIN)}min ${f((d % US_PER_MIN) / US_PER_S)}s ${s}`;
  if (d >= US_PER_S) return `${f(d / US_PER_S)}s ${s}`;
  if (d >= US_PER_MS) return `${f(d / US_PER_MS)}ms ${s}`;
  if (d > 0) return `${d}us ${s}`;
  return 'now';
}

/** systemd's format_timespan() with millisecond accuracy: `312ms`, `1.234s`, `1min 30s`, `infinity`. */
export function formatTimespan(us: number): string {
  if (!Number.isFinite(us)) return 'infinity';
  if (us <= 0) return '0';
  const units: Array<[string, number]> = [
    ['y', US_PER_YEAR],
    ['month', US_PER_MONTH],
    ['w', US_PER_WEEK],
    ['d', US_PER_DAY],
    ['h', US_PER_H],
    ['min', US_PER_MIN],
    ['s', US_PER_S],
    ['ms', US_PER_MS],
  ];
  const parts: string[] = [];
  let t = Math.round(us / US_PER_MS) * US_PER_MS;
  for (const [name, size] of units) {
    if (t <= 0) break;
    if (t < size) continue;
    const a = Math.floor(t / size);
    const b = t % size;
    if (name === 's' && b > 0 && us < US_PER_MIN) {
      // dot notation below a minute, like systemd: 1.234s
      const frac = String(Math.round(b / US_PER_MS))
        .padStart(3, '0')
        .replace(/0+$/, '');
      parts.push(`${a}.${frac}s`);
      t = 0;
      break;
    }
    parts.push(`${a}${name}`);
    t = b;
  }
  return parts.join(' ') || '0';
}

/** systemd's format_bytes(): `7.8M`, `512.0K`, `900B`. */
export function formatBytes(n: number): string {
  const units: Array<[string, number]> = [
    ['E', 2 ** 60],
    ['P', 2 ** 50],
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ];
  for (const [suffix, size] of units) {
    if (n >= size) {
      const whole = Math.floor(n / size);
      const tenth = Math.floor(((n % size) * 10) / size);
      return `${whole}.${tenth}${suffix}`;
    }
  }
  return `${n}B`;
}

const EXIT_NAMES: Record<number, string> = {
  0: 'SUCCESS',
  1: 'FAILURE',
  2: 'INVALIDARGUMENT',
  3: 'NOTIMPLEMENTED',
  4: 'NOPERMISSION',
  5: 'NOTINSTALLED',
  6: 'NOTCONFIGURED',
  7: 'NOTRUNNING',
  200: 'CHDIR',
  201: 'NICE',
  202: 'FDS',
  203: 'EXEC',
  204: 'MEMORY',
  205: 'LIMITS',
  206: 'OOM_ADJUST',
  207: 'SIGNAL_MASK',
  208: 'STDIN',
  209: 'STDOUT',
  210: 'CHROOT',
  211: 'IOPRIO',
  212: 'TIMERSLACK',
  213: 'SECUREBITS',
  214: 'SETSCHEDULER',
  215: 'CPUAFFINITY',
  216: 'GROUP',
  217: 'USER',
  218: 'CAPABILITIES',
  219: 'CGROUP',
  220: 'SETSID',
  221: 'CONFIRM',
  222: 'STDERR',
  224: 'PAM',
  225: 'NETWORK',
  226: 'NAMESPACE',
  227: 'NO_NEW_PRIVILEGES',
  228: 'SECCOMP',
  229: 'SELINUX_CONTEXT',
  230: 'PERSONALITY',
  231: 'APPARMOR_PROFILE',
  232: 'ADDRESS_FAMILIES',
  233: 'RUNTIME_DIRECTORY',
  235: 'CHOWN',
  236: 'SMACK_PROCESS_LABEL',
  237: 'KEYRING',
  238: 'STATE_DIRECTORY',
  239: 'CACHE_DIRECTORY',
  240: 'LOGS_DIRECTORY',
  241: 'CONFIGURATION_DIRECTORY',
  242: 'NUMA_POLICY',
  243: 'CREDENTIALS',
  245: 'BPF',
};

/** `1/FAILURE`, `203/EXEC`, `42/n/a`. */
export function exitStatusString(code: number): string {
  return `${code}/${EXIT_NAMES[code] ?? 'n/a'}`;
}

const SIGNALS = constants.signals as Record<string, number>;

export function signalNumber(name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  const key = name.toUpperCase().startsWith('SIG') ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  return SIGNALS[key];
}

/** `TERM` for SIGTERM (as in `status=15/TERM`). */
export function signalShortName(sig: string | number): string {
  if (typeof sig === 'string') return sig.replace(/^SIG/, '');
  const found = Object.entries(SIGNALS).find(([, n]) => n === sig);
  return found ? found[0].replace(/^SIG/, '') : String(sig);
}

export function signalFullName(sig: string | number): string {
  return `SIG${signalShortName(sig)}`;
}
