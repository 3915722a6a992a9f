import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { LabPaths } from './paths';
import { lookupUser } from './users';

/* ------------------------------------------------------------------------------------------------------------ */
/* Unit names                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

export const UNIT_SUFFIXES = [
  'service',
  'socket',
  'target',
  'device',
  'mount',
  'automount',
  'swap',
  'timer',
  'path',
  'slice',
  'scope',
];

/** `foo` → `foo.service`, like systemctl's unit_name_mangle() for a plain name. */
export function mangleUnitName(name: string): string {
  const suffix = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
  return UNIT_SUFFIXES.includes(suffix) ? name : `${name}.service`;
}

export function unitSuffix(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

export function isValidUnitName(name: string): boolean {
  return /^[A-Za-z0-9:_.\\@-]+$/.test(name) && name.length <= 255 && UNIT_SUFFIXES.includes(unitSuffix(name));
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The ini syntax (systemd.syntax(7))                                                                           */
/* ------------------------------------------------------------------------------------------------------------ */

export interface IniEntry {
  section: string;
  key: string;
  value: string;
  file: string;
  line: number;
}

/** Parses one unit file or drop-in. `file` is the guest path used in messages. */
export function parseIni(text: string, file: string, warn: (msg: string) => void): IniEntry[] {
  const out: IniEntry[] = [];
  const lines = text.split('\n');
  let section = '';
  let continuation: string | undefined;
  let contLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].replace(/\r$/, '').replace(/^[ \t]+/, '');
    if (continuation !== undefined && (l.startsWith('#') || l.startsWith(';'))) continue;
    let line = continuation !== undefined ? continuation + l : l;
    const lineNo = continuation !== undefined ? contLine : i + 1;
    let escaped = false;
    for (const c of l) escaped = escaped ? false : c === '\\';
    if (escaped && i < lines.length - 1) {
      contLine = lineNo;
      continuation = line.slice(0, -1) + ' ';
      continue;
    }
    continuation = undefined;
    contLine = 0;
    line = line.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) {
        warn(`${file}:${lineNo}: Invalid section header '${line}'`);
        continue;
      }
      section = line.slice(1, -1);
      continue;
    }
    if (!section) {
      warn(`${file}:${lineNo}: Assignment outside of section. Ignoring.`);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) {
      warn(`${file}:${lineNo}: Missing '=', ignoring line.`);
      continue;
    }
    out.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim(), file, line: lineNo });
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Words, escapes, time spans                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

function cunescapeOne(s: string, i: number): [string, number] {
  // s[i] is the character after the backslash; returns [decoded, characters consumed]
  const c = s[i];
  const simple: Record<string, string> = {
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
    '"': '"',
    "'": "'",
    s: ' ',
  };
  if (c in simple) return [simple[c], 1];
  if (c === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3)))
    return [String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16)), 3];
  if (c === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5)))
    return [String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16)), 5];
  if (/^[0-7]{3}$/.test(s.slice(i, i + 3))) return [String.fromCharCode(parseInt(s.slice(i, i + 3), 8)), 3];
  // relaxed: an unknown escape stands for the character itself
  return [c ?? '\\', c === undefined ? 0 : 1];
}

/**
 * systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) applied to a whole value: words separated by
 * whitespace, '…' and "…" quote anywhere in a word, C escapes inside and outside quotes.
 * Throws on an unbalanced quote.
 */
export function splitWords(value: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    while (i < n && /\s/.test(value[i])) i++;
    if (i >= n) break;
    let word = '';
    let quote: string | undefined;
    for (; i < n; i++) {
      const c = value[i];
      if (quote) {
        if (c === quote) quote = undefined;
        else if (c === '\\') {
          const [dec, used] = cunescapeOne(value, i + 1);
          word += dec;
          i += used;
        } else word += c;
        continue;
      }
      if (/\s/.test(c)) break;
      if (c === '"' || c === "'") quote = c;
      else if (c === '\\') {
        const [dec, used] = cunescapeOne(value, i + 1);
        word += dec;
        i += used;
      } else word += c;
    }
    if (quote) throw new Error('Unbalanced quoting');
    words.push(word);
  }
  return words;
}

const TIME_UNITS: Record<string, number> = {
  us: 1,
  usec: 1,
  µs: 1,
  ms: 1000,
  msec: 1000,
  s: 1e6,
  sec: 1e6,
  second: 1e6,
  seconds: 1e6,
  m: 60e6,
  min: 60e6,
  minute: 60e6,
  minutes: 60e6,
  h: 3600e6,
  hr: 3600e6,
  hour: 3600e6,
  hours: 3600e6,
  d: 86400e6,
  day: 86400e6,
  days: 86400e6,
  w: 604800e6,
  week: 604800e6,
  weeks: 604800e6,
  M: 2629800e6,
  month: 2629800e6,
  months: 2629800e6,
  y: 31557600e6,
  year: 31557600e6,
  years: 31557600e6,
};

