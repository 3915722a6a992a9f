import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { guestExec } from '../lab/lab';
import { InventorySchema, type Inventory } from '../src/inventory';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveUpdate, statusQuery, type MigrationStatus } from '../src/migration/messages';
import { phaseNamed, phases, runOrder, type Phase } from '../src/migration/phases';
import type { migrateVm } from '../src/workflows';
import { nodeSsh, stopLab, type Lab } from './support/lab';
import { startServerAndLab } from './support/lab-and-worker';
import { WorkerProcesses } from './support/worker-process';

const VMID = 105;
/** the guest of the graceful-shutdown case */
const GRACEFUL_VMID = 106;

/** The phases that run commands in the guest (shared-resources runs on the node, after Docker is gone). */
type GuestPhase = Extract<Phase, { runsOn: 'guest' }>;
const GUEST_PHASES = phases.filter((phase): phase is GuestPhase => phase.runsOn === 'guest').map((phase) => phase.name);
const activityOf = (name: GuestPhase['name']) => phaseNamed(name).activity;
/**
 * A pattern for each guest phase that matches its guest command's command line (`/bin/bash -c <script> …`) and
 * nothing else. The first character in brackets keeps pgrep from matching the shell that runs it, whose command
 * line holds the pattern too.
 */
const COMMAND_PATTERNS: Record<GuestPhase['name'], string> = {
  scan: '[t]arget_foreign=1',
  backup: '[w]rite_backup\\(\\)|[v]erification of',
  'stop-docker': '[c]ontainers still running after',
  install: '[i]nstalled_now=',
  'migrate-data': '[c]onfig_backup_new',
  'deploy-panel': '[p]anel_release_repo',
  'systemd-units': '[u]nits_changed=',
  acceptance: '[g]ateway_direct=',
  'remove-docker': '[d]ocker image prune',
};

