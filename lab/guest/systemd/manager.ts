import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  exitStatusString,
  formatBytes,
  formatRelative,
  formatTimespan,
  formatTimestamp,
  signalNumber,
  signalShortName,
} from './format';
import {
  catUnits,
  disableUnits,
  enableUnits,
  isEnabled,
  listUnitFiles,
  maskUnits,
  newOutput,
  Output,
  unitFileState,
  unmaskUnits,
  wantedUnits,
} from './install';
import { formatEntry, JournalWriter, LineSplitter, readEntries } from './journal';
import { BOOTED_MARKER, LabPaths, PID_PATH } from './paths';
import { CLK_TCK, cmdline, comm, isAlive, processesIn, sendSignal } from './proc';
import { CtlOptions, CtlRequest, CtlResponse } from './protocol';
import {
  ExecCommand,
  expandExecArgs,
  LoadedUnit,
  loadUnit,
  mangleUnitName,
  parseEnvFile,
  unitStamp,
  unitSuffix,
  UnitConfig,
} from './unit-file';
import { lookupGroup, lookupUser, PasswdEntry, userGroups } from './users';

export type ActiveState = 'active' | 'reloading' | 'inactive' | 'failed' | 'activating' | 'deactivating';
export type SubState =
  | 'dead'
  | 'start-pre'
  | 'start'
  | 'start-post'
  | 'running'
  | 'exited'
  | 'reload'
  | 'stop'
  | 'stop-sigterm'
  | 'stop-sigkill'
  | 'stop-post'
  | 'final-sigterm'
  | 'final-sigkill'
  | 'failed'
  | 'auto-restart';
export type ServiceResult =
  'success' | 'resources' | 'timeout' | 'exit-code' | 'signal' | 'core-dump' | 'start-limit-hit';

const ACTIVE_OF: Record<SubState, ActiveState> = {
  dead: 'inactive',
  'start-pre': 'activating',
  start: 'activating',
  'start-post': 'activating',
  running: 'active',
  exited: 'active',
  reload: 'reloading',
  stop: 'deactivating',
  'stop-sigterm': 'deactivating',
  'stop-sigkill': 'deactivating',
  'stop-post': 'deactivating',
  'final-sigterm': 'deactivating',
  'final-sigkill': 'deactivating',
  failed: 'failed',
  'auto-restart': 'activating',
};

/** Debian's build of systemd uses this PATH for services. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SETPRIV = '/usr/bin/setpriv';
const POLL_MS = 25;

type ExecKey = 'ExecStartPre' | 'ExecStart' | 'ExecStartPost' | 'ExecReload' | 'ExecStop' | 'ExecStopPost';

/** The state a unit is in while the commands of one Exec*= setting run; systemd's messages name them so too. */
const PHASE: Record<ExecKey, SubState> = {
  ExecStartPre: 'start-pre',
  ExecStart: 'start',
  ExecStartPost: 'start-post',
  ExecReload: 'reload',
  ExecStop: 'stop',
  ExecStopPost: 'stop-post',
};

interface ExitInfo {
  code: 'exited' | 'killed' | 'dumped';
  /** exit status, or signal number */
  status: number;
}

interface ProcRecord {
  pid: number;
  key: ExecKey;
  cmd: ExecCommand;
  argv: string[];
  startedAt: number;
  exit?: ExitInfo;
  exitedAt?: number;
  child?: ChildProcess;
}

type JobType = 'start' | 'stop' | 'reload';
type JobResult = 'done' | 'failed' | 'canceled' | 'dependency' | 'invalid' | 'assert' | 'skipped';

interface Job {
  type: JobType;
  internal: boolean;
  result?: JobResult;
}

interface ControlSeq {
  key: ExecKey;
  cmds: ExecCommand[];
  idx: number;
}

/** The outcome of a start/stop/restart request, for the front end's messages. */
interface JobOutcome {
  result: JobResult;
  serviceResult?: ServiceResult;
  /** an error before any job ran: the message after "Failed to <verb> <unit>: ", and the exit code */
  error?: { message: string; code: number; seeLogs?: boolean };
}

/** A start or stop by hand of a unit with RefuseManualStart=/RefuseManualStop=. */
const refusedManual = (u: Unit): JobOutcome => ({
  result: 'failed',
  error: {
    message: `Operation refused, unit ${u.name} may be requested by dependency only (it is configured to refuse manual start/stop).`,
    code: 4,
    seeLogs: true,
  },
});

export class Unit {
  sub: SubState = 'dead';
  result: ServiceResult = 'success';
  main?: ProcRecord;
  control?: ProcRecord;
  mainRecord?: ProcRecord;
  execLog: ProcRecord[] = [];
  /** process groups / sessions that belong to the unit (our stand-in for its cgroup) */
  groups = new Set<number>();
  ratelimit = { begin: 0, num: 0 };
  nRestarts = 0;
  flushNRestarts = false;
  forbidRestart = false;
  job?: Job;
  seq?: ControlSeq;
  mainIdx = 0;
  invocationId = '';
  ts = { stateChange: 0, activeEnter: 0, activeExit: 0, inactiveEnter: 0, inactiveExit: 0 };
  timers: { restart?: NodeJS.Timeout; timeout?: NodeJS.Timeout; poll?: NodeJS.Timeout } = {};
  readonly events = new EventEmitter();
  queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly name: string,
    public loaded: LoadedUnit,
  ) {
    this.events.setMaxListeners(0);
  }

  get cfg(): UnitConfig {
    return this.loaded.config;
  }
  get active(): ActiveState {
    return ACTIVE_OF[this.sub];
  }
  /** `x.service - Description`, or the bare name without a description (unit_status_string()). */
  get statusString(): string {
    return this.cfg.description ? `${this.name} - ${this.cfg.description}` : this.name;
  }
}

const isInactive = (s: ActiveState) => s === 'inactive' || s === 'failed';
const isUp = (s: ActiveState) => s === 'active' || s === 'reloading';
const isPseudoTarget = (name: string) => unitSuffix(name) === 'target';

const JOB_EXPLANATIONS: Partial<Record<ServiceResult, string>> = {
  resources: 'of unavailable resources or another system error',
  timeout: 'a timeout was exceeded',
  'exit-code': 'the control process exited with error code',
  signal: 'a fatal signal was delivered to the control process',
  'core-dump': 'a fatal signal was delivered causing the control process to dump core',
  'start-limit-hit': 'start of the service was attempted too often',
};

export interface ManagerOptions {
  paths: LabPaths;
  bootId?: string;
}

export class Manager {
  readonly paths: LabPaths;
  readonly journal: JournalWriter;
  readonly units = new Map<string, Unit>();
  readonly bootId: string;
  readonly startedAt = Date.now();
  private readonly hasSetpriv = fs.existsSync(SETPRIV);
  private readonly noted = new Set<string>();
  private server?: net.Server;
  private shuttingDown = false;

