import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { formatIsoTime, formatPreciseTime, formatShortTime } from './format';
import { LabPaths } from './paths';

/**
 * The lab's journal: one file per unit under /var/log/journal-lab/<unit>.jsonl (the manager's own messages that
 * belong to no unit go to manager.jsonl), one JSON object per line. journalctl merges them by time.
 */
export interface JournalEntry {
  /** realtime, microseconds since the epoch */
  t: number;
  /** hostname */
  h: string;
  /** SYSLOG_IDENTIFIER */
  i: string;
  /** _PID */
  p: number;
  /** MESSAGE */
  m: string;
  /** _SYSTEMD_UNIT / UNIT */
  u?: string;
  /** _BOOT_ID */
  b: string;
  /** PRIORITY */
  pr: number;
}

export const MANAGER_FILE = 'manager';
const ROTATE_BYTES = 16 * 1024 * 1024;

let lastUs = 0;
/** Strictly increasing microsecond timestamps, so a sort by time keeps the order of writing. */
function nowUs(): number {
  const us = Date.now() * 1000;
  lastUs = us > lastUs ? us : lastUs + 1;
  return lastUs;
}

export class JournalWriter {
  private readonly dir: string;

  constructor(
    paths: LabPaths,
    readonly bootId: string,
  ) {
    this.dir = paths.journalDir;
    fs.mkdirSync(this.dir, { recursive: true });
  }

  fileFor(unit: string | undefined): string {
    return path.join(this.dir, `${unit ?? MANAGER_FILE}.jsonl`);
  }

  write(unit: string | undefined, ident: string, pid: number, message: string, priority = 6): void {
    const entry: JournalEntry = {
      t: nowUs(),
      h: os.hostname(),
      i: ident,
      p: pid,
      m: message,
      b: this.bootId,
      pr: priority,
    };
    if (unit) entry.u = unit;
    const file = this.fileFor(unit);
    try {
      const st = fs.statSync(file);
      if (st.size > ROTATE_BYTES) fs.renameSync(file, `${file}.1`);
    } catch {
      // first line
    }
    try {
      fs.appendFileSync(file, JSON.stringify(entry) + '\n');
    } catch {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.appendFileSync(file, JSON.stringify(entry) + '\n');
    }
  }
}

/** Splits a stream into lines (journald's stdout stream protocol: one entry per line; a final partial line too). */
export class LineSplitter {
  private buf = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      this.onLine(this.buf.slice(0, nl).replace(/\r$/, ''));
      this.buf = this.buf.slice(nl + 1);
    }
    if (this.buf.length > 48 * 1024) {
      this.onLine(this.buf);
      this.buf = '';
    }
  }
  end(): void {
    if (this.buf) this.onLine(this.buf);
    this.buf = '';
  }
}

function readFileEntries(file: string): JournalEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as JournalEntry);
    } catch {
      // a torn last line while the daemon writes
    }
  }
  return out;
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/** Entries of the given units (unit names or globs), or of everything; sorted by time. */
export function readEntries(paths: LabPaths, units?: string[]): JournalEntry[] {
  const dir = paths.journalDir;
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => /\.jsonl(\.1)?$/.test(f));
  } catch {
    return [];
  }
  if (units) {
    const res = units.map(globToRegExp);
    files = files.filter((f) => {
      const unit = f.replace(/\.jsonl(\.1)?$/, '');
      return unit !== MANAGER_FILE && res.some((r) => r.test(unit));
    });
  }
  files.sort((a, b) => (a.endsWith('.1') === b.endsWith('.1') ? 0 : a.endsWith('.1') ? -1 : 1));
  const all = files.flatMap((f) => readFileEntries(path.join(dir, f)));
  return all.sort((a, b) => a.t - b.t);
}