/** parse_sec(): `90`, `100ms`, `1min 30s`, `infinity` → microseconds (Infinity for infinity). */
export function parseTimespan(value: string, defaultUnitUs = 1e6): number | undefined {
  const v = value.trim();
  if (v === 'infinity') return Infinity;
  if (!v) return undefined;
  let total = 0;
  const re = /\s*(\d+(?:\.\d+)?)\s*([a-zA-Zµ]*)/y;
  let pos = 0;
  while (pos < v.length) {
    re.lastIndex = pos;
    const m = re.exec(v);
    if (!m || m[0].length === 0) return undefined;
    const unit = m[2] ? TIME_UNITS[m[2]] : defaultUnitUs;
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    pos = re.lastIndex;
    while (pos < v.length && /\s/.test(v[pos])) pos++;
  }
  return Math.round(total);
}

export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(v)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(v)) return false;
  return undefined;
}

export function isValidEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** load_env_file(): KEY=VALUE lines, # and ; comments, shell-like quoting, backslash-newline continuations. */
export function parseEnvFile(text: string, warn: (msg: string) => void): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    // skip blank space and comment lines
    while (i < n && /[ \t\r\n]/.test(text[i])) i++;
    if (i >= n) break;
    if (text[i] === '#' || text[i] === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    let key = '';
    while (i < n && text[i] !== '=' && text[i] !== '\n') key += text[i++];
    key = key.trim();
    if (i >= n || text[i] === '\n') {
      if (key) warn(`Ignoring invalid environment assignment '${key}'`);
      continue;
    }
    i++; // '='
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    let value = '';
    let trailingWs = 0;
    for (; i < n; i++) {
      const c = text[i];
      if (c === '\n') break;
      if (c === '\\') {
        if (text[i + 1] === '\n') {
          i++;
          continue;
        }
        if (i + 1 < n) value += text[++i];
        trailingWs = 0;
        continue;
      }
      if (c === "'") {
        i++;
        while (i < n && text[i] !== "'") value += text[i++];
        trailingWs = 0;
        continue;
      }
      if (c === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) {
            const next = text[i + 1];
            if (next === '\n') i += 2;
            else if ('"\\`$'.includes(next)) {
              value += next;
              i += 2;
            } else value += text[i++];
            continue;
          }
          value += text[i++];
        }
        trailingWs = 0;
        continue;
      }
      if (c === ' ' || c === '\t') trailingWs++;
      else trailingWs = 0;
      value += c;
    }
    if (trailingWs) value = value.slice(0, value.length - trailingWs);
    if (!isValidEnvName(key)) {
      warn(`Ignoring invalid environment assignment '${key}=${value}'`);
      continue;
    }
    out.push([key, value]);
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Exec lines                                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

export interface ExecCommand {
  /** the executable as written: an absolute path, or a bare name searched in the fixed search path */
  path: string;
  /** argv including argv[0] */
  argv: string[];
  ignoreFailure: boolean;
  noEnvExpand: boolean;
  /** `+`: full privileges (ignores User=/Group=) */
  fullPrivileges: boolean;
  /** `@`: argv[0] given separately */
  ownArgv0: boolean;
  /** the setting's text after the prefixes, for `Process:` lines and `show` */
  text: string;
}

export function parseExecLine(value: string): { cmd?: ExecCommand; error?: string } {
  let v = value.trimStart();
  let ignoreFailure = false;
  let noEnvExpand = false;
  let fullPrivileges = false;
  let ownArgv0 = false;
  for (;;) {
    if (v.startsWith('!!')) v = v.slice(2);
    else if (v[0] === '-') ignoreFailure = true;
    else if (v[0] === '@') ownArgv0 = true;
    else if (v[0] === ':') noEnvExpand = true;
    else if (v[0] === '+') fullPrivileges = true;
    else if (v[0] === '!') {
      // ambient-capability variant: run as the configured user, nothing to emulate
    } else break;
    if (!v.startsWith('!!')) v = v.slice(1);
  }
  let words: string[];
  try {
    words = splitWords(v);
  } catch {
    return { error: `Unbalanced quoting, ignoring: "${value}"` };
  }
  if (words.length === 0) return { error: 'Empty path in command line' };
  const exe = words[0];
  const isAbsolute = exe.startsWith('/');
  const isBareName = !exe.includes('/') && exe !== '.' && exe !== '..';
  if (!isAbsolute && !isBareName)
    return {
      error: `Neither a valid executable name nor an absolute path${ignoreFailure ? ', ignoring' : ''}: ${exe}`,
    };
  const argv = ownArgv0 ? words.slice(1) : words;
  if (ownArgv0 && argv.length === 0) return { error: `Empty argv[0] in command line: ${value}` };
  return { cmd: { path: exe, argv, ignoreFailure, noEnvExpand, fullPrivileges, ownArgv0, text: v } };
}

