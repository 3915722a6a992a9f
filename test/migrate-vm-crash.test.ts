import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { guestExec } from '../lab/lab';
import { InventorySchema, type Inventory } from '../src/inventory';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveUpdate, rejectUpdate, statusQuery, type MigrationStatus } from '../src/migration/messages';
import { phaseNamed, phaseOrder, runOrderOf, type Phase } from '../src/migration/phases';
import type { migrateVm } from '../src/workflows';
import { nodeSsh, stopLab, type Lab } from './support/lab';
import { startServerAndLab } from './support/lab-and-worker';
import { WorkerProcesses } from './support/worker-process';

const VMID = 105;
/** the guest of the graceful-shutdown case */
const GRACEFUL_VMID = 106;
/** the guest of the pre-staged run */
const PRESTAGED_VMID = 107;

/** The phases that run commands in the guest (shared-resources runs on the node, after Docker is gone). */
type GuestPhase = Extract<Phase, { runsOn: 'guest' }>;
type GuestPhaseName = GuestPhase['name'];
/** The guest phases of a run, in the order it goes through them. */
const guestPhases = (prestage: boolean) =>
  phaseOrder(prestage)
    .filter((phase): phase is GuestPhase => phase.runsOn === 'guest')
    .map((phase) => phase.name);
/** The pre-staged run is killed in the steps that pre-staging moved or added, from D to G₂. */
const PRESTAGED_KILLS = guestPhases(true).slice(guestPhases(true).indexOf('install'), -2);
const activityOf = (name: GuestPhaseName) => phaseNamed(name).activity;
/**
 * A pattern for each guest phase that matches its guest command's command line (`/bin/bash -c <script> <label>
 * <args>…`) and nothing else running then. The first character in brackets keeps pgrep from matching the shell
 * that runs it, whose command line holds the pattern too. The pre-staged steps run the script of their phase with a
 * last argument of their own.
 */
const COMMAND_PATTERNS: Record<GuestPhaseName, string> = {
  scan: '[t]arget_foreign=1',
  backup: '[w]rite_backup\\(\\)|[v]erification of',
  'stop-docker': '[c]ontainers still running after',
  install: '[i]nstalled_now=',
  'pre-copy': '[c]onfig_backup_new.* pre-copy$',
  'migrate-data': '[c]onfig_backup_new',
  'deploy-panel': '[p]anel_release_repo',
  'stage-units': '[u]nits_changed=.* stage$',
  'systemd-units': '[u]nits_changed=',
  acceptance: '[g]ateway_direct=',
  'remove-docker': '[d]ocker image prune',
};

interface Crash {
  phase: GuestPhaseName;
  /** the phase's guest command was seen running in the guest right before the kill */
  commandRunning: boolean;
  /** the status query had shown the phase running by then */
  statusShowedIt: boolean;
  killedAt: number;
  /** the phase was over before a kill could land in it: no kill */
  missed?: boolean;
  /** where the kill landed, when it was placed more exactly than "while the command runs" */
  point?: string;
}

/** Where a run can be, in order: its phases, with the waits before remove-docker. */
const order = (phase: string, prestage = false) => (runOrderOf(prestage) as readonly string[]).indexOf(phase);