  constructor(opts: ManagerOptions) {
    this.paths = opts.paths;
    this.bootId = opts.bootId ?? randomBytes(16).toString('hex');
    this.journal = new JournalWriter(this.paths, this.bootId);
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Logging                                                                                                    */
  /* ---------------------------------------------------------------------------------------------------------- */

  /** A message from the manager about a unit: journaled under the unit as `systemd[1]`. */
  log(u: Unit | string | undefined, message: string, priority = 6, pid = 1): void {
    const unit = typeof u === 'string' ? u : u?.name;
    this.journal.write(unit, 'systemd', pid, message, priority);
  }

  private noteLoad(u: Unit): void {
    const key = `${u.name}@${u.loaded.stamp}`;
    if (this.noted.has(key)) return;
    this.noted.add(key);
    for (const w of u.loaded.warnings) this.log(u, w, 4);
    const ne = [...u.cfg.notEmulated];
    if (['notify', 'forking', 'dbus'].includes(u.cfg.type)) ne.push(`Type=${u.cfg.type} (run as Type=exec)`);
    if (ne.length && u.loaded.loadState === 'loaded') {
      this.log(
        undefined,
        `${u.name}: lab systemd does not emulate ${ne.map((k) => (k.includes('=') ? k : `${k}=`)).join(', ')}; accepted and ignored.`,
        5,
      );
    }
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Units                                                                                                      */
  /* ---------------------------------------------------------------------------------------------------------- */

  /** Loads a unit on first reference; an unreferenced inactive unit is re-read from disk (systemd's GC). */
  getUnit(name: string): Unit {
    let u = this.units.get(name);
    if (!u) {
      u = new Unit(name, loadUnit(this.paths, name));
      this.units.set(name, u);
      this.noteLoad(u);
    } else if (this.collectable(u)) {
      u.loaded = loadUnit(this.paths, name);
      this.noteLoad(u);
    }
    return u;
  }

  private collectable(u: Unit): boolean {
    if (u.job || u.sub !== 'dead' || u.main || u.control) return false;
    if (u.loaded.loadState !== 'loaded') return true;
    return unitFileState(this.paths, u.name) !== 'enabled';
  }

  needsReload(u: Unit): boolean {
    return u.loaded.loadState !== 'not-found' && unitStamp(this.paths, u.name) !== u.loaded.stamp;
  }

  daemonReload(): void {
    this.log(undefined, 'Reloading.');
    for (const [name, u] of this.units) {
      u.loaded = loadUnit(this.paths, name);
      if (u.loaded.loadState === 'not-found' && isInactive(u.active) && !u.job && !u.main) {
        this.units.delete(name);
        continue;
      }
      this.noteLoad(u);
    }
  }

  private waitFor(u: Unit, pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (pred()) {
          u.events.off('change', check);
          resolve();
        }
      };
      u.events.on('change', check);
    });
  }

  /** Serializes the jobs requested for a unit. */
  private enqueue<T>(u: Unit, fn: () => Promise<T>): Promise<T> {
    const run = u.queue.then(fn, fn);
    u.queue = run.catch(() => undefined);
    return run;
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* State changes, the way systemd's service.c does them                                                       */
  /* ---------------------------------------------------------------------------------------------------------- */

  private setState(u: Unit, sub: SubState): void {
    const old = u.active;
    const oldSub = u.sub;
    u.sub = sub;
    const now = Date.now();
    const cur = u.active;
    if (old !== cur) {
      u.ts.stateChange = now;
      if (cur === 'active' && old !== 'reloading') u.ts.activeEnter = now;
      if ((old === 'active' || old === 'reloading') && cur !== 'active' && cur !== 'reloading') u.ts.activeExit = now;
      if (isInactive(cur)) u.ts.inactiveEnter = now;
      if (isInactive(old)) u.ts.inactiveExit = now;
    }
    const j = u.job;
    if (j?.type === 'start') {
      if (cur === 'activating' && sub !== 'auto-restart' && (old !== 'activating' || oldSub === 'auto-restart'))
        this.log(u, `Starting ${u.statusString}...`);
      if (cur === 'active') {
        this.log(u, `Started ${u.statusString}.`);
        this.finishJob(u, 'done');
      } else if (cur === 'inactive' && u.result === 'success' && old === 'deactivating') {
        this.log(u, `Finished ${u.statusString}.`);
        this.finishJob(u, 'done');
      } else if (isInactive(cur) || sub === 'auto-restart') {
        this.log(u, `Failed to start ${u.statusString}.`, 3);
        this.finishJob(u, 'failed');
      }
    } else if (j?.type === 'stop' && isInactive(cur)) {
      this.log(u, `Stopped ${u.statusString}.`);
      this.finishJob(u, 'done');
    }
    u.events.emit('change');
  }

  private finishJob(u: Unit, result: JobResult): void {
    const j = u.job;
    if (!j) return;
    j.result = result;
    u.job = undefined;
    u.events.emit('change');
  }

  private mergeResult(u: Unit, f: ServiceResult): void {
    if (f !== 'success' && u.result === 'success') u.result = f;
  }

  private clearTimers(u: Unit, which: Array<'restart' | 'timeout' | 'poll'> = ['restart', 'timeout', 'poll']): void {
    for (const t of which) {
      if (u.timers[t]) {
        clearTimeout(u.timers[t]);
        clearInterval(u.timers[t]);
        u.timers[t] = undefined;
      }
    }
  }

  /** unit_test_start_limit(): systemd's ratelimit_below() over StartLimitIntervalSec/StartLimitBurst. */
  private startAllowed(u: Unit): boolean {
    const c = u.cfg;
    if (c.startLimitIntervalUs <= 0 || c.startLimitBurst <= 0) return true;
    const now = Date.now();
    if (u.ratelimit.begin === 0 || now > u.ratelimit.begin + c.startLimitIntervalUs / 1000) {
      u.ratelimit = { begin: now, num: 0 };
    }
    if (u.ratelimit.num < c.startLimitBurst) {
      u.ratelimit.num++;
      return true;
    }
    u.ratelimit.num++;
    return false;
  }

  private failStartLimit(u: Unit): void {
    this.log(u, `${u.name}: Start request repeated too quickly.`, 4);
    u.result = 'start-limit-hit';
    this.log(u, `${u.name}: Failed with result 'start-limit-hit'.`, 4);
    this.setState(u, 'failed');
  }

  private enterStartPre(u: Unit): void {
    const c = u.cfg;
    u.result = 'success';
    u.execLog = [];
    u.mainRecord = undefined;
    u.mainIdx = 0;
    u.forbidRestart = false;
    u.invocationId = randomBytes(16).toString('hex');
    const dirError = this.prepareDirectories(u);
    if (dirError) {
      this.log(u, `${u.name}: Failed to set up special execution directory: ${dirError}`, 3);
      this.log(u, `${u.name}: Failed to run 'start-pre' task: ${dirError}`, 4);
      this.enterDead(u, 'resources');
      return;
    }
    this.enterControl(u, 'ExecStartPre', c.execStartPre, () => this.enterStart(u));
  }

  /** Enters the state of `key` and runs its commands one after the other; a unit without any goes on with `next`. */
  private enterControl(u: Unit, key: ExecKey, cmds: ExecCommand[], next: () => void): void {
    if (cmds.length === 0) return next();
    this.setState(u, PHASE[key]);
    this.runControl(u, { key, cmds, idx: 0 });
  }

  private enterStart(u: Unit): void {
    const c = u.cfg;
    if (c.type === 'oneshot') {
      this.setState(u, 'start');
      if (c.execStart.length === 0) this.enterStartPost(u);
      else this.spawnMain(u, 0);
      return;
    }
    const rec = this.spawnMain(u, 0);
    if (!rec) return;
    if (rec === 'failed-step' && c.type !== 'simple' && c.type !== 'idle') {
      // Type=exec (and the types run like it) only counts as started once execve() succeeded
      this.setState(u, 'start');
      return;
    }
    this.enterStartPost(u);
  }

  /** Spawns ExecStart= number idx as the main process; undefined when the manager failed before forking. */
  private spawnMain(u: Unit, idx: number): ProcRecord | 'failed-step' | undefined {
    u.mainIdx = idx;
    const res = this.spawnProcess(u, 'ExecStart', u.cfg.execStart[idx]);
    if (typeof res === 'string') {
      this.log(u, `${u.name}: Failed to run 'start' task: ${res}`, 4);
      this.enterSignal(u, 'stop-sigterm', 'resources');
      return undefined;
    }
    u.main = res.rec;
    u.mainRecord = res.rec;
    return res.failedStep ? 'failed-step' : res.rec;
  }

  private enterStartPost(u: Unit): void {
    this.enterControl(u, 'ExecStartPost', u.cfg.execStartPost, () => this.enterRunning(u));
  }

  private enterRunning(u: Unit): void {
    const c = u.cfg;
    if (u.main) this.setState(u, 'running');
    else if (c.remainAfterExit && u.result === 'success') this.setState(u, 'exited');
    else this.enterStop(u, 'success');
  }

  private enterStop(u: Unit, f: ServiceResult): void {
    this.mergeResult(u, f);
    this.enterControl(u, 'ExecStop', u.cfg.execStop, () => this.enterSignal(u, 'stop-sigterm', 'success'));
  }

  private enterStopPost(u: Unit, f: ServiceResult): void {
    this.mergeResult(u, f);
    this.enterControl(u, 'ExecStopPost', u.cfg.execStopPost, () => this.enterSignal(u, 'final-sigterm', 'success'));
  }

  /** The processes the current state's signal reaches, by KillMode=. */
  private killTargets(u: Unit, sigkill: boolean): number[] {
    const mode = u.cfg.killMode;
    if (mode === 'none') return [];
    const own = [u.main?.pid, u.control?.pid].filter((p): p is number => !!p && isAlive(p));
    if (mode === 'process' || (mode === 'mixed' && !sigkill)) return own;
    const all = new Set([...own, ...processesIn(u.groups).map((p) => p.pid)]);
    return [...all];
  }

  private enterSignal(
    u: Unit,
    state: 'stop-sigterm' | 'stop-sigkill' | 'final-sigterm' | 'final-sigkill',
    f: ServiceResult,
  ): void {
    this.mergeResult(u, f);
    this.clearTimers(u, ['timeout', 'poll']);
    this.setState(u, state);
    const sigkill = state.endsWith('sigkill');
    const sig: NodeJS.Signals | number = sigkill ? 'SIGKILL' : (signalNumber(u.cfg.killSignal) ?? 'SIGTERM');
    const targets = this.killTargets(u, sigkill);
    for (const pid of targets) sendSignal(pid, sig);
    if (!sigkill && u.cfg.killMode !== 'none') for (const pid of targets) sendSignal(pid, 'SIGCONT');
    const next = () => {
      this.clearTimers(u, ['timeout', 'poll']);
      if (state === 'stop-sigterm' || state === 'stop-sigkill') this.enterStopPost(u, 'success');
      else this.enterDead(u, 'success');
    };
    const remaining = () => this.killTargets(u, true).length > 0;
    if (u.cfg.killMode === 'none') {
      u.timers.poll = setTimeout(() => {
        if (u.sub === state) next();
      }, 0);
      return;
    }
    u.timers.poll = setInterval(() => {
      if (u.sub !== state) return this.clearTimers(u, ['poll']);
      // main and control exits are handled by their 'exit' events; wait for those before moving on
      if (!u.main && !u.control && !remaining()) next();
    }, POLL_MS);
    const timeoutUs = u.cfg.timeoutStopUs;
    if (Number.isFinite(timeoutUs)) {
      u.timers.timeout = setTimeout(() => {
        if (u.sub !== state) return;
        if (!sigkill) {
          this.log(u, `${u.name}: State '${state}' timed out. Killing.`, 4);
          if (!u.cfg.sendSigkill) {
            this.mergeResult(u, 'timeout');
            return next();
          }
          for (const pid of this.killTargets(u, true))
            this.log(u, `${u.name}: Killing process ${pid} (${comm(pid)}) with signal SIGKILL.`, 5);
          this.enterSignal(u, state === 'stop-sigterm' ? 'stop-sigkill' : 'final-sigkill', 'timeout');
        } else {
          this.log(u, `${u.name}: Processes still around after SIGKILL. Ignoring.`, 4);
          this.mergeResult(u, 'timeout');
          u.main = undefined;
          u.control = undefined;
          next();
        }
      }, timeoutUs / 1000);
    }
  }

  private enterDead(u: Unit, f: ServiceResult): void {
    this.mergeResult(u, f);
    this.clearTimers(u);
    u.groups.clear();
    u.control = undefined;
    u.seq = undefined;
    this.cleanupDirectories(u);
    const r = u.result;
    if (r !== 'success') this.log(u, `${u.name}: Failed with result '${r}'.`, 4);
    else this.log(u, `${u.name}: Deactivated successfully.`);
    if (!u.forbidRestart && !this.shuttingDown && this.shouldRestart(u)) {
      this.setState(u, 'auto-restart');
      u.timers.restart = setTimeout(() => this.onRestartTimer(u), u.cfg.restartUs / 1000);
    } else this.setState(u, r === 'success' ? 'dead' : 'failed');
  }

  private shouldRestart(u: Unit): boolean {
    const c = u.cfg;
    const r = u.result;
    const exit = u.mainRecord?.exit;
    if (exit) {
      const prevent = c.restartPreventExitStatus;
      if (exit.code === 'exited' && prevent.codes.includes(exit.status)) return false;
      if (exit.code !== 'exited' && prevent.signals.includes(signalShortName(exit.status))) return false;
    }
    switch (c.restart) {
      case 'always':
        return true;
      case 'on-success':
        return r === 'success';
      case 'on-failure':
        return r !== 'success';
      case 'on-abnormal':
        return ['signal', 'core-dump', 'timeout'].includes(r);
      case 'on-abort':
        return ['signal', 'core-dump'].includes(r);
      default:
        return false;
    }
  }

  private onRestartTimer(u: Unit): void {
    u.timers.restart = undefined;
    if (u.sub !== 'auto-restart') return;
    u.nRestarts++;
    this.log(u, `${u.name}: Scheduled restart job, restart counter is at ${u.nRestarts}.`);
    this.log(u, `Stopped ${u.statusString}.`);
    u.job = { type: 'start', internal: true };
    if (!this.startAllowed(u)) {
      this.failStartLimit(u);
      return;
    }
    this.enterStartPre(u);
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Processes                                                                                                  */
  /* ---------------------------------------------------------------------------------------------------------- */

  private runControl(u: Unit, seq: ControlSeq): void {
    u.seq = seq;
    const res = this.spawnProcess(u, seq.key, seq.cmds[seq.idx]);
    if (typeof res === 'string') {
      this.log(u, `${u.name}: Failed to run '${PHASE[seq.key]}' task: ${res}`, 4);
      u.seq = undefined;
      if (seq.key === 'ExecStopPost') this.enterSignal(u, 'final-sigterm', 'resources');
      else if (seq.key === 'ExecReload') {
        this.setState(u, 'running');
        this.finishJob(u, 'failed');
      } else this.enterSignal(u, 'stop-sigterm', 'resources');
      return;
    }
    u.control = res.rec;
    const isStart = ['ExecStartPre', 'ExecStartPost', 'ExecReload'].includes(seq.key);
    const timeoutUs = isStart ? u.cfg.timeoutStartUs : u.cfg.timeoutStopUs;
    this.clearTimers(u, ['timeout']);
    if (Number.isFinite(timeoutUs)) {
      const rec = res.rec;
      u.timers.timeout = setTimeout(() => {
        if (u.control !== rec) return;
        this.log(u, `${u.name}: ${PHASE[seq.key]} operation timed out. Terminating.`, 4);
        u.seq = undefined;
        if (seq.key === 'ExecStopPost') this.enterSignal(u, 'final-sigterm', 'timeout');
        else this.enterSignal(u, 'stop-sigterm', 'timeout');
      }, timeoutUs / 1000);
    }
  }

  /** The credentials a command runs with; an error names the failing step like systemd's exec_child(). */
  private credentials(
    u: Unit,
    cmd: ExecCommand,
  ): { user?: PasswdEntry; uid: number; gid: number; groups: number[]; switchUser: boolean } | { step: string } {
    const c = u.cfg;
    if (cmd.fullPrivileges || (!c.user && !c.group && c.supplementaryGroups.length === 0))
      return { uid: 0, gid: 0, groups: [0], switchUser: false };
    let user: PasswdEntry | undefined;
    if (c.user) {
      user = lookupUser(this.paths, c.user);
      if (!user) return { step: 'USER' };
    }
    let gid = user?.gid ?? 0;
    if (c.group) {
      const g = lookupGroup(this.paths, c.group);
      if (!g) return { step: 'GROUP' };
      gid = g.gid;
    }
    const groups = new Set<number>(user ? userGroups(this.paths, user) : [gid]);
    groups.add(gid);
    for (const sg of c.supplementaryGroups) {
      const g = lookupGroup(this.paths, sg);
      if (!g) return { step: 'GROUP' };
      groups.add(g.gid);
    }
    return { user, uid: user?.uid ?? 0, gid, groups: [...groups], switchUser: true };
  }

  private accessible(st: fs.Stats, uid: number, groups: number[], bit: 1 | 4): boolean {
    if (uid === 0) return bit === 1 ? (st.mode & 0o111) !== 0 || st.isDirectory() : true;
    const shift = st.uid === uid ? 6 : groups.includes(st.gid) ? 3 : 0;
    return ((st.mode >> shift) & bit) !== 0;
  }

  /** Every directory on the way must be searchable by the user. */
  private dirAccessible(dir: string, uid: number, groups: number[]): boolean {
    let cur = dir;
    for (;;) {
      let st: fs.Stats;
      try {
        st = fs.statSync(cur);
      } catch {
        return false;
      }
      if (!this.accessible(st, uid, groups, 1)) return false;
      const parent = path.dirname(cur);
      if (parent === cur) return true;
      cur = parent;
    }
  }

  private resolveExecutable(cmd: ExecCommand, uid: number, groups: number[]): { path: string } | { error: string } {
    const candidates = cmd.path.startsWith('/')
      ? [cmd.path]
      : DEFAULT_PATH.split(':').map((d) => path.join(d, cmd.path));
    let error = 'No such file or directory';
    for (const cand of candidates) {
      let st: fs.Stats;
      try {
        st = fs.statSync(cand);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        error = 'Is a directory';
        continue;
      }
      if (!this.accessible(st, uid, groups, 1)) {
        error = 'Permission denied';
        continue;
      }
      return { path: cand };
    }
    return { error };
  }

  private execEnvironment(
    u: Unit,
    key: ExecKey,
    creds: { user?: PasswdEntry; switchUser: boolean },
  ): Record<string, string> | string {
    const c = u.cfg;
    const env: Record<string, string> = { PATH: DEFAULT_PATH };
    if (process.env.LANG) env.LANG = process.env.LANG;
    if (creds.switchUser && creds.user) {
      env.HOME = creds.user.home;
      env.LOGNAME = creds.user.name;
      env.USER = creds.user.name;
      env.SHELL = creds.user.shell;
    }
    env.INVOCATION_ID = u.invocationId;
    if (u.main && ['ExecStartPost', 'ExecReload', 'ExecStop', 'ExecStopPost'].includes(key))
      env.MAINPID = String(u.main.pid);
    if (key === 'ExecStopPost') {
      env.SERVICE_RESULT = u.result;
      const exit = u.mainRecord?.exit;
      if (exit) {
        env.EXIT_CODE = exit.code;
        env.EXIT_STATUS = exit.code === 'exited' ? String(exit.status) : signalShortName(exit.status);
      }
    }
    const dirs: Array<[string, string, string[]]> = [
      ['RUNTIME_DIRECTORY', '/run', c.runtimeDirectory],
      ['STATE_DIRECTORY', '/var/lib', c.stateDirectory],
      ['CACHE_DIRECTORY', '/var/cache', c.cacheDirectory],
      ['LOGS_DIRECTORY', '/var/log', c.logsDirectory],
      ['CONFIGURATION_DIRECTORY', '/etc', c.configurationDirectory],
    ];
    for (const [name, base, list] of dirs)
      if (list.length) env[name] = list.map((d) => this.paths.host(path.join(base, d))).join(':');
    for (const name of c.passEnvironment) if (process.env[name] !== undefined) env[name] = process.env[name] as string;
    for (const a of c.environment) {
      const eq = a.indexOf('=');
      env[a.slice(0, eq)] = a.slice(eq + 1);
    }
    for (const f of c.environmentFiles) {
      let text: string;
      try {
        text = fs.readFileSync(f.path, 'utf8');
      } catch (err) {
        if (f.optional) continue;
        const code = (err as NodeJS.ErrnoException).code;
        return code === 'EACCES' ? 'Permission denied' : 'No such file or directory';
      }
      for (const [k, v] of parseEnvFile(text, (m) => this.log(u, `${m} in ${f.path}`, 4))) env[k] = v;
    }
    for (const name of c.unsetEnvironment) {
      if (name.includes('=')) {
        const eq = name.indexOf('=');
        if (env[name.slice(0, eq)] === name.slice(eq + 1)) delete env[name.slice(0, eq)];
      } else delete env[name];
    }
    return env;
  }

  /** RuntimeDirectory= and friends: created (owned by User=) before the first process. */
  private prepareDirectories(u: Unit): string | undefined {
    const c = u.cfg;
    const user = c.user ? lookupUser(this.paths, c.user) : undefined;
    const sets: Array<[string, string[], number]> = [
      ['/run', c.runtimeDirectory, 0o755],
      ['/var/lib', c.stateDirectory, 0o755],
      ['/var/cache', c.cacheDirectory, 0o755],
      ['/var/log', c.logsDirectory, 0o755],
      ['/etc', c.configurationDirectory, 0o755],
    ];
    try {
      for (const [base, list, mode] of sets)
        for (const d of list) {
          const p = this.paths.host(path.join(base, d));
          fs.mkdirSync(p, { recursive: true, mode });
          if (user && process.getuid?.() === 0) fs.chownSync(p, user.uid, user.gid);
        }
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }

  private cleanupDirectories(u: Unit): void {
    for (const d of u.cfg.runtimeDirectory) {
      try {
        fs.rmSync(this.paths.host(path.join('/run', d)), { recursive: true, force: true });
      } catch {
        // best effort, like RuntimeDirectoryPreserve=no
      }
    }
  }

  private openOutput(spec: UnitConfig['standardOutput']): number | 'pipe' | 'ignore' {
    if (spec.kind === 'null') return 'ignore';
    if (spec.kind === 'file' || spec.kind === 'append' || spec.kind === 'truncate') {
      const flags =
        spec.kind === 'append'
          ? fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND
          : spec.kind === 'truncate'
            ? fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC
            : fs.constants.O_WRONLY | fs.constants.O_CREAT;
      try {
        return fs.openSync(spec.path as string, flags, 0o644);
      } catch {
        return 'pipe';
      }
    }
    return 'pipe';
  }

  /**
   * Forks one command of the unit. Failures that systemd detects in the forked child (user, working directory,
   * executable) produce a real child exiting with systemd's status (217/USER, 200/CHDIR, 203/EXEC), so the
   * failure takes the same path as any other exit. Returns a string when the manager fails before forking.
   */
  private spawnProcess(u: Unit, key: ExecKey, cmd: ExecCommand): { rec: ProcRecord; failedStep: boolean } | string {
    const c = u.cfg;
    const creds = this.credentials(u, cmd);
    const env =
      'step' in creds ? { PATH: DEFAULT_PATH } : this.execEnvironment(u, key, creds as { switchUser: boolean });
    if (typeof env === 'string') {
      this.log(u, `${u.name}: Failed to load environment files: ${env}`, 3);
      return env;
    }
    const argv = cmd.noEnvExpand ? cmd.argv : expandExecArgs(cmd.argv, env);
    let failure: { status: number; lines: string[] } | undefined;
    let cwd = '/';
    let exe = cmd.path;
    if ('step' in creds) {
      const what = creds.step === 'USER' ? 'user' : 'group';
      failure = {
        status: creds.step === 'USER' ? 217 : 216,
        lines: [
          `${u.name}: Failed to determine ${what} credentials: No such process`,
          `${u.name}: Failed at step ${creds.step} spawning ${cmd.path}: No such process`,
        ],
      };
    } else {
      const wd = c.workingDirectory;
      if (wd) {
        const dir = wd.path === '~' ? (creds.user?.home ?? '/root') : wd.path;
        let ok = false;
        try {
          ok = fs.statSync(dir).isDirectory() && this.dirAccessible(dir, creds.uid, creds.groups);
        } catch {
          ok = false;
        }
        if (ok) cwd = dir;
        else if (!wd.optional) {
          const reason = fs.existsSync(dir) ? 'Permission denied' : 'No such file or directory';
          failure = {
            status: 200,
            lines: [
              `${u.name}: Changing to the requested working directory failed: ${reason}`,
              `${u.name}: Failed at step CHDIR spawning ${cmd.path}: ${reason}`,
            ],
          };
        }
      }
      if (!failure) {
        const found = this.resolveExecutable(cmd, creds.uid, creds.groups);
        if ('error' in found) {
          failure = {
            status: 203,
            lines: [
              `${u.name}: Failed to locate executable ${cmd.path}: ${found.error}`,
              `${u.name}: Failed at step EXEC spawning ${cmd.path}: ${found.error}`,
            ],
          };
        } else exe = found.path;
      }
    }

    let child: ChildProcess;
    const shownArgv = [cmd.path, ...argv.slice(1)];
    if (failure) {
      child = spawn('/bin/sh', ['-c', `exit ${failure.status}`], { detached: true, stdio: 'ignore', cwd: '/' });
    } else {
      const ok = creds as { uid: number; gid: number; groups: number[]; switchUser: boolean };
      const stdout = this.openOutput(c.standardOutput);
      const stderr = c.standardError.kind === 'inherit' ? stdout : this.openOutput(c.standardError);
      const stdio: StdioOptions = ['ignore', stdout, stderr];
      const myUid = process.getuid?.() ?? 0;
      const needSwitch =
        ok.switchUser && (ok.uid !== myUid || ok.gid !== (process.getgid?.() ?? 0) || ok.groups.length > 0);
      const nnp = c.noNewPrivileges;
      if ((needSwitch || nnp) && this.hasSetpriv && myUid === 0) {
        const args = [
          ...(needSwitch
            ? [
                `--reuid=${ok.uid}`,
                `--regid=${ok.gid}`,
                ok.groups.length ? `--groups=${ok.groups.join(',')}` : '--clear-groups',
              ]
            : []),
          ...(nnp ? ['--no-new-privs'] : []),
          '--',
          exe,
          ...argv.slice(1),
        ];
        child = spawn(SETPRIV, args, { cwd, env, detached: true, stdio });
      } else {
        child = spawn(exe, argv.slice(1), {
          cwd,
          env,
          detached: true,
          stdio,
          argv0: argv[0],
          ...(needSwitch ? { uid: ok.uid, gid: ok.gid } : {}),
        });
      }
      for (const fd of new Set([stdout, stderr])) if (typeof fd === 'number') fs.closeSync(fd);
    }
    child.on('error', () => undefined);
    if (child.pid === undefined) {
      // fork/exec of the helper itself failed: report it the way a failed execve() is reported
      const lines = [`${u.name}: Failed at step EXEC spawning ${cmd.path}: No such file or directory`];
      child = spawn('/bin/sh', ['-c', 'exit 203'], { detached: true, stdio: 'ignore', cwd: '/' });
      child.on('error', () => undefined);
      failure = { status: 203, lines };
    }
    const pid = child.pid as number;
    const rec: ProcRecord = { pid, key, cmd, argv: shownArgv, startedAt: Date.now(), child };
    u.groups.add(pid);
    // like systemd's ExecStatus, one record per command: the latest run
    u.execLog = u.execLog.filter((r) => !(r.key === key && r.cmd === cmd));
    u.execLog.push(rec);
    if (failure) {
      // the forked child logs these itself, after the manager's own messages about the fork
      const lines = failure.lines;
      queueMicrotask(() => lines.forEach((l) => this.log(u, l, 3, pid)));
    } else {
      const ident = c.syslogIdentifier ?? path.basename(argv[0]);
      for (const [stream, prio] of [
        [child.stdout, 6],
        [child.stderr, 6],
      ] as const) {
        if (!stream) continue;
        const splitter = new LineSplitter((line) => this.journal.write(u.name, ident, pid, line, prio));
        stream.on('data', (d: Buffer) => splitter.push(d));
        stream.on('end', () => splitter.end());
        stream.on('error', () => undefined);
      }
    }
    child.on('exit', (code, signal) => this.onProcessExit(u, rec, code, signal));
    return { rec, failedStep: !!failure };
  }

  private onProcessExit(u: Unit, rec: ProcRecord, code: number | null, signal: NodeJS.Signals | null): void {
    rec.exit = signal ? { code: 'killed', status: signalNumber(signal) ?? 0 } : { code: 'exited', status: code ?? 0 };
    rec.exitedAt = Date.now();
    rec.child = undefined;
    // forget a process group once it is empty, so a reused pid can never make an unrelated process ours
    if (processesIn([rec.pid]).length === 0) u.groups.delete(rec.pid);
    if (u.main === rec) {
      u.main = undefined;
      this.onMainExit(u, rec);
    } else if (u.control === rec) {
      u.control = undefined;
      this.clearTimers(u, ['timeout']);
      this.onControlExit(u, rec);
    }
  }

  private statusText(exit: ExitInfo): string {
    return exit.code === 'exited'
      ? `code=exited, status=${exitStatusString(exit.status)}`
      : `code=${exit.code}, status=${exit.status}/${signalShortName(exit.status)}`;
  }

  private exitResult(exit: ExitInfo, cfg: UnitConfig, main: boolean): ServiceResult {
    if (exit.code === 'exited') {
      return exit.status === 0 || (main && cfg.successExitStatus.codes.includes(exit.status)) ? 'success' : 'exit-code';
    }
    const sig = signalShortName(exit.status);
    if (main && (['HUP', 'INT', 'TERM', 'PIPE'].includes(sig) || cfg.successExitStatus.signals.includes(sig)))
      return 'success';
    return exit.code === 'dumped' ? 'core-dump' : 'signal';
  }

  private onMainExit(u: Unit, rec: ProcRecord): void {
    const c = u.cfg;
    const exit = rec.exit as ExitInfo;
    const f = this.exitResult(exit, c, true);
    if (f !== 'success') this.log(u, `${u.name}: Main process exited, ${this.statusText(exit)}`, 5);
    switch (u.sub) {
      case 'start':
        if (c.type === 'oneshot' && f === 'success') {
          if (u.mainIdx + 1 < c.execStart.length) {
            this.spawnMain(u, u.mainIdx + 1);
            return;
          }
          this.enterStartPost(u);
        } else this.enterSignal(u, 'stop-sigterm', f);
        return;
      case 'running':
        this.mergeResult(u, f);
        this.enterStop(u, f);
        return;
      case 'exited':
        this.mergeResult(u, f);
        return;
      default:
        // start-post, reload, stop and the kill states: the running control process or the poller moves on
        this.mergeResult(u, f);
    }
  }

  private onControlExit(u: Unit, rec: ProcRecord): void {
    const exit = rec.exit as ExitInfo;
    const clean = exit.code === 'exited' && exit.status === 0;
    const ok = clean || rec.cmd.ignoreFailure;
    const f = ok ? 'success' : this.exitResult(exit, u.cfg, false);
    if (!ok) this.log(u, `${u.name}: Control process exited, ${this.statusText(exit)}`, 5);
    const seq = u.seq;
    if (!seq || seq.cmds[seq.idx] !== rec.cmd) return;
    const more = ok && seq.idx + 1 < seq.cmds.length;
    if (more) {
      this.runControl(u, { ...seq, idx: seq.idx + 1 });
      return;
    }
    u.seq = undefined;
    switch (u.sub) {
      case 'start-pre':
        if (ok) this.enterStart(u);
        else this.enterSignal(u, 'stop-sigterm', f);
        return;
      case 'start-post':
        if (ok) this.enterRunning(u);
        else this.enterStop(u, f);
        return;
      case 'reload':
        if (u.main || u.cfg.remainAfterExit) this.setState(u, u.main ? 'running' : 'exited');
        else {
          this.finishJob(u, ok ? 'done' : 'failed');
          this.enterStop(u, 'success');
          return;
        }
        if (ok) this.log(u, `Reloaded ${u.statusString}.`);
        else this.log(u, `Reload failed for ${u.statusString}.`, 3);
        this.finishJob(u, ok ? 'done' : 'failed');
        return;
      case 'stop':
        this.enterSignal(u, 'stop-sigterm', f);
        return;
      case 'stop-post':
        this.enterSignal(u, 'final-sigterm', f);
        return;
      default:
    }
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Jobs                                                                                                       */
  /* ---------------------------------------------------------------------------------------------------------- */

  private preflight(u: Unit, verb: string): JobOutcome | undefined {
    const ls = u.loaded.loadState;
    if (ls === 'not-found')
      return {
        result: 'failed',
        error: { message: `Unit ${u.name} ${verb === 'stop' ? 'not loaded' : 'not found'}.`, code: 5 },
      };
    if (ls === 'masked') return { result: 'failed', error: { message: `Unit ${u.name} is masked.`, code: 1 } };
    if (ls === 'bad-setting' || ls === 'error')
      return {
        result: 'failed',
        error: { message: `Unit ${u.name} has a bad unit file setting.`, code: 1, seeLogs: true },
      };
    return undefined;
  }

  private checkConditions(u: Unit): { ok: true } | { ok: false; assert: boolean; text: string } {
    for (const cond of u.cfg.conditions) {
      const kind = cond.key.replace(/^(Condition|Assert)/, '');
      let v = cond.value;
      const negate = v.startsWith('!');
      if (negate) v = v.slice(1);
      if (v.startsWith('|')) v = v.slice(1);
      let res: boolean | undefined;
      const st = (() => {
        try {
          return fs.statSync(v);
        } catch {
          return undefined;
        }
      })();
      switch (kind) {
        case 'PathExists':
          res = !!st;
          break;
        case 'PathIsDirectory':
          res = !!st?.isDirectory();
          break;
        case 'FileNotEmpty':
          res = !!st?.isFile() && st.size > 0;
          break;
        case 'FileIsExecutable':
          res = !!st?.isFile() && (st.mode & 0o111) !== 0;
          break;
        case 'DirectoryNotEmpty':
          try {
            res = fs.readdirSync(v).length > 0;
          } catch {
            res = false;
          }
          break;
        case 'PathExistsGlob':
          res = !!st;
          break;
        case 'User':
          res = v === 'root' || v === '0';
          break;
        default:
          res = undefined;
      }
      if (res === undefined) continue;
      if (negate) res = !res;
      if (!res) return { ok: false, assert: cond.assert, text: `${cond.key}=${cond.value}` };
    }
    return { ok: true };
  }

  async startJob(u: Unit, manual = true, seen = new Set<string>()): Promise<JobOutcome> {
    if (isPseudoTarget(u.name)) return { result: 'done' };
    const pre = this.preflight(u, 'start');
    if (pre) return pre;
    if (manual && u.cfg.refuseManualStart) return refusedManual(u);
    seen.add(u.name);
    const state = () => u.active;
    if (state() === 'deactivating') await this.waitFor(u, () => state() !== 'deactivating');
    if (isUp(state())) return { result: 'done' };
    if (state() === 'activating') {
      await this.waitFor(u, () => state() !== 'activating');
      return isUp(state()) ? { result: 'done' } : { result: 'failed', serviceResult: u.result };
    }
    // Requires=/BindsTo=/Wants= pull their units in first
    const c = u.cfg;
    const required = [...c.requires, ...c.bindsTo].filter((d) => !isPseudoTarget(d) && unitSuffix(d) === 'service');
    for (const d of required) {
      const du = this.getUnit(d);
      if (du.loaded.loadState === 'not-found')
        return { result: 'failed', error: { message: `Unit ${d} not found.`, code: 5 } };
    }
    const deps = [...required, ...c.wants.filter((d) => unitSuffix(d) === 'service')];
    for (const d of deps) {
      if (seen.has(d)) continue;
      const du = this.getUnit(d);
      if (du.loaded.loadState !== 'loaded') continue;
      // not through du's queue: two units wanting each other must not wait on each other's queues
      const r = await this.startJob(du, false, seen);
      if (required.includes(d) && r.result !== 'done') {
        this.log(u, `Dependency failed for ${u.statusString}.`, 3);
        this.log(u, `${u.name}: Job ${u.name}/start failed with result 'dependency'.`, 4);
        return { result: 'dependency' };
      }
    }
    for (const d of c.after) {
      const du = this.units.get(d);
      if (du?.job?.type === 'start') await this.waitFor(du, () => du.job?.type !== 'start');
    }
    if (isUp(state())) return { result: 'done' };
    const cond = this.checkConditions(u);
    if (!cond.ok) {
      if (cond.assert) {
        this.log(u, `Assertion failed for ${u.statusString}.`, 3);
        return { result: 'assert' };
      }
      this.log(u, `${u.statusString} was skipped because of an unmet condition check (${cond.text}).`);
      return { result: 'done' };
    }
    if (u.flushNRestarts) {
      u.nRestarts = 0;
      u.flushNRestarts = false;
    }
    // another start (a dependency's, a restart timer's) may have raced us while we waited above
    while (u.job || !isInactive(state())) {
      if (isUp(state())) return { result: 'done' };
      await this.waitFor(u, () => !u.job && (isUp(state()) || isInactive(state())));
      if (isUp(state())) return { result: 'done' };
      if (state() === 'failed') return { result: 'failed', serviceResult: u.result };
    }
    const job: Job = { type: 'start', internal: !manual };
    u.job = job;
    if (!this.startAllowed(u)) {
      this.failStartLimit(u);
      return { result: 'failed', serviceResult: 'start-limit-hit' };
    }
    this.enterStartPre(u);
    await this.waitFor(u, () => u.job !== job);
    return { result: job.result ?? 'failed', serviceResult: u.result };
  }

  async stopJob(u: Unit, manual = true): Promise<JobOutcome> {
    if (isPseudoTarget(u.name)) return { result: 'done' };
    if (u.loaded.loadState === 'not-found' && isInactive(u.active))
      return { result: 'failed', error: { message: `Unit ${u.name} not loaded.`, code: 5 } };
    if (manual && u.cfg.refuseManualStop) return refusedManual(u);
    u.flushNRestarts = true;
    if (isInactive(u.active)) return { result: 'done' };
    if (u.job?.type === 'start') this.finishJob(u, 'canceled');
    const job: Job = { type: 'stop', internal: !manual };
    u.job = job;
    u.forbidRestart = true;
    if (u.sub === 'auto-restart') {
      this.clearTimers(u, ['restart']);
      this.setState(u, 'dead');
      return { result: job.result ?? 'done' };
    }
    this.log(u, `Stopping ${u.statusString}...`);
    switch (u.sub) {
      case 'start-pre':
      case 'start':
      case 'start-post':
      case 'reload':
        u.seq = undefined;
        this.enterSignal(u, 'stop-sigterm', 'success');
        break;
      case 'running':
      case 'exited':
        this.enterStop(u, 'success');
        break;
      default:
      // already on its way down
    }
    await this.waitFor(u, () => u.job !== job);
    return { result: job.result ?? 'done', serviceResult: u.result };
  }

  async reloadJob(u: Unit): Promise<JobOutcome> {
    const pre = this.preflight(u, 'reload');
    if (pre) return pre;
    if (u.cfg.execReload.length === 0)
      return {
        result: 'failed',
        error: { message: `Job type reload is not applicable for unit ${u.name}.`, code: 3 },
      };
    if (u.active !== 'active') return { result: 'invalid' };
    const job: Job = { type: 'reload', internal: false };
    u.job = job;
    this.log(u, `Reloading ${u.statusString}...`);
    this.setState(u, 'reload');
    this.runControl(u, { key: 'ExecReload', cmds: u.cfg.execReload, idx: 0 });
    await this.waitFor(u, () => u.job !== job);
    return { result: job.result ?? 'failed', serviceResult: 'exit-code' };
  }

  resetFailed(u: Unit): void {
    u.ratelimit = { begin: 0, num: 0 };
    u.flushNRestarts = true;
    if (u.sub === 'failed') {
      u.result = 'success';
      this.setState(u, 'dead');
    }
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* Boot and shutdown                                                                                          */
  /* ---------------------------------------------------------------------------------------------------------- */

  async boot(): Promise<void> {
    this.log(undefined, `systemd 252 (lab) running in system mode; booting on ${os.hostname()}.`);
    const names = wantedUnits(this.paths).filter((n) => unitSuffix(n) === 'service');
    await Promise.all(
      names.map((n) => {
        const u = this.getUnit(n);
        return this.enqueue(u, () => this.startJob(u, false));
      }),
    );
    this.log(undefined, 'Reached target multi-user.target - Multi-User System.');
    this.log(undefined, `Startup finished in ${formatTimespan((Date.now() - this.startedAt) * 1000)}.`);
  }

  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.log(undefined, 'Stopping all units.');
    const active = [...this.units.values()].filter((u) => !isInactive(u.active));
    await Promise.all(active.map((u) => this.stopJob(u, false)));
    this.server?.close();
    try {
      fs.unlinkSync(this.paths.socket);
    } catch {
      // gone
    }
    try {
      fs.unlinkSync(this.paths.host(PID_PATH));
    } catch {
      // gone
    }
  }

  /** Listens on the control socket; resolves when listening. Refuses to start twice. */
  async listen(): Promise<void> {
    const sockPath = this.paths.socket;
    fs.mkdirSync(path.dirname(sockPath), { recursive: true });
    fs.mkdirSync(this.paths.host(BOOTED_MARKER), { recursive: true });
    if (fs.existsSync(sockPath)) {
      const alive = await new Promise<boolean>((resolve) => {
        const s = net.createConnection(sockPath);
        s.on('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (alive) throw new Error(`another lab systemd is listening on ${this.paths.guest(sockPath)}`);
      fs.unlinkSync(sockPath);
    }
    this.server = net.createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(sockPath, () => resolve());
    });
    fs.chmodSync(sockPath, 0o666);
    fs.writeFileSync(this.paths.host(PID_PATH), `${process.pid}\n`);
  }

  private serve(sock: net.Socket): void {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      let req: CtlRequest;
      try {
        req = JSON.parse(line) as CtlRequest;
      } catch {
        sock.end(JSON.stringify({ out: [], err: ['Invalid request'], code: 1 }));
        return;
      }
      this.handle(req)
        .catch((err: Error) => ({ out: [], err: [`Failed to ${req.verb}: ${err.message}`], code: 1 }))
        .then((res) => sock.end(JSON.stringify(res)));
    });
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* systemctl verbs                                                                                            */
  /* ---------------------------------------------------------------------------------------------------------- */

  private warnChanged(u: Unit, o: Output): void {
    if (this.needsReload(u))
      o.err.push(
        `Warning: The unit file, source configuration file or drop-ins of ${u.name} changed on disk. Run 'systemctl daemon-reload' to reload units.`,
      );
  }

  private reportJob(verb: string, name: string, r: JobOutcome, o: Output, quiet: boolean): void {
    if (r.error) {
      o.err.push(`Failed to ${verb} ${name}: ${r.error.message}`);
      if (r.error.seeLogs) o.err.push(`See system logs and 'systemctl status ${name}' for details.`);
      if (o.code === 0) o.code = r.error.code;
      return;
    }
    if (r.result === 'done') return;
    if (o.code === 0) o.code = 1;
    if (quiet) return;
    const see = `See "systemctl status ${name}" and "journalctl -xeu ${name}" for details.`;
    switch (r.result) {
      case 'canceled':
        o.err.push(`Job for ${name} canceled.`);
        break;
      case 'dependency':
        o.err.push(`A dependency job for ${name} failed. See 'journalctl -xe' for details.`);
        break;
      case 'invalid':
        o.err.push(`Job for ${name} invalid.`);
        break;
      case 'assert':
        o.err.push(`Assertion failed on job for ${name}.`);
        break;
      default: {
        const expl = r.serviceResult ? JOB_EXPLANATIONS[r.serviceResult] : undefined;
        o.err.push(expl ? `Job for ${name} failed because ${expl}.` : `Job for ${name} failed.`, see);
        if (r.serviceResult === 'start-limit-hit')
          o.err.push(
            `To force a start use "systemctl reset-failed ${name}" followed by "systemctl start ${name}" again.`,
          );
      }
    }
  }

  private async runJobs(
    verb: string,
    names: string[],
    opts: CtlOptions,
    o: Output,
    job: (u: Unit) => Promise<JobOutcome>,
  ): Promise<void> {
    const pending = names.map((name) => {
      const u = this.getUnit(name);
      if (!isPseudoTarget(name)) this.warnChanged(u, o);
      const p = this.enqueue(u, () => job(u));
      return { name, p };
    });
    if (opts.noBlock) {
      for (const { p } of pending) p.catch(() => undefined);
      return;
    }
    for (const { name, p } of pending) this.reportJob(verb, name, await p, o, opts.quiet);
  }

  async handle(req: CtlRequest): Promise<CtlResponse> {
    const o = newOutput();
    const { verb, opts } = req;
    const names = req.args.map(mangleUnitName);
    const mutating = [
      'start',
      'stop',
      'restart',
      'try-restart',
      'reload',
      'reload-or-restart',
      'try-reload-or-restart',
      'kill',
      'reset-failed',
      'daemon-reload',
      'daemon-reexec',
      'enable',
      'disable',
      'reenable',
      'mask',
      'unmask',
    ];
    if (req.uid !== 0 && mutating.includes(verb)) {
      if (verb === 'daemon-reload' || verb === 'daemon-reexec') o.err.push('Failed to reload daemon: Access denied');
      else if (['enable', 'disable', 'reenable', 'mask', 'unmask'].includes(verb))
        o.err.push(`Failed to ${verb} unit: Access denied`);
      else for (const n of names) o.err.push(`Failed to ${verb} ${n}: Access denied`);
      o.code = ['enable', 'disable', 'reenable', 'mask', 'unmask'].includes(verb) ? 1 : 4;
      return o;
    }
    switch (verb) {
      case 'start':
        await this.runJobs('start', names, opts, o, (u) => this.startJob(u));
        break;
      case 'stop':
        await this.runJobs('stop', names, opts, o, (u) => this.stopJob(u));
        break;
      case 'restart':
      case 'try-restart':
        await this.runJobs(verb === 'restart' ? 'restart' : 'try-restart', names, opts, o, async (u) => {
          const pre = this.preflight(u, 'restart');
          if (pre) return pre;
          if (verb === 'try-restart' && isInactive(u.active)) return { result: 'done' };
          if (!isInactive(u.active)) {
            const r = await this.stopJob(u);
            if (r.error) return r;
          }
          return this.startJob(u);
        });
        break;
      case 'reload':
        await this.runJobs('reload', names, opts, o, (u) => this.reloadJob(u));
        break;
      case 'reload-or-restart':
      case 'try-reload-or-restart':
        await this.runJobs('reload-or-restart', names, opts, o, async (u) => {
          const pre = this.preflight(u, 'restart');
          if (pre) return pre;
          if (u.active === 'active' && u.cfg.execReload.length) return this.reloadJob(u);
          if (verb === 'try-reload-or-restart' && isInactive(u.active)) return { result: 'done' };
          if (!isInactive(u.active)) await this.stopJob(u);
          return this.startJob(u);
        });
        break;
      case 'kill':
        for (const n of names) {
          const u = this.getUnit(n);
          const sig = signalNumber(opts.signal.replace(/^SIG/i, ''));
          if (sig === undefined) {
            o.err.push(`Failed to parse signal string ${opts.signal}.`);
            o.code = 1;
            break;
          }
          const targets =
            opts.killWhom === 'main'
              ? [u.main?.pid].filter((p): p is number => !!p)
              : opts.killWhom === 'control'
                ? [u.control?.pid].filter((p): p is number => !!p)
                : this.killTargets(u, true);
          if (targets.length === 0 && opts.killWhom !== 'all') {
            o.err.push(`Failed to kill unit ${n}: No ${opts.killWhom} process to kill`);
            o.code = 1;
          }
          for (const pid of targets) sendSignal(pid, sig);
        }
        break;
      case 'reset-failed':
        for (const u of names.length ? names.map((n) => this.getUnit(n)) : [...this.units.values()])
          this.resetFailed(u);
        break;
      case 'daemon-reload':
      case 'daemon-reexec':
        this.daemonReload();
        break;
      case 'enable':
      case 'reenable':
        if (verb === 'reenable') disableUnits(this.paths, names, o);
        enableUnits(this.paths, names, { force: opts.force }, o);
        if (opts.quiet) o.err = o.err.filter((l) => !/^(Created symlink|Removed)/.test(l));
        if (!opts.noReload && o.code === 0) this.daemonReload();
        if (opts.now && o.code === 0)
          await this.runJobs('start', names, opts, o, (u) =>
            verb === 'reenable' ? this.stopJob(u).then(() => this.startJob(u)) : this.startJob(u),
          );
        break;
      case 'disable':
        disableUnits(this.paths, names, o);
        if (opts.quiet) o.err = o.err.filter((l) => !/^Removed/.test(l));
        if (!opts.noReload && o.code === 0) this.daemonReload();
        if (opts.now && o.code === 0) await this.runJobs('stop', names, opts, o, (u) => this.stopJob(u));
        break;
      case 'mask':
        maskUnits(this.paths, names, o);
        if (!opts.noReload) this.daemonReload();
        if (opts.now && o.code === 0) await this.runJobs('stop', names, opts, o, (u) => this.stopJob(u));
        break;
      case 'unmask':
        unmaskUnits(this.paths, names, o);
        if (!opts.noReload) this.daemonReload();
        break;
      case 'is-enabled':
        return isEnabled(this.paths, names, opts.quiet);
      case 'list-unit-files':
        return listUnitFiles(this.paths, { noLegend: opts.noLegend, patterns: req.args, states: opts.states });
      case 'cat':
        return catUnits(this.paths, names);
      case 'is-active':
      case 'is-failed': {
        let hit = false;
        for (const n of names) {
          const u = isPseudoTarget(n) ? undefined : this.getUnit(n);
          const state: ActiveState = isPseudoTarget(n) ? 'active' : (u as Unit).active;
          if (!opts.quiet) o.out.push(state);
          if (verb === 'is-active' ? state === 'active' || state === 'reloading' : state === 'failed') hit = true;
        }
        o.code = hit ? 0 : verb === 'is-active' ? 3 : 1;
        break;
      }
      case 'is-system-running': {
        const degraded = [...this.units.values()].some((u) => u.active === 'failed');
        if (!opts.quiet) o.out.push(degraded ? 'degraded' : 'running');
        o.code = degraded ? 1 : 0;
        break;
      }
      case 'status':
        this.status(names, opts, o);
        break;
      case 'show':
        this.show(names, opts, o);
        break;
      case 'list-units':
        this.listUnits(req.args, opts, o);
        break;
      case 'list-jobs': {
        const jobs = [...this.units.values()].filter((u) => u.job);
        if (jobs.length === 0) o.out.push('No jobs running.');
        else {
          o.out.push('JOB UNIT TYPE STATE');
          jobs.forEach((u, i) => o.out.push(`${i + 1} ${u.name} ${u.job?.type} running`));
          o.out.push('', `${jobs.length} jobs listed.`);
        }
        break;
      }
      default:
        o.err.push(`Unknown command verb '${verb}'.`);
        o.code = 1;
    }
    return o;
  }

  /* ---------------------------------------------------------------------------------------------------------- */
  /* status / show / list-units                                                                                 */
  /* ---------------------------------------------------------------------------------------------------------- */

  private exitText(exit: ExitInfo): string {
    return exit.code === 'exited'
      ? `code=exited, status=${exitStatusString(exit.status)}`
      : `code=${exit.code}, signal=${signalShortName(exit.status)}`;
  }

  private status(names: string[], opts: CtlOptions, o: Output): void {
    if (names.length === 0) {
      const failed = [...this.units.values()].filter((u) => u.active === 'failed').length;
      o.out.push(
        `● ${os.hostname()}`,
        `    State: ${failed ? 'degraded' : 'running'}`,
        `    Units: ${this.units.size} loaded (incl. loaded aliases)`,
        `     Jobs: ${[...this.units.values()].filter((u) => u.job).length} queued`,
        `   Failed: ${failed} units`,
        `    Since: ${formatTimestamp(this.startedAt)}; ${formatRelative(this.startedAt)}`,
        `  systemd: 252 (lab)`,
      );
      return;
    }
    let code = 0;
    let first = true;
    for (const name of names) {
      if (isPseudoTarget(name)) {
        if (!first) o.out.push('');
        first = false;
        o.out.push(
          `● ${name}`,
          `     Loaded: loaded (/lib/systemd/system/${name}; static)`,
          `     Active: active since ${formatTimestamp(this.startedAt)}; ${formatRelative(this.startedAt)}`,
        );
        continue;
      }
      const u = this.getUnit(name);
      if (u.loaded.loadState === 'not-found' && isInactive(u.active) && !u.mainRecord) {
        o.err.push(`Unit ${name} could not be found.`);
        code = 4;
        continue;
      }
      if (!first) o.out.push('');
      first = false;
      this.renderStatus(u, opts, o);
      this.warnChanged(u, o);
      if (code === 0 && !(u.active === 'active' || u.active === 'reloading')) code = 3;
    }
    o.code = code;
  }

  private renderStatus(u: Unit, opts: CtlOptions, o: Output): void {
    const c = u.cfg;
    const a = u.active;
    const dot = a === 'failed' ? '×' : a === 'inactive' ? '○' : '●';
    o.out.push(`${dot} ${c.description ? `${u.name} - ${c.description}` : u.name}`);
    const ls = u.loaded.loadState;
    if (ls === 'loaded') {
      const fs_ = unitFileState(this.paths, u.name);
      const state = fs_ === 'static' || fs_ === 'not-found' ? fs_ : `${fs_}; preset: enabled`;
      o.out.push(`     Loaded: ${ls} (${u.loaded.fragmentPath}; ${state})`);
    } else if (ls === 'bad-setting')
      o.out.push(`     Loaded: bad-setting (Reason: Unit ${u.name} has a bad unit file setting.)`);
    else if (ls === 'not-found') o.out.push(`     Loaded: not-found (Reason: Unit ${u.name} not found.)`);
    else if (ls === 'masked') o.out.push(`     Loaded: masked (Reason: Unit ${u.name} is masked.)`);
    else o.out.push(`     Loaded: error (Reason: ${u.loaded.loadError ?? 'Input/output error'})`);
    if (u.loaded.dropInPaths.length) {
      const dir = path.dirname(u.loaded.dropInPaths[0]);
      o.out.push(
        `    Drop-In: ${dir}`,
        `             └─${u.loaded.dropInPaths.map((p) => path.basename(p)).join(', ')}`,
      );
    }
    const sub = u.sub;
    let line: string = a;
    if (sub !== (a as string)) line += ` (${sub})`;
    if (u.result !== 'success') line += ` (Result: ${u.result})`;
    const ts =
      a === 'active' || a === 'reloading'
        ? u.ts.activeEnter
        : isInactive(a)
          ? u.ts.inactiveEnter
          : a === 'activating'
            ? u.ts.inactiveExit
            : u.ts.activeExit;
    if (ts) line += ` since ${formatTimestamp(ts)}; ${formatRelative(ts)}`;
    o.out.push(`     Active: ${line}`);
    if (isInactive(a) && u.ts.activeEnter && u.ts.activeExit >= u.ts.activeEnter)
      o.out.push(`   Duration: ${formatTimespan((u.ts.activeExit - u.ts.activeEnter) * 1000)}`);
    c.documentation.forEach((d, i) => o.out.push(`${i === 0 ? '       Docs: ' : '             '}${d}`));
    for (const rec of u.execLog) {
      if (!rec.exit) continue;
      o.out.push(`    Process: ${rec.pid} ${rec.key}=${rec.argv.join(' ')} (${this.exitText(rec.exit)})`);
    }
    if (u.main) o.out.push(`   Main PID: ${u.main.pid} (${comm(u.main.pid) || path.basename(u.main.argv[0])})`);
    else if (u.mainRecord?.exit) o.out.push(`   Main PID: ${u.mainRecord.pid} (${this.exitText(u.mainRecord.exit)})`);
    const procs = processesIn(u.groups);
    if (procs.length) {
      const rss = procs.reduce((s, p) => s + p.rssBytes, 0);
      const cpu = procs.reduce((s, p) => s + p.cpuTicks, 0);
      o.out.push(
        `      Tasks: ${procs.reduce((s, p) => s + p.threads, 0)}`,
        `     Memory: ${formatBytes(rss)}`,
        `        CPU: ${formatTimespan((cpu * 1e6) / CLK_TCK)}`,
        `     CGroup: /system.slice/${u.name}`,
      );
      procs.forEach((p, i) =>
        o.out.push(`             ${i === procs.length - 1 ? '└─' : '├─'}${p.pid} ${cmdline(p.pid) || p.comm}`),
      );
    }
    const entries = opts.lines > 0 ? readEntries(this.paths, [u.name]).slice(-opts.lines) : [];
    if (entries.length) {
      o.out.push('');
      for (const e of entries) o.out.push(formatEntry(e));
    }
  }

  private properties(u: Unit | undefined, name: string): Array<[string, string]> {
    const ts = (ms: number) => (ms ? formatTimestamp(ms) : 'n/a');
    if (!u) {
      return [
        ['Id', name],
        ['Names', name],
        ['LoadState', 'loaded'],
        ['ActiveState', 'active'],
        ['SubState', 'active'],
        ['UnitFileState', 'static'],
      ];
    }
    const c = u.cfg;
    const exit = u.mainRecord?.exit;
    const fileState = unitFileState(this.paths, u.name);
    const execProp = (list: ExecCommand[], key: ExecKey) =>
      list
        .map((cmd) => {
          const rec = [...u.execLog].reverse().find((r) => r.cmd === cmd && r.key === key);
          return (
            `{ path=${cmd.path} ; argv[]=${cmd.argv.join(' ')} ; ignore_errors=${cmd.ignoreFailure ? 'yes' : 'no'} ; ` +
            `start_time=[${rec ? formatTimestamp(rec.startedAt) : 'n/a'}] ; stop_time=[${rec?.exitedAt ? formatTimestamp(rec.exitedAt) : 'n/a'}] ; ` +
            `pid=${rec?.pid ?? 0} ; code=${rec?.exit?.code ?? '(null)'} ; status=${rec?.exit ? `${rec.exit.status}/${rec.exit.code === 'exited' ? exitStatusString(rec.exit.status).split('/')[1] : signalShortName(rec.exit.status)}` : '0/0'} }`
          );
        })
        .join(' ');
    const procs = processesIn(u.groups);
    return [
      ['Type', c.type],
      ['Restart', c.restart],
      ['NotifyAccess', 'none'],
      ['RestartUSec', formatTimespan(c.restartUs)],
      ['TimeoutStartUSec', formatTimespan(c.timeoutStartUs)],
      ['TimeoutStopUSec', formatTimespan(c.timeoutStopUs)],
      ['RemainAfterExit', c.remainAfterExit ? 'yes' : 'no'],
      ['MainPID', String(u.main?.pid ?? 0)],
      ['ControlPID', String(u.control?.pid ?? 0)],
      ['Result', u.result],
      ['NRestarts', String(u.nRestarts)],
      ['ExecMainStartTimestamp', ts(u.mainRecord?.startedAt ?? 0)],
      ['ExecMainExitTimestamp', ts(u.mainRecord?.exitedAt ?? 0)],
      ['ExecMainPID', String(u.mainRecord?.pid ?? 0)],
      ['ExecMainCode', String(exit ? { exited: 1, killed: 2, dumped: 3 }[exit.code] : 0)],
      ['ExecMainStatus', String(exit?.status ?? 0)],
      ['ExecStartPre', execProp(c.execStartPre, 'ExecStartPre')],
      ['ExecStart', execProp(c.execStart, 'ExecStart')],
      ['ExecStartPost', execProp(c.execStartPost, 'ExecStartPost')],
      ['ExecReload', execProp(c.execReload, 'ExecReload')],
      ['ExecStop', execProp(c.execStop, 'ExecStop')],
      ['ExecStopPost', execProp(c.execStopPost, 'ExecStopPost')],
      ['ControlGroup', procs.length ? `/system.slice/${u.name}` : ''],
      ['MemoryCurrent', procs.length ? String(procs.reduce((s, p) => s + p.rssBytes, 0)) : '[not set]'],
      [
        'CPUUsageNSec',
        procs.length ? String(procs.reduce((s, p) => s + p.cpuTicks, 0) * (1e9 / CLK_TCK)) : '[not set]',
      ],
      ['TasksCurrent', String(procs.reduce((s, p) => s + p.threads, 0))],
      ['Environment', c.environment.join(' ')],
      [
        'EnvironmentFiles',
        c.environmentFiles.map((f) => `${f.path} (ignore_errors=${f.optional ? 'yes' : 'no'})`).join(' '),
      ],
      [
        'WorkingDirectory',
        c.workingDirectory ? `${c.workingDirectory.optional ? '!' : ''}${c.workingDirectory.path}` : '',
      ],
      ['User', c.user ?? ''],
      ['Group', c.group ?? ''],
      ['SupplementaryGroups', c.supplementaryGroups.join(' ')],
      ['NoNewPrivileges', c.noNewPrivileges ? 'yes' : 'no'],
      ['SyslogIdentifier', c.syslogIdentifier ?? ''],
      ['KillMode', c.killMode],
      ['KillSignal', String(signalNumber(c.killSignal) ?? 15)],
      ['SendSIGKILL', c.sendSigkill ? 'yes' : 'no'],
      ['Id', u.name],
      ['Names', u.name],
      ['Requires', c.requires.join(' ')],
      ['Wants', c.wants.join(' ')],
      ['BindsTo', c.bindsTo.join(' ')],
      ['After', c.after.join(' ')],
      ['Before', c.before.join(' ')],
      ['Documentation', c.documentation.map((d) => `"${d}"`).join(' ')],
      ['Description', c.description || u.name],
      ['LoadState', u.loaded.loadState],
      ['ActiveState', u.active],
      ['SubState', u.sub],
      ['FragmentPath', u.loaded.fragmentPath ?? ''],
      ['DropInPaths', u.loaded.dropInPaths.join(' ')],
      ['UnitFileState', fileState === 'not-found' ? '' : fileState],
      ['UnitFilePreset', 'enabled'],
      ['StateChangeTimestamp', ts(u.ts.stateChange)],
      ['InactiveExitTimestamp', ts(u.ts.inactiveExit)],
      ['ActiveEnterTimestamp', ts(u.ts.activeEnter)],
      ['ActiveExitTimestamp', ts(u.ts.activeExit)],
      ['InactiveEnterTimestamp', ts(u.ts.inactiveEnter)],
      ['CanStart', u.loaded.loadState === 'loaded' ? 'yes' : 'no'],
      ['CanStop', 'yes'],
      ['CanReload', c.execReload.length ? 'yes' : 'no'],
      ['RefuseManualStart', c.refuseManualStart ? 'yes' : 'no'],
      ['RefuseManualStop', c.refuseManualStop ? 'yes' : 'no'],
      ['StartLimitIntervalUSec', formatTimespan(c.startLimitIntervalUs)],
      ['StartLimitBurst', String(c.startLimitBurst)],
      ['InvocationID', u.invocationId],
      ['NeedDaemonReload', this.needsReload(u) ? 'yes' : 'no'],
    ];
  }

  private show(names: string[], opts: CtlOptions, o: Output): void {
    const wanted = opts.properties.flatMap((p) => p.split(',')).filter(Boolean);
    const emit = (props: Array<[string, string]>) => {
      const list = wanted.length ? wanted.map((w) => props.find(([k]) => k === w) ?? [w, '']) : props;
      for (const [k, v] of list) {
        if (!wanted.length && !opts.all && v === '') continue;
        o.out.push(opts.value ? v : `${k}=${v}`);
      }
    };
    if (names.length === 0) {
      emit([
        ['Version', '252 (lab)'],
        ['Architecture', os.arch() === 'x64' ? 'x86-64' : os.arch()],
        ['SystemState', [...this.units.values()].some((u) => u.active === 'failed') ? 'degraded' : 'running'],
        ['NFailedUnits', String([...this.units.values()].filter((u) => u.active === 'failed').length)],
        ['NNames', String(this.units.size)],
        ['DefaultStandardOutput', 'journal'],
        ['UserspaceTimestamp', formatTimestamp(this.startedAt)],
      ]);
      return;
    }
    names.forEach((n, i) => {
      if (i > 0 && !opts.value) o.out.push('');
      emit(this.properties(isPseudoTarget(n) ? undefined : this.getUnit(n), n));
    });
  }

  private listUnits(patterns: string[], opts: CtlOptions, o: Output): void {
    if (opts.types.length && !opts.types.includes('service')) {
      if (!opts.noLegend) o.out.push('0 loaded units listed.');
      return;
    }
    const states = opts.failed ? ['failed'] : opts.states;
    const res = patterns.map(
      (p) =>
        new RegExp(
          `^${mangleUnitName(p)
            .replace(/[.+^${}()|\\]/g, '\\$&')
            .replace(/\*/g, '.*')}$`,
        ),
    );
    const units = [...this.units.values()]
      .filter((u) => opts.all || !isInactive(u.active) || u.job || u.active === 'failed')
      .filter(
        (u) =>
          !states.length || states.includes(u.active) || states.includes(u.sub) || states.includes(u.loaded.loadState),
      )
      .filter((u) => !res.length || res.some((r) => r.test(u.name)))
      .sort((a, b) => a.name.localeCompare(b.name));
    const rows = units.map((u) => [
      u.active === 'failed' || u.loaded.loadState !== 'loaded' ? '●' : ' ',
      u.name,
      u.loaded.loadState,
      u.active,
      u.sub,
      u.cfg.description || u.name,
    ]);
    const header = ['', 'UNIT', 'LOAD', 'ACTIVE', 'SUB', 'DESCRIPTION'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]) =>
      (opts.plain ? r.slice(1) : r)
        .map((c, i, arr) => (i < arr.length - 1 ? c.padEnd(widths[opts.plain ? i + 1 : i]) : c))
        .join(' ')
        .trimEnd();
    if (!opts.noLegend) o.out.push(opts.plain ? fmt(header) : ' ' + fmt(header).slice(1));
    for (const r of rows) o.out.push(fmt(r));
    if (!opts.noLegend) {
      o.out.push(
        '',
        'LOAD   = Reflects whether the unit definition was properly loaded.',
        'ACTIVE = The high-level unit activation state, i.e. generalization of SUB.',
        'SUB    = The low-level unit activation state, values depend on unit type.',
      );
      o.out.push(
        opts.all
          ? `${rows.length} loaded units listed.`
          : `${rows.length} loaded units listed. Pass --all to see loaded but inactive units, too.`,
        "To show all installed unit files use 'systemctl list-unit-files'.",
      );
    }
  }
}

/** `node systemd.js daemon`: the supervisor, run once at guest boot as root. */
export async function runDaemon(paths: LabPaths = new LabPaths()): Promise<number> {
  const m = new Manager({ paths });
  try {
    await m.listen();
  } catch (err) {
    process.stderr.write(`systemd: ${(err as Error).message}\n`);
    return 1;
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    m.log(undefined, `Received ${sig}, shutting down.`);
    void m.shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => m.daemonReload());
  process.on('SIGPIPE', () => undefined);
  // PID 1 does not die of one bad request: report and keep supervising
  process.on('uncaughtException', (err) => process.stderr.write(`systemd: ${err.stack ?? err.message}\n`));
  process.on('unhandledRejection', (err) => process.stderr.write(`systemd: ${String(err)}\n`));
  await m.boot();
  process.stdout.write(`systemd: ready on ${m.paths.guest(m.paths.socket)}\n`);
  await new Promise<never>(() => undefined);
  return 0;
}