interface Crash {
  phase: GuestPhase['name'];
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

/** Where a run can be, in order: the phases, with the waits before remove-docker. */
const order = (phase: string) => (runOrder as readonly string[]).indexOf(phase);

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
    ({ env, lab } = await startServerAndLab({ guests: 2 }));
    inventory = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
    logDir = mkdtempSync(join(tmpdir(), 'migrate-vm-crash-'));
    workers = new WorkerProcesses({
      address: env.address,
      taskQueue,
      logPath: join(logDir, 'worker.log'),
    });
    // The guest's own ledger of the side effects that must happen once: every file written or directory made
    // below /root (backups, openclaw.json.bak.*, the record), /opt (the panel release) and the unit directory.
    inGuest(
      'setsid inotifywait -m -r --format "%e %w%f" -e create,close_write,moved_to /root /opt /etc/systemd/system ' +
        '>/var/log/crash-test-ledger.log 2>/var/log/crash-test-ledger.err </dev/null &',
    );
    for (let i = 0; !/Watches established/.test(inGuest('cat /var/log/crash-test-ledger.err')); i++) {
      if (i > 100) throw new Error(`the ledger did not start: ${inGuest('cat /var/log/crash-test-ledger.err')}`);
      await sleep(100);
    }
    await workers.start();
  }, 900_000);

  afterAll(async () => {
    await workers?.kill();
    await gracefulWorkers?.kill();
    await env?.teardown();
    await stopLab(lab);
  });

  it('completes, and no finished side effect is repeated on the guest', async () => {
    const begun = Date.now();
    const handle = await env.client.workflow.start<typeof migrateVm>('migrateVm', {
      taskQueue,
      workflowId: `migrate-vm-crash-${VMID}`,
      args: [migrateVmInputFor(inventory, VMID)],
    });
    const crashes: Crash[] = [];
    let gatewayPid = '';
    let panelRelease = '';
    const watcher = new StatusWatcher(() =>
      env.client.withDeadline(Date.now() + 10_000, () => handle.query(statusQuery)),
    );
    try {
      for (const phase of GUEST_PHASES) {
        if (phase === 'remove-docker') {
          await watcher.until((s) => s.phase === 'awaiting-approval', 'awaiting-approval');
          const decision = { by: 'crash-test', reason: 'the worker crashed in every phase' };
          expect((await handle.executeUpdate(approveUpdate, { args: [decision] })).accepted).toBe(true);
        }
        // Wait until the phase's command runs in the guest (or the phase is over), then kill. The status query is
        // watched alongside, never waited for: right after a kill it takes up to 10 s (the server first tries the
        // dead worker's sticky queue), long enough for a short phase to come and go unseen.
        const crash: Crash = { phase, commandRunning: false, statusShowedIt: false, killedAt: 0 };
        crashes.push(crash);
        const deadline = Date.now() + 180_000;
        for (;;) {
          const now = watcher.latest;
          if (now?.phase === phase) crash.statusShowedIt = true;
          if (now && order(now.phase) > order(phase)) {
            crash.missed = true;
            break;
          }
          if (guestExec(lab, VMID, ['pgrep', '-f', COMMAND_PATTERNS[phase]]).status === 0) {
            crash.commandRunning = true;
            break;
          }
          if (now && ['failed', 'rolling-back', 'rolled-back'].includes(now.phase)) {
            throw new Error(`migrateVm ${now.phase} in ${phase}: ${now.problems.join('; ')}`);
          }
          if (Date.now() > deadline) throw new Error(`${phase} never ran; the run is in ${now?.phase}`);
          await sleep(50);
        }
        // deploy-panel is over: its release must stay as it is now
        if (phase === 'systemd-units') panelRelease = inGuest('cat /opt/openclaw-panel/.panel-release.json');
        // systemd-units is over: the gateway's pid now must be the one at the end (no restart of a healthy unit)
        if (phase === 'acceptance') gatewayPid = inGuest('systemctl show -p MainPID --value openclaw-gateway');
        if (crash.missed) continue;
        if (phase === 'backup') await readBackupStepInstead(crash);
        const { killed } = await workers.crashAndRestart();
        crash.killedAt = killed!.killedAt!;
      }
    } finally {
      await watcher.stop();
    }

    const result = await handle.result();
    const took = Date.now() - begun;
    expect(result.outcome).toBe('completed');

    // Which phases were really interrupted: their activity ran more than one attempt.
    const attempts = await activityAttempts(handle);
    const report = GUEST_PHASES.map((phase) => {
      const crash = crashes.find((c) => c.phase === phase);
      const activity = attempts.get(activityOf(phase));
      const retryAfter =
        crash && activity && activity.attempt > 1
          ? `${((activity.startedAt - crash.killedAt) / 1000).toFixed(1)} s`
          : '';
      return [
        phase.padEnd(14),
        (crash?.missed ? 'no kill (phase over)' : (crash?.point ?? 'command running')).padEnd(28),
        (crash?.statusShowedIt ? 'yes' : 'no').padEnd(7),
        `attempt ${activity?.attempt ?? '?'}`.padEnd(10),
        retryAfter.padEnd(8),
        activity?.lastFailure ?? '',
      ].join(' ');
    });
    const summary =
      `migrateVm ${VMID}: ${crashes.filter((c) => !c.missed).length} worker kills, ` +
      `${workers.generations.length} worker generations, ${(took / 1000).toFixed(1)} s\n` +
      `phase          killed when                  status  attempt    retry    last failure\n${report.join('\n')}\n` +
      `worker log: ${join(logDir, 'worker.log')}`;
    writeFileSync(join(logDir, 'report.txt'), summary + '\n');
    console.log(summary);

    // A phase whose command was seen running when its worker died must have been retried (resumed).
    const notRetried = crashes.filter((c) => c.commandRunning && !(attempts.get(activityOf(c.phase))!.attempt > 1));
    expect(notRetried.map((c) => c.phase)).toEqual([]);

    // No finished side effect repeated, as the guest shows it.
    const ledger = inGuest('cat /var/log/crash-test-ledger.log').split('\n');
    const written = (pattern: RegExp) => ledger.filter((line) => pattern.test(line));
    // one backup, made once
    expect(inGuest(`ls -d /root/migrate-backup-${VMID}-*`).split('\n')).toEqual([result.status.results.backup!.dir]);
    expect(written(new RegExp(`^CREATE,ISDIR /root/migrate-backup-${VMID}-[^/]*$`))).toHaveLength(1);
    expect(inGuest(`cat ${result.status.results.backup!.dir}/.verified`)).not.toBe('');
    // one openclaw.json.bak, written once
    expect(inGuest('ls /root/.openclaw/openclaw.json.bak.*').split('\n')).toEqual([
      result.status.results.migrateData!.configBackup,
    ]);
    expect(written(/^CLOSE_WRITE,CLOSE \/root\/\.openclaw\/openclaw\.json\.bak\./)).toHaveLength(1);
    // the panel release applied once
    expect(written(/^CLOSE_WRITE,CLOSE \/opt\/openclaw-panel\/\.panel-release\.json$/)).toHaveLength(1);
    expect(inGuest('cat /opt/openclaw-panel/.panel-release.json')).toBe(panelRelease);
    expect(JSON.parse(panelRelease)).toMatchObject({ tag: inventory.panelRelease.tag });
    // the units written once, and the healthy gateway never restarted after systemd-units
    expect(written(/^CLOSE_WRITE,CLOSE \/etc\/systemd\/system\/openclaw-gateway\.service$/)).toHaveLength(1);
    expect(written(/^CLOSE_WRITE,CLOSE \/etc\/systemd\/system\/openclaw-panel\.service$/)).toHaveLength(1);
    expect(gatewayPid).toMatch(/^[1-9]\d*$/);
    expect(inGuest('systemctl show -p MainPID --value openclaw-gateway')).toBe(gatewayPid);
    expect(inGuest('systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
    // Docker removed
    expect(inGuest('docker ps -a --format "{{.Names}}"')).toBe('');
    // the record on the guest, written once
    expect(inGuest(`cat '${result.recordPath}'`)).toBe(result.record.trim());
    expect(written(/^CLOSE_WRITE,CLOSE \/root\/[^/]*迁移记录\.md$/)).toEqual([
      `CLOSE_WRITE,CLOSE ${result.recordPath}`,
    ]);
  }, 300_000);

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
  async function readBackupStepInstead(crash: Crash): Promise<void> {
    const step = guestExec(lab, VMID, ['pgrep', '-o', '-f', '[w]rite_backup\\(\\)']).stdout.trim();
    if (!step) return; // the verification runs already: a plain kill
    workers.freeze();
    for (;;) {
      const answer = nodeSsh(lab, ['qm', 'guest', 'exec-status', String(VMID), step]);
      if (answer.status !== 0) throw new Error(`qm guest exec-status ${VMID} ${step}: ${answer.stderr}`);
      const status = JSON.parse(answer.stdout) as { exited?: number; exitcode?: number };
      if (status.exited) {
        expect(status.exitcode).toBe(0);
        break;
      }
      await sleep(100);
    }
    crash.point = 'backup written, result read';
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