/**
 * Variable substitution at exec time: a word that is exactly `$NAME` becomes the value split at whitespace,
 * `${NAME}` is replaced inside words, `$$` is a literal `$`. argv[0] is left alone.
 */
export function expandExecArgs(argv: string[], env: Record<string, string>): string[] {
  const out = [argv[0]];
  for (const word of argv.slice(1)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      const val = env[whole[1]];
      if (val !== undefined) out.push(...val.split(/\s+/).filter(Boolean));
      continue;
    }
    out.push(
      word.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string | undefined) =>
        m === '$$' ? '$' : (env[name as string] ?? ''),
      ),
    );
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The service model                                                                                            */
/* ------------------------------------------------------------------------------------------------------------ */

export type ServiceType = 'simple' | 'exec' | 'oneshot' | 'forking' | 'notify' | 'idle' | 'dbus';
export type RestartPolicy = 'no' | 'always' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-abort' | 'on-watchdog';
export type KillMode = 'control-group' | 'mixed' | 'process' | 'none';

export interface Condition {
  key: string;
  value: string;
  assert: boolean;
}

export interface OutputSpec {
  kind: 'journal' | 'null' | 'inherit' | 'file' | 'append' | 'truncate';
  path?: string;
}

export interface UnitConfig {
  description: string;
  documentation: string[];
  after: string[];
  before: string[];
  requires: string[];
  wants: string[];
  bindsTo: string[];
  partOf: string[];
  conflicts: string[];
  refuseManualStart: boolean;
  refuseManualStop: boolean;
  startLimitIntervalUs: number;
  startLimitBurst: number;
  conditions: Condition[];

  type: ServiceType;
  execStartPre: ExecCommand[];
  execStart: ExecCommand[];
  execStartPost: ExecCommand[];
  execReload: ExecCommand[];
  execStop: ExecCommand[];
  execStopPost: ExecCommand[];
  restart: RestartPolicy;
  restartUs: number;
  remainAfterExit: boolean;
  successExitStatus: { codes: number[]; signals: string[] };
  restartPreventExitStatus: { codes: number[]; signals: string[] };
  timeoutStartUs: number;
  timeoutStopUs: number;
  killMode: KillMode;
  killSignal: string;
  sendSigkill: boolean;

  user?: string;
  group?: string;
  supplementaryGroups: string[];
  workingDirectory?: { path: string; optional: boolean };
  environment: string[];
  environmentFiles: Array<{ path: string; optional: boolean }>;
  passEnvironment: string[];
  unsetEnvironment: string[];
  standardOutput: OutputSpec;
  standardError: OutputSpec;
  syslogIdentifier?: string;
  noNewPrivileges: boolean;
  runtimeDirectory: string[];
  stateDirectory: string[];
  cacheDirectory: string[];
  logsDirectory: string[];
  configurationDirectory: string[];

  wantedBy: string[];
  requiredBy: string[];
  alias: string[];
  also: string[];
  hasInstallSection: boolean;

  /** keys accepted but not emulated (sandboxing, resource control, …) */
  notEmulated: string[];
}