/** The run's status, queried again and again in the background; `latest` is the last answer. */
class StatusWatcher {
  latest: MigrationStatus | undefined;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(query: () => Promise<MigrationStatus>) {
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          this.latest = await query();
        } catch {
          // no worker answers for a while after a kill
        }
        await sleep(100);
      }
    })();
  }

  async until(done: (s: MigrationStatus) => boolean, what: string, timeoutMs = 180_000): Promise<MigrationStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.latest && done(this.latest)) return this.latest;
      if (Date.now() > deadline) throw new Error(`migrateVm never reached ${what}; it is in ${this.latest?.phase}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * The worker is killed (SIGKILL, as the OOM killer or a lost machine would) in the middle of every phase of
 * migrateVm and started again; the run completes, and the guest shows that no finished side effect was repeated.
 * A pre-staged run is killed in every step that pre-staging moved or added, and then rejected.
 */
describe('migrateVm with its worker killed in every phase', () => {
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  let inventory: Inventory;
  let workers: WorkerProcesses;
  let gracefulWorkers: WorkerProcesses | undefined;
  let logDir: string;
  const taskQueue = `crash-${randomUUID()}`;
  const inGuest = (script: string, vmid = VMID) => {
    const result = guestExec(lab, vmid, ['/bin/bash', '-c', script]);
    if (result.status !== 0) throw new Error(`in the guest, ${script}: exit ${result.status}: ${result.stderr}`);
    return result.stdout.trim();
  };

  beforeAll(async () => {
    ({ env, lab } = await startServerAndLab({ guests: 3 }));
    inventory = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
    logDir = mkdtempSync(join(tmpdir(), 'migrate-vm-crash-'));
    workers = new WorkerProcesses({
      address: env.address,
      taskQueue,
      logPath: join(logDir, 'worker.log'),
    });
    // The guest's own ledger of the side effects that must happen once: every file written or directory made
    // below /root (backups, openclaw.json.bak.*, the record), /opt (the panel release) and the unit directory.
    for (const vmid of [VMID, PRESTAGED_VMID]) {
      inGuest(
        'setsid inotifywait -m -r --format "%e %w%f" -e create,close_write,moved_to /root /opt /etc/systemd/system ' +
          '>/var/log/crash-test-ledger.log 2>/var/log/crash-test-ledger.err </dev/null &',
        vmid,
      );
      for (let i = 0; !/Watches established/.test(inGuest('cat /var/log/crash-test-ledger.err', vmid)); i++) {
        if (i > 100)
          throw new Error(`the ledger did not start: ${inGuest('cat /var/log/crash-test-ledger.err', vmid)}`);
        await sleep(100);
      }
    }
    await workers.start();
  }, 900_000);

  afterAll(async () => {
    await workers?.kill();
    await gracefulWorkers?.kill();
    await env?.teardown();
    await stopLab(lab);
  });

  /** What a killed run's test does at points of its own, in the guest or with the run. */
  interface Hooks {
    /** before the kill in a phase is looked for: the run's handle, e.g. to decide */
    beforePhase?: (
      phase: GuestPhaseName,
      handle: WorkflowHandle<typeof migrateVm>,
      watcher: StatusWatcher,
    ) => Promise<void>;
    /** once the phase's command runs (or the phase is over), before the kill */
    atPhase?: (phase: GuestPhaseName, crash: Crash) => void;
  }

  /**
   * Starts a run of `vmid` and kills its worker in each of `kills` as the phase's command runs (the phase's kill is
   * missed when it is over before it could land), then answers the run's result, its crashes and the report.
   */
  async function killInEachPhase(vmid: number, prestage: boolean, kills: readonly GuestPhaseName[], hooks: Hooks) {
    const begun = Date.now();
    const handle = await env.client.workflow.start<typeof migrateVm>('migrateVm', {
      taskQueue,
      workflowId: `migrate-vm-crash-${vmid}`,
      args: [{ ...migrateVmInputFor(inventory, vmid), prestage }],
    });
    const crashes: Crash[] = [];
    const watcher = new StatusWatcher(() =>
      env.client.withDeadline(Date.now() + 10_000, () => handle.query(statusQuery)),
    );
    try {
      for (const phase of kills) {
        await hooks.beforePhase?.(phase, handle, watcher);
        // Wait until the phase's command runs in the guest (or the phase is over), then kill. The status query is
        // watched alongside, never waited for: right after a kill it takes up to 10 s (the server first tries the
        // dead worker's sticky queue), long enough for a short phase to come and go unseen.
        const crash: Crash = { phase, commandRunning: false, statusShowedIt: false, killedAt: 0 };
        crashes.push(crash);
        const deadline = Date.now() + 180_000;
        for (;;) {
          const now = watcher.latest;
          if (now?.phase === phase) crash.statusShowedIt = true;
          if (now && order(now.phase, prestage) > order(phase, prestage)) {
            crash.missed = true;
            break;
          }
          if (guestExec(lab, vmid, ['pgrep', '-f', COMMAND_PATTERNS[phase]]).status === 0) {
            crash.commandRunning = true;
            break;
          }
          if (now && ['failed', 'rolling-back', 'rolled-back'].includes(now.phase)) {
            throw new Error(`migrateVm ${now.phase} in ${phase}: ${now.problems.join('; ')}`);
          }
          if (Date.now() > deadline) throw new Error(`${phase} never ran; the run is in ${now?.phase}`);
          await sleep(50);
        }
        hooks.atPhase?.(phase, crash);
        if (crash.missed) continue;
        if (phase === 'backup') await readBackupStepInstead(vmid, crash);
        const { killed } = await workers.crashAndRestart();
        crash.killedAt = killed!.killedAt!;
      }
      return { handle, crashes, begun, watcher };
    } finally {
      await watcher.stop();
    }
  }

  /**
   * Which phases were really interrupted (their activity ran more than one attempt), printed and kept; a phase
   * whose command was seen running when its worker died must have been retried (resumed).
   */
  async function expectEachKillResumed(
    vmid: number,
    { handle, crashes, begun }: { handle: WorkflowHandle<typeof migrateVm>; crashes: Crash[]; begun: number },
  ): Promise<void> {
    const took = Date.now() - begun;
    const attempts = await activityAttempts(handle);
    const report = crashes.map((crash) => {
      const activity = attempts.get(activityOf(crash.phase));
      const retryAfter =
        activity && activity.attempt > 1 ? `${((activity.startedAt - crash.killedAt) / 1000).toFixed(1)} s` : '';
      return [
        crash.phase.padEnd(14),
        (crash.missed ? 'no kill (phase over)' : (crash.point ?? 'command running')).padEnd(28),
        (crash.statusShowedIt ? 'yes' : 'no').padEnd(7),
        `attempt ${activity?.attempt ?? '?'}`.padEnd(10),
        retryAfter.padEnd(8),
        activity?.lastFailure ?? '',
      ].join(' ');
    });
    const summary =
      `migrateVm ${vmid}: ${crashes.filter((c) => !c.missed).length} worker kills, ` +
      `${workers.generations.length} worker generations so far, ${(took / 1000).toFixed(1)} s\n` +
      `phase          killed when                  status  attempt    retry    last failure\n${report.join('\n')}\n` +
      `worker log: ${join(logDir, 'worker.log')}`;
    writeFileSync(join(logDir, `report-${vmid}.txt`), summary + '\n');
    console.log(summary);
    const notRetried = crashes.filter((c) => c.commandRunning && !(attempts.get(activityOf(c.phase))!.attempt > 1));
    expect(notRetried.map((c) => c.phase)).toEqual([]);
  }

  /** The guest's ledger of writes: the lines that match. */
  const written = (vmid: number, pattern: RegExp) =>
    inGuest('cat /var/log/crash-test-ledger.log', vmid)
      .split('\n')
      .filter((line) => pattern.test(line));

  /** The side effects that must happen once, as the guest shows them: the backup, the config's .bak, the panel release. */
  function expectMadeOnce(vmid: number, status: MigrationStatus): void {
    // one backup, made once
    expect(inGuest(`ls -d /root/migrate-backup-${vmid}-*`, vmid).split('\n')).toEqual([status.results.backup!.dir]);
    expect(written(vmid, new RegExp(`^CREATE,ISDIR /root/migrate-backup-${vmid}-[^/]*$`))).toHaveLength(1);
    expect(inGuest(`cat ${status.results.backup!.dir}/.verified`, vmid)).not.toBe('');
    // one openclaw.json.bak.<timestamp>, written once (doctor's own rotating .bak, .bak.1… are not phase E's)
    expect(inGuest(`ls /root/.openclaw/openclaw.json.bak.${'[0-9]'.repeat(14)}`, vmid).split('\n')).toEqual([
      status.results.migrateData!.configBackup,
    ]);
    expect(written(vmid, /^CLOSE_WRITE,CLOSE \/root\/\.openclaw\/openclaw\.json\.bak\./)).toHaveLength(1);
    // the panel release applied once, the units written once
    expect(written(vmid, /^CLOSE_WRITE,CLOSE \/opt\/openclaw-panel\/\.panel-release\.json$/)).toHaveLength(1);
    expect(JSON.parse(inGuest('cat /opt/openclaw-panel/.panel-release.json', vmid))).toMatchObject({
      tag: inventory.panelRelease.tag,
    });
    expect(written(vmid, /^CLOSE_WRITE,CLOSE \/etc\/systemd\/system\/openclaw-gateway\.service$/)).toHaveLength(1);
    expect(written(vmid, /^CLOSE_WRITE,CLOSE \/etc\/systemd\/system\/openclaw-panel\.service$/)).toHaveLength(1);
    // the record, written once
    expect(written(vmid, /^CLOSE_WRITE,CLOSE \/root\/[^/]*迁移记录\.md$/)).toHaveLength(1);
  }

  it('completes, and no finished side effect is repeated on the guest', async () => {
    let gatewayPid = '';
    let panelRelease = '';
    const run = await killInEachPhase(VMID, false, guestPhases(false), {
      beforePhase: async (phase, handle, watcher) => {
        if (phase !== 'remove-docker') return;
        await watcher.until((s) => s.phase === 'awaiting-approval', 'awaiting-approval');
        const decision = { by: 'crash-test', reason: 'the worker crashed in every phase' };
        expect((await handle.executeUpdate(approveUpdate, { args: [decision] })).accepted).toBe(true);
      },
      atPhase: (phase) => {
        // deploy-panel is over: its release must stay as it is now
        if (phase === 'systemd-units') panelRelease = inGuest('cat /opt/openclaw-panel/.panel-release.json');
        // systemd-units is over: the gateway's pid now must be the one at the end (no restart of a healthy unit)
        if (phase === 'acceptance') gatewayPid = inGuest('systemctl show -p MainPID --value openclaw-gateway');
      },
    });
    const result = await run.handle.result();
    expect(result.outcome).toBe('completed');
    await expectEachKillResumed(VMID, run);
    expectMadeOnce(VMID, result.status);
    expect(inGuest('cat /opt/openclaw-panel/.panel-release.json')).toBe(panelRelease);
    // the healthy gateway never restarted after systemd-units
    expect(gatewayPid).toMatch(/^[1-9]\d*$/);
    expect(inGuest('systemctl show -p MainPID --value openclaw-gateway')).toBe(gatewayPid);
    expect(inGuest('systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
    // Docker removed
    expect(inGuest('docker ps -a --format "{{.Names}}"')).toBe('');
    // the record on the guest
    expect(inGuest(`cat '${result.recordPath}'`)).toBe(result.record.trim());
    expect(written(VMID, /^CLOSE_WRITE,CLOSE \/root\/[^/]*迁移记录\.md$/)).toEqual([
      `CLOSE_WRITE,CLOSE ${result.recordPath}`,
    ]);
  }, 300_000);

  it('pre-staged: resumes each moved step, copies what changed after the pre-copy, and a rejection leaves no unit', async () => {
    const inVm = (script: string) => inGuest(script, PRESTAGED_VMID);
    const workspace = '/data/openclaw/workspace';
    const changed = `${workspace}/written-after-the-pre-copy.txt`;
    let rewritten = '';
    let removed = '';
    let unitsBeforeC = '';
    const run = await killInEachPhase(PRESTAGED_VMID, true, PRESTAGED_KILLS, {
      atPhase: (phase, crash) => {
        // the pre-copy is over, Docker still runs: the customer writes a file, rewrites another at the same size
        // and the same second (rsync's quick check cannot see it) and deletes a third
        if (phase === 'deploy-panel') {
          rewritten = `${workspace}/scripts/backup.sh`;
          removed = inVm(`find ${workspace}/projects -type f | sort | head -n 1`);
          expect(removed).toMatch(/^\/data\/openclaw\/workspace\/projects\/p\d\//);
          inVm(`echo 'a file the customer wrote while the pre-staged steps ran' > ${changed}`);
          inVm(
            `t=$(stat -c %Y '${rewritten}'); n=$(stat -c %s '${rewritten}'); ` +
              `head -c "$n" /dev/zero | tr '\\0' x > '${rewritten}'; touch -d "@$t" '${rewritten}'`,
          );
          inVm(`rm '${removed}'`);
        }
        // C runs, so nothing has started the units yet: written, neither enabled nor started
        if (phase === 'stop-docker' && !crash.missed)
          unitsBeforeC = inVm(
            'ls /etc/systemd/system/openclaw-gateway.service /etc/systemd/system/openclaw-panel.service && ' +
              '{ systemctl is-enabled openclaw-gateway openclaw-panel || true; } && ' +
              '{ systemctl is-active openclaw-gateway openclaw-panel || true; }',
          );
      },
    });
    expect(unitsBeforeC.split('\n')).toEqual([
      '/etc/systemd/system/openclaw-gateway.service',
      '/etc/systemd/system/openclaw-panel.service',
      'disabled',
      'disabled',
      'inactive',
      'inactive',
    ]);
    const watcher = new StatusWatcher(() =>
      env.client.withDeadline(Date.now() + 10_000, () => run.handle.query(statusQuery)),
    );
    const awaiting = await watcher
      .until((s) => s.phase === 'awaiting-approval', 'awaiting-approval')
      .finally(() => watcher.stop());
    expect(awaiting.phases.map((p) => p.name)).toEqual(guestPhases(true).slice(0, -1));
    expect(awaiting.outage?.ms).toBeGreaterThan(0);
    // the final copy is the source as it is after C: the new file, the rewritten one, not the deleted one
    const target = (path: string) => path.replace('/data/openclaw/', '/root/.openclaw/');
    expect(inVm(`cat '${target(changed)}'`)).toBe('a file the customer wrote while the pre-staged steps ran');
    expect(inVm(`cmp '${rewritten}' '${target(rewritten)}' && echo same`)).toBe('same');
    expect(inVm(`[ -e '${target(removed)}' ] && echo there || echo gone`)).toBe('gone');
    expect(inVm(`diff -r ${workspace} /root/.openclaw/workspace && echo same`)).toBe('same');

    const decision = { by: 'crash-test', reason: 'the pre-staged run is rolled back' };
    expect((await run.handle.executeUpdate(rejectUpdate, { args: [decision] })).accepted).toBe(true);
    const result = await run.handle.result();
    expect(result.outcome).toBe('rejected');
    await expectEachKillResumed(PRESTAGED_VMID, run);
    expectMadeOnce(PRESTAGED_VMID, result.status);
    // back on Docker: no unit left behind, the config restored from its .bak, the copy and the backup kept
    expect(result.status.rollback.map((step) => step.split(':')[0])).toEqual([
      'stop and disable the direct services',
      'openclaw.json from its .bak',
      'docker compose start',
      'stop, disable and remove the direct units',
    ]);
    expect(inVm('ls /etc/systemd/system | grep -c openclaw || true')).toBe('0');
    expect(inVm('systemctl is-active openclaw-gateway openclaw-panel || true')).toBe('inactive\ninactive');
    expect(inVm('docker ps --format "{{.Names}}" | sort')).toBe('openclaw-gateway\nopenclaw-panel');
    expect(inVm('curl -s http://127.0.0.1:28789/health')).toBe('{"ok":true,"status":"live"}');
    expect(
      inVm("python3 -c \"import json; print(json.load(open('/root/.openclaw/openclaw.json'))['gateway']['port'])\""),
    ).toBe('18789');
    expect(inVm(`cat '${target(changed)}'`)).toBe('a file the customer wrote while the pre-staged steps ran');
    expect(inVm(`ls -d ${result.status.results.backup!.dir}`)).toBe(result.status.results.backup!.dir);
  }, 420_000);

  it('a worker stopped gracefully leaves the guest command running, and the next worker resumes it', async () => {
    const queue = `graceful-${randomUUID()}`;
    gracefulWorkers = new WorkerProcesses({
      address: env.address,
      taskQueue: queue,
      logPath: join(logDir, 'graceful.log'),
    });
    await gracefulWorkers.start();
    const input = migrateVmInputFor(inventory, GRACEFUL_VMID);
    expect(input.installCommand).toMatch(/install-openclaw\.sh/);
    const handle = await env.client.workflow.start<typeof migrateVm>('migrateVm', {
      taskQueue: queue,
      workflowId: `migrate-vm-graceful-${GRACEFUL_VMID}`,
      // The lab's install takes ~5 s, the worker's grace time: unslowed, it could end on its own while the worker
      // drains, and the case would test nothing. Slowed, it must outlive the stop.
      args: [{ ...input, installCommand: `sleep 20; ${input.installCommand}` }],
    });
    try {
      const installing = () => guestExec(lab, GRACEFUL_VMID, ['pgrep', '-f', COMMAND_PATTERNS.install]).stdout.trim();
      let pid = '';
      for (const deadline = Date.now() + 120_000; !pid && Date.now() < deadline;) {
        pid = installing();
        if (!pid) await sleep(50);
      }
      expect(pid).toMatch(/^\d+$/);
      // SIGTERM: the worker drains for its shutdown grace time, then cancels its activities (WORKER_SHUTDOWN) and
      // exits. The install must outlive it: the next attempt resumes it by its pid instead of killing and redoing it.
      const stopAsked = Date.now();
      await gracefulWorkers.stop();
      const took = Date.now() - stopAsked;
      expect(inGuest(`kill -0 ${pid} && echo running || echo gone`, GRACEFUL_VMID)).toBe('running');
      await gracefulWorkers.start();
      const watcher = new StatusWatcher(() =>
        env.client.withDeadline(Date.now() + 10_000, () => handle.query(statusQuery)),
      );
      const after = await watcher
        .until((s) => order(s.phase) > order('install'), 'the end of install')
        .finally(() => watcher.stop());
      const install = (await activityAttempts(handle)).get('install')!;
      console.log(
        `graceful stop in install (vm ${GRACEFUL_VMID}): the worker took ${(took / 1000).toFixed(1)} s to stop, install pid ${pid} ` +
          `survived it; attempt ${install.attempt} after: ${install.lastFailure}; installed now: ${after.results.install?.installedNow}`,
      );
      expect(install).toMatchObject({ attempt: 2, lastFailure: expect.stringMatching(/shutting down/) });
      // the result is the original command's (it installed); a second run of the script would have found it installed
      expect(after.results.install?.installedNow).toBe(true);
    } finally {
      await handle.terminate('the graceful-shutdown case ends after install').catch(() => undefined);
      await gracefulWorkers.kill();
    }
  }, 120_000);

  /**
   * The most delicate point of the backup phase, played exactly: its first step (the tarballs and their checksums)
   * has finished, the worker has read its result, and dies before the second step (verification) starts. The
   * worker is frozen while the first step runs, and the step's result is read from the guest agent in its place:
   * the next attempt finds the step's pid forgotten, and must not write a second backup.
   */
  async function readBackupStepInstead(vmid: number, crash: Crash): Promise<void> {
    const step = guestExec(lab, vmid, ['pgrep', '-o', '-f', '[w]rite_backup\\(\\)']).stdout.trim();
    if (!step) return; // the verification runs already: a plain kill
    workers.freeze();
    try {
      for (;;) {
        const answer = nodeSsh(lab, ['qm', 'guest', 'exec-status', String(vmid), step]);
        // The frozen worker's poll on the node runs to the end of its slice: if the step ended meanwhile, that poll
        // read its status, and the agent forgot the pid. The next attempt finds it forgotten all the same.
        if (answer.status !== 0 && /Invalid parameter 'pid'/.test(answer.stderr)) {
          crash.point = "backup written, read by the frozen worker's poll";
          return;
        }
        if (answer.status !== 0) throw new Error(`qm guest exec-status ${vmid} ${step}: ${answer.stderr}`);
        const status = JSON.parse(answer.stdout) as { exited?: number; exitcode?: number };
        if (status.exited) {
          expect(status.exitcode).toBe(0);
          crash.point = 'backup written, result read';
          return;
        }
        await sleep(100);
      }
    } catch (error) {
      await workers.crashAndRestart(); // the next case must not find its worker frozen
      throw error;
    }
  }

  async function activityAttempts(
    handle: WorkflowHandle<typeof migrateVm>,
  ): Promise<Map<string, { attempt: number; startedAt: number; lastFailure?: string }>> {
    const history = await handle.fetchHistory();
    const types = new Map<string, string>();
    const attempts = new Map<string, { attempt: number; startedAt: number; lastFailure?: string }>();
    for (const event of history.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(event.eventId), scheduled.activityType?.name ?? '?');
      const started = event.activityTaskStartedEventAttributes;
      if (started) {
        const type = types.get(String(started.scheduledEventId)) ?? '?';
        const seconds = Number(event.eventTime?.seconds ?? 0);
        attempts.set(type, {
          attempt: started.attempt ?? 1,
          startedAt: seconds * 1000 + Math.round((event.eventTime?.nanos ?? 0) / 1e6),
          lastFailure: started.lastFailure?.message ?? undefined,
        });
      }
    }
    return attempts;
  }
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