export function formatEntry(e: JournalEntry, mode = 'short', opts: { noHostname?: boolean } = {}): string {
  const host = opts.noHostname ? '' : ` ${e.h}`;
  const who = e.p ? `${e.i}[${e.p}]` : e.i;
  switch (mode) {
    case 'cat':
      return e.m;
    case 'short-iso':
      return `${formatIsoTime(e.t)}${host} ${who}: ${e.m}`;
    case 'short-precise':
      return `${formatPreciseTime(e.t)}${host} ${who}: ${e.m}`;
    case 'short-unix':
      return `${(e.t / 1e6).toFixed(6)}${host} ${who}: ${e.m}`;
    case 'json':
      return JSON.stringify({
        __REALTIME_TIMESTAMP: String(e.t),
        _BOOT_ID: e.b,
        _HOSTNAME: e.h,
        SYSLOG_IDENTIFIER: e.i,
        _PID: String(e.p),
        PRIORITY: String(e.pr),
        ...(e.u ? { _SYSTEMD_UNIT: e.u } : {}),
        MESSAGE: e.m,
      });
    default:
      return `${formatShortTime(e.t)}${host} ${who}: ${e.m}`;
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* journalctl                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

interface JournalctlOptions {
  units: string[];
  lines?: number;
  follow: boolean;
  output: string;
  reverse: boolean;
  since?: number;
  until?: number;
  identifiers: string[];
  priority?: number;
  noHostname: boolean;
  grep?: RegExp;
  quiet: boolean;
}

const PRIORITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/** --since/--until: `YYYY-MM-DD [HH:MM[:SS]]`, `today`, `yesterday`, `now`, `-5min`, `5 min ago`, `@epoch`. */
export function parseTimeSpec(spec: string, now = Date.now()): number | undefined {
  const s = spec.trim();
  const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  if (s === 'now') return now;
  if (s === 'today') return startOfDay(new Date(now));
  if (s === 'yesterday') return startOfDay(new Date(now)) - 86400_000;
  if (s === 'tomorrow') return startOfDay(new Date(now)) + 86400_000;
  if (s.startsWith('@')) return Number(s.slice(1)) * 1000;
  const rel = /^([+-])\s*(.+)$/.exec(s) ?? /^()(.+)\s+ago$/.exec(s);
  if (rel) {
    const m = /^(\d+)\s*(s|sec|second|seconds|m|min|minute|minutes|h|hour|hours|d|day|days|w|week|weeks)$/.exec(
      rel[2].trim(),
    );
    if (m) {
      const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
      const key = m[2].startsWith('mi') || m[2] === 'm' ? 'm' : m[2][0];
      const ms = Number(m[1]) * unit[key] * 1000;
      return rel[1] === '+' ? now + ms : now - ms;
    }
  }
  const abs = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  if (abs) {
    return new Date(
      Number(abs[1]),
      Number(abs[2]) - 1,
      Number(abs[3]),
      Number(abs[4] ?? 0),
      Number(abs[5] ?? 0),
      Number(abs[6] ?? 0),
    ).getTime();
  }
  const hm = /^(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s);
  if (hm) {
    const d = new Date(now);
    return new Date(
      d.getFullYear(),
      d.getMonth(),
      d.getDate(),
      Number(hm[1]),
      Number(hm[2]),
      Number(hm[3] ?? 0),
    ).getTime();
  }
  return undefined;
}

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

function parseJournalctlArgs(argv: string[], io: CliIO): JournalctlOptions | number {
  const o: JournalctlOptions = {
    units: [],
    follow: false,
    output: 'short',
    reverse: false,
    identifiers: [],
    noHostname: false,
    quiet: false,
  };
  const takesValue = new Set(['-u', '--unit', '-n', '--lines', '-o', '--output', '-S', '--since', '-U', '--until']);
  const more = new Set(['-t', '--identifier', '-p', '--priority', '-g', '--grep', '-b', '--boot', '-D', '--directory']);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      val = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    } else if (/^-[unoSUtpg].+/.test(a)) {
      val = a.slice(2);
      a = a.slice(0, 2);
    }
    const need = () => {
      if (val !== undefined) return val;
      if (i + 1 >= argv.length) throw new Error(`option requires an argument -- '${a.replace(/^-+/, '')}'`);
      return argv[++i];
    };
    switch (a) {
      case '-u':
      case '--unit': {
        const u = need();
        o.units.push(u.includes('.') || u.includes('*') ? u : `${u}.service`);
        break;
      }
      case '-n':
      case '--lines': {
        // -n takes an optional argument: a following number, else 10
        if (val !== undefined) o.lines = val === 'all' ? undefined : Number(val);
        else if (i + 1 < argv.length && /^\+?\d+$/.test(argv[i + 1])) o.lines = Number(argv[++i]);
        else o.lines = 10;
        if (o.lines !== undefined && Number.isNaN(o.lines)) {
          io.err(`Failed to parse lines '${val}'`);
          return 1;
        }
        break;
      }
      case '-e':
      case '--pager-end':
        o.lines ??= 1000;
        break;
      case '-f':
      case '--follow':
        o.follow = true;
        break;
      case '-o':
      case '--output':
        o.output = need();
        if (!['short', 'short-iso', 'short-precise', 'short-unix', 'cat', 'json', 'short-full'].includes(o.output)) {
          io.err(`Unknown output format '${o.output}'.`);
          return 1;
        }
        break;
      case '-r':
      case '--reverse':
        o.reverse = true;
        break;
      case '-S':
      case '--since':
      case '-U':
      case '--until': {
        const v = need();
        const t = parseTimeSpec(v);
        if (t === undefined) {
          io.err(`Failed to parse timestamp: ${v}`);
          return 1;
        }
        if (a === '-S' || a === '--since') o.since = t;
        else o.until = t;
        break;
      }
      case '-t':
      case '--identifier':
        o.identifiers.push(need());
        break;
      case '-p':
      case '--priority': {
        const v = need();
        const max = v.includes('..') ? v.split('..')[1] : v;
        const n = /^\d$/.test(max) ? Number(max) : PRIORITIES.indexOf(max);
        if (n < 0) {
          io.err(`Unknown log level ${v}`);
          return 1;
        }
        o.priority = n;
        break;
      }
      case '-g':
      case '--grep':
        o.grep = new RegExp(need(), 'i');
        break;
      case '--no-hostname':
        o.noHostname = true;
        break;
      case '-q':
      case '--quiet':
        o.quiet = true;
        break;
      case '-b':
      case '--boot':
        // the lab keeps one journal; -b [ID] is accepted and shows everything
        if (val === undefined && i + 1 < argv.length && /^(-?\d+|[0-9a-f]{32})$/.test(argv[i + 1])) i++;
        break;
      case '--no-pager':
      case '-x':
      case '--catalog':
      case '-a':
      case '--all':
      case '-l':
      case '--full':
      case '--system':
      case '-m':
      case '--merge':
      case '--utc':
        break;
      case '-h':
      case '--help':
        io.out(
          'journalctl [OPTIONS...] [MATCHES...]\n\nQuery the journal (lab stand-in).\n\n' +
            '  -u --unit=UNIT        Show logs from the specified unit\n' +
            '  -n --lines[=INTEGER]  Number of journal entries to show\n' +
            '  -e --pager-end        Jump to the end\n' +
            '  -f --follow           Follow the journal\n' +
            '  -o --output=STRING    short, short-iso, short-precise, short-unix, cat, json\n' +
            '  -r --reverse          Show the newest entries first\n' +
            '  -S --since=DATE       Show entries not older than the specified date\n' +
            '  -U --until=DATE       Show entries not newer than the specified date\n' +
            '  -t --identifier=STR   Show entries with the specified syslog identifier\n' +
            '  -p --priority=RANGE   Show entries with the specified priority\n' +
            '  -g --grep=PATTERN     Show entries with MESSAGE matching PATTERN\n' +
            '     --no-pager         Do not pipe output into a pager\n',
        );
        return 0;
      case '--version':
        io.out('systemd 252 (252.33-1~deb12u1-lab)\n');
        return 0;
      default:
        if (a.startsWith('-')) {
          if (more.has(a)) break;
          if (takesValue.has(a)) break;
          io.err(
            a.startsWith('--') ? `journalctl: unrecognized option '${a}'` : `journalctl: invalid option -- '${a[1]}'`,
          );
          return 1;
        }
        // matches: _SYSTEMD_UNIT=x, SYSLOG_IDENTIFIER=x
        if (a.startsWith('_SYSTEMD_UNIT=') || a.startsWith('UNIT=')) o.units.push(a.slice(a.indexOf('=') + 1));
        else if (a.startsWith('SYSLOG_IDENTIFIER=')) o.identifiers.push(a.slice(18));
        else {
          io.err(`Failed to add match '${a}': Invalid argument`);
          return 1;
        }
    }
  }
  return o;
}