/** Sandboxing, resource-control and other keys the lab accepts but cannot emulate without systemd as PID 1. */
const NOT_EMULATED = new Set(
  [
    'ProtectSystem',
    'ProtectHome',
    'PrivateTmp',
    'PrivateDevices',
    'PrivateNetwork',
    'PrivateUsers',
    'PrivateIPC',
    'PrivateMounts',
    'ReadWritePaths',
    'ReadOnlyPaths',
    'InaccessiblePaths',
    'ExecPaths',
    'NoExecPaths',
    'BindPaths',
    'BindReadOnlyPaths',
    'TemporaryFileSystem',
    'RootDirectory',
    'RootImage',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
    'ProtectControlGroups',
    'ProtectClock',
    'ProtectHostname',
    'ProtectProc',
    'ProcSubset',
    'RestrictAddressFamilies',
    'RestrictNamespaces',
    'RestrictRealtime',
    'RestrictSUIDSGID',
    'RestrictFileSystems',
    'LockPersonality',
    'MemoryDenyWriteExecute',
    'SystemCallFilter',
    'SystemCallArchitectures',
    'SystemCallErrorNumber',
    'CapabilityBoundingSet',
    'AmbientCapabilities',
    'SecureBits',
    'KeyringMode',
    'RemoveIPC',
    'DevicePolicy',
    'DeviceAllow',
    'IPAddressAllow',
    'IPAddressDeny',
    'DynamicUser',
    'CPUQuota',
    'CPUWeight',
    'CPUShares',
    'CPUAccounting',
    'MemoryMax',
    'MemoryHigh',
    'MemoryLow',
    'MemoryMin',
    'MemoryLimit',
    'MemorySwapMax',
    'MemoryAccounting',
    'TasksMax',
    'TasksAccounting',
    'IOWeight',
    'IOAccounting',
    'BlockIOWeight',
    'Slice',
    'Delegate',
    'OOMPolicy',
    'OOMScoreAdjust',
    'Nice',
    'IOSchedulingClass',
    'IOSchedulingPriority',
    'CPUSchedulingPolicy',
    'CPUSchedulingPriority',
    'CPUAffinity',
    'UMask',
    'LimitCPU',
    'LimitFSIZE',
    'LimitDATA',
    'LimitSTACK',
    'LimitCORE',
    'LimitRSS',
    'LimitNOFILE',
    'LimitAS',
    'LimitNPROC',
    'LimitMEMLOCK',
    'LimitLOCKS',
    'LimitSIGPENDING',
    'LimitMSGQUEUE',
    'LimitNICE',
    'LimitRTPRIO',
    'LimitRTTIME',
    'WatchdogSec',
    'NotifyAccess',
    'PIDFile',
    'GuessMainPID',
    'FileDescriptorStoreMax',
    'StandardInput',
    'TTYPath',
    'SyslogFacility',
    'SyslogLevel',
    'SyslogLevelPrefix',
    'LogLevelMax',
    'LogRateLimitIntervalSec',
    'LogRateLimitBurst',
    'RuntimeDirectoryMode',
    'StateDirectoryMode',
    'CacheDirectoryMode',
    'LogsDirectoryMode',
    'ConfigurationDirectoryMode',
    'RuntimeDirectoryPreserve',
    'PAMName',
    'TimeoutAbortSec',
    'RestartForceExitStatus',
    'FinalKillSignal',
    'RestartKillSignal',
    'StartLimitAction',
    'FailureAction',
    'SuccessAction',
    'OnFailure',
    'OnSuccess',
    'JobTimeoutSec',
    'JobRunningTimeoutSec',
    'LoadCredential',
    'SetCredential',
    'ExecCondition',
    'TimeoutStartFailureMode',
    'TimeoutStopFailureMode',
  ].map((k) => k.toLowerCase()),
);

const SILENTLY_ACCEPTED = new Set(
  [
    'DefaultDependencies',
    'IgnoreOnIsolate',
    'AllowIsolate',
    'StopWhenUnneeded',
    'SourcePath',
    'Upholds',
    'Requisite',
    'PropagatesReloadTo',
    'ReloadPropagatedFrom',
    'JoinsNamespaceOf',
    'CollectMode',
    'DefaultInstance',
  ].map((k) => k.toLowerCase()),
);

export interface SpecifierContext {
  unit: string;
  hostname: string;
  user?: { name: string; uid: number; gid: number; home: string; shell: string };
  groupName?: string;
}