export async function journalctlMain(argv: string[], paths: LabPaths, io: CliIO): Promise<number> {
  let opts: JournalctlOptions | number;
  try {
    opts = parseJournalctlArgs(argv, io);
  } catch (err) {
    io.err(`journalctl: ${(err as Error).message}`);
    return 1;
  }
  if (typeof opts === 'number') return opts;
  const o = opts;
  const filter = (e: JournalEntry) =>
    (o.since === undefined || e.t >= o.since * 1000) &&
    (o.until === undefined || e.t <= o.until * 1000) &&
    (o.identifiers.length === 0 || o.identifiers.includes(e.i)) &&
    (o.priority === undefined || e.pr <= o.priority) &&
    (!o.grep || o.grep.test(e.m));
  let entries = readEntries(paths, o.units.length ? o.units : undefined).filter(filter);
  if (o.lines !== undefined) entries = o.lines === 0 ? [] : entries.slice(-o.lines);
  if (o.reverse) entries.reverse();
  if (!fs.existsSync(paths.journalDir) && !o.quiet) io.err('No journal files were found.');
  if (entries.length === 0 && !o.follow) {
    if (!o.quiet) io.out('-- No entries --\n');
    return 0;
  }
  let lastBoot: string | undefined;
  const print = (e: JournalEntry) => {
    if (o.output.startsWith('short') && lastBoot !== undefined && e.b !== lastBoot) io.out(`-- Boot ${e.b} --\n`);
    lastBoot = e.b;
    io.out(formatEntry(e, o.output, { noHostname: o.noHostname }) + '\n');
  };
  entries.forEach(print);
  if (!o.follow) return 0;
  let seen = entries.length ? entries[entries.length - 1].t : Date.now() * 1000;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const fresh = readEntries(paths, o.units.length ? o.units : undefined).filter((e) => e.t > seen && filter(e));
      for (const e of fresh) print(e);
      if (fresh.length) seen = fresh[fresh.length - 1].t;
    }, 250);
    const stop = () => {
      clearInterval(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