/** Resolves %-specifiers (systemd.unit(5) "Specifiers"). Unknown specifiers are an error. */
export function expandSpecifiers(value: string, ctx: SpecifierContext): string {
  const prefix = ctx.unit.slice(0, ctx.unit.lastIndexOf('.'));
  const at = prefix.indexOf('@');
  const instance = at >= 0 ? prefix.slice(at + 1) : '';
  const user = ctx.user ?? { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' };
  const map: Record<string, string> = {
    n: ctx.unit,
    N: prefix,
    p: at >= 0 ? prefix.slice(0, at) : prefix,
    P: at >= 0 ? prefix.slice(0, at) : prefix,
    i: instance,
    I: instance,
    j: (at >= 0 ? prefix.slice(0, at) : prefix).split('-').pop() ?? '',
    J: (at >= 0 ? prefix.slice(0, at) : prefix).split('-').pop() ?? '',
    H: ctx.hostname,
    l: ctx.hostname.split('.')[0],
    q: ctx.hostname.split('.')[0],
    u: user.name,
    U: String(user.uid),
    g: ctx.groupName ?? (user.uid === 0 ? 'root' : user.name),
    G: String(user.gid),
    h: user.home,
    s: user.shell,
    t: '/run',
    S: '/var/lib',
    C: '/var/cache',
    L: '/var/log',
    E: '/etc',
    T: '/tmp',
    V: '/var/tmp',
    y: '',
    Y: '',
    '%': '%',
  };
  return value.replace(/%(.)/g, (_m, c: string) => {
    if (c in map) return map[c];
    throw new Error(`Failed to resolve specifiers in ${value}`);
  });
}

function listSetting(list: string[], value: string): string[] {
  if (value === '') return [];
  return [...list, ...value.split(/\s+/).filter(Boolean)];
}

function parseStatusList(value: string, cur: { codes: number[]; signals: string[] }) {
  if (value === '') return { codes: [], signals: [] };
  const next = { codes: [...cur.codes], signals: [...cur.signals] };
  for (const w of value.split(/\s+/).filter(Boolean)) {
    if (/^\d+$/.test(w)) next.codes.push(Number(w));
    else next.signals.push(w.toUpperCase().replace(/^SIG/, ''));
  }
  return next;
}

function parseOutput(value: string): OutputSpec | undefined {
  const colon = value.indexOf(':');
  const kind = colon >= 0 ? value.slice(0, colon) : value;
  const arg = colon >= 0 ? value.slice(colon + 1) : undefined;
  if (['file', 'append', 'truncate'].includes(kind) && arg && arg.startsWith('/'))
    return { kind: kind as OutputSpec['kind'], path: arg };
  if (kind === 'null') return { kind: 'null' };
  if (kind === 'inherit') return { kind: 'inherit' };
  if (
    ['journal', 'journal+console', 'kmsg', 'kmsg+console', 'syslog', 'syslog+console', 'tty', 'socket'].includes(kind)
  )
    return { kind: 'journal' };
  return undefined;
}

export function defaultConfig(): UnitConfig {
  return {
    description: '',
    documentation: [],
    after: [],
    before: [],
    requires: [],
    wants: [],
    bindsTo: [],
    partOf: [],
    conflicts: [],
    refuseManualStart: false,
    refuseManualStop: false,
    startLimitIntervalUs: 10e6,
    startLimitBurst: 5,
    conditions: [],
    type: 'simple',
    execStartPre: [],
    execStart: [],
    execStartPost: [],
    execReload: [],
    execStop: [],
    execStopPost: [],
    restart: 'no',
    restartUs: 100_000,
    remainAfterExit: false,
    successExitStatus: { codes: [], signals: [] },
    restartPreventExitStatus: { codes: [], signals: [] },
    timeoutStartUs: defaultTimeoutUs('LAB_SYSTEMD_DEFAULT_TIMEOUT_START_SEC'),
    timeoutStopUs: defaultTimeoutUs('LAB_SYSTEMD_DEFAULT_TIMEOUT_STOP_SEC'),
    killMode: 'control-group',
    killSignal: 'TERM',
    sendSigkill: true,
    supplementaryGroups: [],
    environment: [],
    environmentFiles: [],
    passEnvironment: [],
    unsetEnvironment: [],
    standardOutput: { kind: 'journal' },
    standardError: { kind: 'inherit' },
    noNewPrivileges: false,
    runtimeDirectory: [],
    stateDirectory: [],
    cacheDirectory: [],
    logsDirectory: [],
    configurationDirectory: [],
    wantedBy: [],
    requiredBy: [],
    alias: [],
    also: [],
    hasInstallSection: false,
    notEmulated: [],
  };
}

/** DefaultTimeoutStartSec=/DefaultTimeoutStopSec= are 90 s; tests may shorten them through the environment. */
function defaultTimeoutUs(envName: string): number {
  const v = process.env[envName];
  const parsed = v ? parseTimespan(v) : undefined;
  return parsed ?? 90e6;
}

export type LoadState = 'loaded' | 'not-found' | 'bad-setting' | 'error' | 'masked';

export interface LoadedUnit {
  name: string;
  loadState: LoadState;
  /** guest paths */
  fragmentPath?: string;
  dropInPaths: string[];
  /** what daemon-reload compares to decide whether the files changed on disk */
  stamp: string;
  config: UnitConfig;
  /** systemd's warnings while loading (`file:line: …`), journaled under the unit */
  warnings: string[];
  /** for bad-setting units: the reason systemd logs */
  loadError?: string;
}

export type UserResolver = (name: string) => SpecifierContext['user'];

/**
 * StartLimitIntervalSec= (alias StartLimitInterval=) or StartLimitBurst=: [Unit] settings that systemd still takes
 * in [Service], their old place. False when the value does not parse.
 */
function setStartLimit(cfg: UnitConfig, key: string, value: string): boolean {
  if (key === 'StartLimitBurst') {
    if (!/^\d+$/.test(value)) return false;
    cfg.startLimitBurst = Number(value);
    return true;
  }
  const t = parseTimespan(value);
  if (t === undefined) return false;
  cfg.startLimitIntervalUs = t;
  return true;
}

/** Builds a UnitConfig from the entries of the fragment and its drop-ins, in order. */
export function buildConfig(
  name: string,
  entries: IniEntry[],
  hostname: string,
  resolveUser: UserResolver,
): { config: UnitConfig; warnings: string[]; error?: string } {
  const cfg = defaultConfig();
  const warnings: string[] = [];
  let fatal: string | undefined;
  const userEntry = [...entries].reverse().find((e) => e.section === 'Service' && e.key === 'User');
  let userName = userEntry?.value ? userEntry.value.replace(/%%/g, '%') : undefined;
  if (userName && /%/.test(userName)) userName = undefined;
  const ctx: SpecifierContext = { unit: name, hostname, user: userName ? resolveUser(userName) : undefined };
  const notEmulated = new Set<string>();

  for (const e of entries) {
    const where = `${e.file}:${e.line}`;
    let value: string;
    try {
      value = e.key.startsWith('X-') ? e.value : expandSpecifiers(e.value, ctx);
    } catch {
      if (e.key === 'Description') value = e.value;
      else {
        warnings.push(`${where}: Failed to resolve unit specifiers in ${e.value}, ignoring: Bad message`);
        continue;
      }
    }
    const key = e.key;
    const bad = () => warnings.push(`${where}: Failed to parse ${key}= value, ignoring: ${value}`);
    if (key.startsWith('X-')) continue;
    if (e.section === 'Unit') {
      switch (key) {
        case 'Description':
          cfg.description = value;
          break;
        case 'Documentation':
          cfg.documentation = listSetting(cfg.documentation, value);
          break;
        case 'After':
        case 'Before':
        case 'Requires':
        case 'Wants':
        case 'BindsTo':
        case 'PartOf':
        case 'Conflicts': {
          const prop = (key[0].toLowerCase() + key.slice(1)) as 'after';
          cfg[prop] = listSetting(cfg[prop], value).map(mangleUnitName);
          break;
        }
        case 'RefuseManualStart':
        case 'RefuseManualStop': {
          const b = parseBoolean(value);
          if (b === undefined) bad();
          else if (key === 'RefuseManualStart') cfg.refuseManualStart = b;
          else cfg.refuseManualStop = b;
          break;
        }
        case 'StartLimitIntervalSec':
        case 'StartLimitInterval':
        case 'StartLimitBurst':
          if (!setStartLimit(cfg, key, value)) bad();
          break;
        default:
          if (/^(Condition|Assert)[A-Za-z]+$/.test(key)) {
            if (value === '') cfg.conditions = cfg.conditions.filter((c) => c.key !== key);
            else cfg.conditions.push({ key, value, assert: key.startsWith('Assert') });
          } else if (NOT_EMULATED.has(key.toLowerCase())) notEmulated.add(key);
          else if (!SILENTLY_ACCEPTED.has(key.toLowerCase()))
            warnings.push(`${where}: Unknown key name '${key}' in section 'Unit', ignoring.`);
      }
    } else if (e.section === 'Service') {
      switch (key) {
        case 'Type':
          if (['simple', 'exec', 'oneshot', 'forking', 'notify', 'idle', 'dbus', 'notify-reload'].includes(value))
            cfg.type = (value === 'notify-reload' ? 'notify' : value) as ServiceType;
          else warnings.push(`${where}: Failed to parse service type, ignoring: ${value}`);
          break;
        case 'ExecStartPre':
        case 'ExecStart':
        case 'ExecStartPost':
        case 'ExecReload':
        case 'ExecStop':
        case 'ExecStopPost': {
          const prop = (key[0].toLowerCase() + key.slice(1)) as 'execStart';
          if (value === '') {
            cfg[prop] = [];
            break;
          }
          const parsed = parseExecLine(value);
          if (parsed.error || !parsed.cmd) {
            warnings.push(`${where}: ${parsed.error}`);
            if (!parsed.error?.includes(', ignoring')) fatal ??= 'bad-setting';
            break;
          }
          cfg[prop] = [...cfg[prop], parsed.cmd];
          break;
        }
        case 'Restart':
          if (['no', 'always', 'on-success', 'on-failure', 'on-abnormal', 'on-abort', 'on-watchdog'].includes(value))
            cfg.restart = value as RestartPolicy;
          else warnings.push(`${where}: Failed to parse service restart specifier, ignoring: ${value}`);
          break;
        case 'RestartSec':
        case 'TimeoutStartSec':
        case 'TimeoutStopSec':
        case 'TimeoutSec': {
          const t = parseTimespan(value);
          if (t === undefined) {
            bad();
            break;
          }
          const v = t === 0 && key !== 'RestartSec' ? Infinity : t;
          if (key === 'RestartSec') cfg.restartUs = t;
          if (key === 'TimeoutStartSec' || key === 'TimeoutSec') cfg.timeoutStartUs = v;
          if (key === 'TimeoutStopSec' || key === 'TimeoutSec') cfg.timeoutStopUs = v;
          break;
        }
        case 'StartLimitIntervalSec':
        case 'StartLimitInterval':
        case 'StartLimitBurst':
          if (!setStartLimit(cfg, key, value)) bad();
          break;
        case 'RemainAfterExit':
        case 'SendSIGKILL':
        case 'NoNewPrivileges': {
          const b = parseBoolean(value);
          if (b === undefined) bad();
          else if (key === 'RemainAfterExit') cfg.remainAfterExit = b;
          else if (key === 'SendSIGKILL') cfg.sendSigkill = b;
          else cfg.noNewPrivileges = b;
          break;
        }
        case 'SuccessExitStatus':
          cfg.successExitStatus = parseStatusList(value, cfg.successExitStatus);
          break;
        case 'RestartPreventExitStatus':
          cfg.restartPreventExitStatus = parseStatusList(value, cfg.restartPreventExitStatus);
          break;
        case 'KillMode':
          if (['control-group', 'mixed', 'process', 'none'].includes(value)) cfg.killMode = value as KillMode;
          else bad();
          break;
        case 'KillSignal':
          cfg.killSignal = value.toUpperCase().replace(/^SIG/, '');
          break;
        case 'User':
          cfg.user = value || undefined;
          break;
        case 'Group':
          cfg.group = value || undefined;
          break;
        case 'SupplementaryGroups':
          cfg.supplementaryGroups = listSetting(cfg.supplementaryGroups, value);
          break;
        case 'WorkingDirectory': {
          if (value === '') {
            cfg.workingDirectory = undefined;
            break;
          }
          const optional = value.startsWith('-');
          const p = optional ? value.slice(1) : value;
          if (p !== '~' && !p.startsWith('/')) {
            warnings.push(`${where}: WorkingDirectory= path is not absolute, ignoring: ${value}`);
            break;
          }
          cfg.workingDirectory = { path: p, optional };
          break;
        }
        case 'Environment': {
          if (value === '') {
            cfg.environment = [];
            break;
          }
          let words: string[];
          try {
            words = splitWords(value);
          } catch {
            warnings.push(`${where}: Invalid syntax, ignoring: ${value}`);
            break;
          }
          for (const w of words) {
            const eq = w.indexOf('=');
            if (eq <= 0 || !isValidEnvName(w.slice(0, eq))) {
              warnings.push(`${where}: Invalid environment assignment, ignoring: ${w}`);
              continue;
            }
            cfg.environment.push(w);
          }
          break;
        }
        case 'EnvironmentFile': {
          if (value === '') {
            cfg.environmentFiles = [];
            break;
          }
          const optional = value.startsWith('-');
          const p = optional ? value.slice(1) : value;
          if (!p.startsWith('/')) {
            warnings.push(`${where}: Path '${p}' is not absolute, ignoring.`);
            break;
          }
          cfg.environmentFiles.push({ path: p, optional });
          break;
        }
        case 'PassEnvironment':
          cfg.passEnvironment = listSetting(cfg.passEnvironment, value);
          break;
        case 'UnsetEnvironment':
          cfg.unsetEnvironment = listSetting(cfg.unsetEnvironment, value);
          break;
        case 'StandardOutput':
        case 'StandardError': {
          const o = parseOutput(value);
          if (!o) {
            warnings.push(`${where}: Failed to parse output specifier, ignoring: ${value}`);
            break;
          }
          if (key === 'StandardOutput') cfg.standardOutput = o.kind === 'inherit' ? { kind: 'journal' } : o;
          else cfg.standardError = o;
          break;
        }
        case 'SyslogIdentifier':
          cfg.syslogIdentifier = value || undefined;
          break;
        case 'RuntimeDirectory':
        case 'StateDirectory':
        case 'CacheDirectory':
        case 'LogsDirectory':
        case 'ConfigurationDirectory': {
          const prop = (key[0].toLowerCase() + key.slice(1)) as 'runtimeDirectory';
          const dirs = listSetting([], value);
          if (dirs.some((d) => d.startsWith('/') || d.split('/').includes('..'))) {
            warnings.push(`${where}: ${key}= path is not valid, ignoring: ${value}`);
            break;
          }
          cfg[prop] = value === '' ? [] : [...cfg[prop], ...dirs];
          break;
        }
        default:
          if (NOT_EMULATED.has(key.toLowerCase())) notEmulated.add(key);
          else if (!SILENTLY_ACCEPTED.has(key.toLowerCase()))
            warnings.push(`${where}: Unknown key name '${key}' in section 'Service', ignoring.`);
      }
    } else if (e.section === 'Install') {
      cfg.hasInstallSection = true;
      switch (key) {
        case 'WantedBy':
          cfg.wantedBy = listSetting(cfg.wantedBy, value);
          break;
        case 'RequiredBy':
          cfg.requiredBy = listSetting(cfg.requiredBy, value);
          break;
        case 'Alias':
          cfg.alias = listSetting(cfg.alias, value);
          break;
        case 'Also':
          cfg.also = listSetting(cfg.also, value).map(mangleUnitName);
          break;
        default:
          if (!SILENTLY_ACCEPTED.has(key.toLowerCase()))
            warnings.push(`${where}: Unknown key name '${key}' in section 'Install', ignoring.`);
      }
    } else {
      warnings.push(`${where}: Unknown section '${e.section}'. Ignoring.`);
    }
  }
  cfg.notEmulated = [...notEmulated];

  let error: string | undefined;
  if (fatal) error = 'bad-setting';
  else if (cfg.type !== 'oneshot' && cfg.execStart.length > 1) {
    warnings.push(
      `${name}: Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.`,
    );
    error = 'bad-setting';
  } else if (cfg.execStart.length === 0 && !(cfg.type === 'oneshot' && cfg.execStop.length > 0)) {
    warnings.push(`${name}: Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.`);
    error = 'bad-setting';
  } else if (cfg.type === 'oneshot' && cfg.restart !== 'no' && cfg.restart !== 'on-failure') {
    warnings.push(
      `${name}: Service has Restart= set to either always or on-success, which isn't allowed for Type=oneshot services. Refusing.`,
    );
    error = 'bad-setting';
  }
  return { config: cfg, warnings, error };
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Loading units from /etc/systemd/system                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

function statStamp(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${p}@${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return `${p}@-`;
  }
}

/** Drop-in files of a unit: `<unit>.d/*.conf`, sorted by file name. Host paths. */
export function dropInFiles(paths: LabPaths, name: string): string[] {
  const dir = path.join(paths.unitDir, `${name}.d`);
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.conf'))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** What a changed unit file or drop-in changes; compared against the stamp taken at load. */
export function unitStamp(paths: LabPaths, name: string): string {
  const fragment = path.join(paths.unitDir, name);
  return [statStamp(fragment), ...dropInFiles(paths, name).map(statStamp)].join('|');
}

export function loadUnit(paths: LabPaths, name: string, hostname = os.hostname()): LoadedUnit {
  const fragmentHost = path.join(paths.unitDir, name);
  const stamp = unitStamp(paths, name);
  const base: LoadedUnit = {
    name,
    loadState: 'not-found',
    dropInPaths: [],
    stamp,
    config: defaultConfig(),
    warnings: [],
  };
  let lst: fs.Stats;
  try {
    lst = fs.lstatSync(fragmentHost);
  } catch {
    return base;
  }
  if (lst.isSymbolicLink()) {
    const target = fs.readlinkSync(fragmentHost);
    if (target === '/dev/null') return { ...base, loadState: 'masked', fragmentPath: paths.guest(fragmentHost) };
  }
  let text: string;
  try {
    text = fs.readFileSync(fragmentHost, 'utf8');
  } catch (err) {
    return { ...base, loadState: 'error', loadError: (err as Error).message };
  }
  if (text.trim() === '' && fs.statSync(fragmentHost).size === 0)
    return { ...base, loadState: 'masked', fragmentPath: paths.guest(fragmentHost) };
  const warnings: string[] = [];
  const entries = parseIni(text, paths.guest(fragmentHost), (m) => warnings.push(m));
  const dropIns = dropInFiles(paths, name);
  for (const d of dropIns) {
    try {
      entries.push(...parseIni(fs.readFileSync(d, 'utf8'), paths.guest(d), (m) => warnings.push(m)));
    } catch {
      // unreadable drop-ins are skipped
    }
  }
  const built = buildConfig(name, entries, hostname, (u) => lookupUser(paths, u));
  warnings.push(...built.warnings);
  return {
    name,
    loadState: built.error ? 'bad-setting' : 'loaded',
    fragmentPath: paths.guest(fragmentHost),
    dropInPaths: dropIns.map((d) => paths.guest(d)),
    stamp,
    config: built.config,
    warnings,
    loadError: built.error,
  };
}
