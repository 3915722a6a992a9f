import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { guestExec } from '../lab/lab';
import { InventorySchema, type Inventory } from '../src/inventory';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveUpdate, rejectUpdate, statusQuery, type MigrationStatus } from '../src/migration/messages';
import { phaseNamed, phaseOrder, runOrderOf, type GuestPhase, type GuestPhaseName } from '../src/migration/phases';
import type { migrateVm } from '../src/workflows';
import { dockerEraAnswers, expectWorkspaceKept } from './support/bot';
import { nodeSsh, stopLab, type Lab } from './support/lab';
import { startServerAndLab } from './support/lab-and-worker';
import { WorkerProcesses } from './support/worker-process';

const VMID = 105;
/** the guest of the graceful-shutdown case */
const GRACEFUL_VMID = 106;
/** the guest of the pre-staged run */
const PRESTAGED_VMID = 107;

/** The guest phases of a run, in the order it goes through them. */
const guestPhases = (prestage: boolean) =>
  phaseOrder(prestage)
    .filter((phase): phase is GuestPhase => phase.runsOn === 'guest')
    .map((phase) => phase.name);
/** The pre-staged run is killed in the steps that pre-staging moved or added, from D to G₂. */
const PRESTAGED_KILLS = guestPhases(true).slice(guestPhases(true).indexOf('install'), -2);
const activityOf = (name: GuestPhaseName) => phaseNamed(name).activity!;

/**
 * The hold: where a kill lands is made, not raced for. The guest agent runs every command as `/bin/bash -c
 * <script> <label> <args>…`, and each guest phase labels its command with the phase's name; with BASH_ENV set in
 * the agent's environment, every bash it starts reads this file first, with $0 = the label. It logs the start
 * (`<label> <pid>` in `started`), and the one command whose label is armed (`armed`, taken once) stops itself
 * (SIGSTOP) before its script's first line, its pid in `held.<label>`: the phase cannot end until the test
 * continues it (SIGCONT). No output, and nothing of it is left in the command's shell.
 */
const HOLD = '/run/crash-test-hold';
const HOLD_SCRIPT = `# the crash test's hold (test/migrate-vm-crash.test.ts), read by every bash the guest agent starts
if [ -d ${HOLD} ]; then
  echo "$0 $$" 2>/dev/null >>${HOLD}/started
  if read -r crash_test_hold 2>/dev/null <${HOLD}/armed && [ "$0" = "$crash_test_hold" ] &&
    mv ${HOLD}/armed "${HOLD}/held.$0" 2>/dev/null; then
    echo "$$" 2>/dev/null >"${HOLD}/held.$0"
    kill -STOP "$$"
  fi
  unset crash_test_hold
fi
`;

/** After a kill, the phase's command goes on while no worker watches it, or only once the retry waits for it. */
type Resume = 'finished' | 'running';

interface Crash {
  phase: GuestPhaseName;
  /** the phase's command, held stopped at its start in the guest when the worker was killed */
  pid: number;
  killedAt: number;
  /** where the kill landed */
  point: string;
  /** how the held command went on: before the next worker started (it had finished), or once the retry waited */
  resume: Resume | 'read before the kill';
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

/** Polls `probe` until it answers something, for at most `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/**
 * The worker is killed (SIGKILL, as the OOM killer or a lost machine would) in the middle of every phase of
 * migrateVm and started again; the run completes, and the guest shows that no finished side effect was repeated.
 * A pre-staged run is killed in every step that pre-staging moved or added, and then rejected. Each kill lands
 * while the phase's command is held stopped in the guest (HOLD_SCRIPT), and that it did is asserted. The three
 * cases run side by side, each on its own guest with its own task queue and worker: most of their time is the
 * wait for a dead worker's heartbeat timeout.
 */
describe('migrateVm with its worker killed in every phase', () => {
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  let inventory: Inventory;
  let workers: WorkerProcesses;
  let prestagedWorkers: WorkerProcesses;
  let gracefulWorkers: WorkerProcesses;
  let logDir: string;
  let cases: { plain: Promise<void>; prestaged: Promise<void>; graceful: Promise<void> } | undefined;
  const inGuest = (script: string, vmid = VMID) => {
    const result = guestExec(lab, vmid, ['/bin/bash', '-c', script]);
    if (result.status !== 0) throw new Error(`in the guest, ${script}: exit ${result.status}: ${result.stderr}`);
    return result.stdout.trim();
  };
  const workersFor = (name: string) =>
    new WorkerProcesses({
      address: env.address,
      taskQueue: `${name}-${randomUUID()}`,
      logPath: join(logDir, `${name}.log`),
    });

  /** The hold (HOLD_SCRIPT) in the agent's environment: the agent restarted with BASH_ENV, then checked. */
  async function installHold(vmid: number): Promise<void> {
    const dropIn = '/etc/systemd/system/qemu-guest-agent.service.d';
    const install = guestExec(
      lab,
      vmid,
      [
        '/bin/bash',
        '-c',
        `cat >/usr/local/lib/crash-test-hold.sh && mkdir -p ${HOLD} ${dropIn} && ` +
          `printf '[Service]\\nEnvironment=BASH_ENV=/usr/local/lib/crash-test-hold.sh\\n' >${dropIn}/crash-test-hold.conf && ` +
          'systemctl daemon-reload && systemctl restart qemu-guest-agent',
      ],
      HOLD_SCRIPT,
    );
    if (install.status !== 0) throw new Error(`the hold in vm ${vmid}: ${install.stderr}`);
    await until(`vm ${vmid}'s agent back with the hold`, () =>
      nodeSsh(lab, ['qm', 'guest', 'exec', String(vmid), '--', '/bin/bash', '-c', 'true', 'crash-test-probe'])
        .status === 0
        ? true
        : undefined,
    );
    expect(starts(vmid, 'crash-test-probe')).toBe(1);
  }
  /** The next command labelled `label` holds at its start. */
  const arm = (vmid: number, label: string) =>
    inGuest(`printf '%s\\n' '${label}' >${HOLD}/armed.new && mv ${HOLD}/armed.new ${HOLD}/armed`, vmid);
  /** How many commands labelled `label` the agent has started. */
  const starts = (vmid: number, label: string) =>
    inGuest(`cat ${HOLD}/started`, vmid)
      .split('\n')
      .filter((line) => line.split(' ')[0] === label).length;
  /** The held command's pid, once it has stopped itself. */
  const heldPid = (vmid: number, label: string): number | undefined => {
    const pid = guestExec(lab, vmid, ['cat', `${HOLD}/held.${label}`]).stdout.trim();
    if (!/^\d+$/.test(pid)) return undefined;
    const state = guestExec(lab, vmid, ['ps', '-o', 'stat=', '-p', pid]).stdout.trim();
    return state.startsWith('T') ? Number(pid) : undefined;
  };
  const resume = (vmid: number, pid: number) => inGuest(`kill -CONT ${pid}`, vmid);
  /** The command has ended (gone, or a zombie the agent has yet to reap). */
  const ended = (vmid: number, pid: number) => {
    const state = guestExec(lab, vmid, ['ps', '-o', 'stat=', '-p', String(pid)]).stdout.trim();
    return state === '' || state.startsWith('Z') ? true : undefined;
  };

  beforeAll(async () => {
    ({ env, lab } = await startServerAndLab({ guests: 3 }));
    inventory = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
    logDir = mkdtempSync(join(tmpdir(), 'migrate-vm-crash-'));
    workers = workersFor('worker-105');
    prestagedWorkers = workersFor('worker-107');
    gracefulWorkers = workersFor('graceful');
    for (const vmid of [VMID, GRACEFUL_VMID, PRESTAGED_VMID]) await installHold(vmid);
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
    await Promise.all([workers.start(), prestagedWorkers.start(), gracefulWorkers.start()]);
    // side by side; each case's test awaits its own (a failure is its test's, not an unhandled rejection)
    cases = { plain: plainCase(), prestaged: prestagedCase(), graceful: gracefulCase() };
    for (const running of Object.values(cases)) running.catch(() => undefined);
  }, 900_000);

  afterAll(async () => {
    await workers?.kill();
    await prestagedWorkers?.kill();
    await gracefulWorkers?.kill();
    await env?.teardown();
    await stopLab(lab);
  });

  /** What a killed run's test does at points of its own, in the guest or with the run. */
  interface Hooks {
    /** before the phase's command is waited for: the run's handle, e.g. to decide */
    beforePhase?: (
      phase: GuestPhaseName,
      handle: WorkflowHandle<typeof migrateVm>,
      watcher: StatusWatcher,
    ) => Promise<void>;
    /** while the phase's command is held, before the kill */
    atPhase?: (phase: GuestPhaseName, crash: Crash) => void;
  }

  /** The run's pending activity of this type, as the server describes it. */
  async function pending(handle: WorkflowHandle<typeof migrateVm>, activityType: string) {
    const { raw } = await handle.describe();
    return raw.pendingActivities?.find((activity) => activity.activityType?.name === activityType);
  }
  const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

  /**
   * Starts a run of `vmid` and kills its worker in each of `kills`, with the phase's command held at its start in
   * the guest: the status shows the phase and the server has the command's pid from the activity's heartbeat
   * (what the retry resumes) before the kill. Then the command goes on as `resume` says, the next phase armed
   * first. Answers the run's handle, its crashes and when it began.
   */
  async function killInEachPhase(
    vmid: number,
    prestage: boolean,
    kills: readonly GuestPhaseName[],
    runWorkers: WorkerProcesses,
    resumeWhen: Resume,
    hooks: Hooks,
  ) {
    const begun = Date.now();
    arm(vmid, kills[0]);
    const handle = await env.client.workflow.start<typeof migrateVm>('migrateVm', {
      taskQueue: runWorkers.taskQueue,
      workflowId: `migrate-vm-crash-${vmid}`,
      args: [{ ...migrateVmInputFor(inventory, vmid), prestage }],
    });
    const crashes: Crash[] = [];
    const watcher = new StatusWatcher(() =>
      env.client.withDeadline(Date.now() + 10_000, () => handle.query(statusQuery)),
    );
    try {
      for (const [i, phase] of kills.entries()) {
        await hooks.beforePhase?.(phase, handle, watcher);
        const pid = await until(
          `${phase}'s command held in vm ${vmid}`,
          () => {
            const now = watcher.latest;
            if (now && ['failed', 'rolling-back', 'rolled-back'].includes(now.phase))
              throw new Error(`migrateVm ${now.phase} in ${phase}: ${now.problems.join('; ')}`);
            if (now && order(now.phase, prestage) > order(phase, prestage))
              throw new Error(`migrateVm passed ${phase} (now in ${now.phase}) with no command of it held`);
            return heldPid(vmid, phase);
          },
          180_000,
        );
        // the kill lands in the phase: the status shows it, and the server holds the held command's pid
        await watcher.until((s) => s.phase === phase, `${phase} in its status`, 60_000);
        const heartbeat = await until(`${phase}'s pid ${pid} heartbeated`, async () => {
          const details = (await pending(handle, activityOf(phase)))?.heartbeatDetails?.payloads?.[0];
          const read =
            details && defaultPayloadConverter.fromPayload<{ label: string; pid: number }>(details as Payload);
          return read?.pid === pid ? read : undefined;
        });
        expect(heartbeat).toEqual({ label: phase, pid });
        const crash: Crash = { phase, pid, killedAt: 0, point: 'command held at its start', resume: resumeWhen };
        crashes.push(crash);
        hooks.atPhase?.(phase, crash);
        const next = kills[i + 1];
        if (phase === 'backup') {
          await finishBackupStepUnread(vmid, crash, runWorkers);
          crash.killedAt = (await runWorkers.kill())!.killedAt!;
          if (next) arm(vmid, next);
          await runWorkers.start();
          continue;
        }
        crash.killedAt = (await runWorkers.kill())!.killedAt!;
        if (resumeWhen === 'finished') {
          // No poll of the dead worker's may be in flight on the node (one could read, and so use up, the status
          // of the command that ends next): then the command ends, and only then does a worker start.
          await until(`the dead worker's polls of pid ${pid} over`, () =>
            nodeSsh(lab, ['pgrep', '-f', `[q]m\\.js guest exec-status ${vmid} ${pid}$`]).status === 1
              ? true
              : undefined,
          );
          if (next) arm(vmid, next);
          resume(vmid, pid);
          await until(`${phase}'s command (pid ${pid}) ended`, () => ended(vmid, pid), 180_000);
          await runWorkers.start();
        } else {
          await runWorkers.start();
          // the next worker's retry has begun: it finds the command running (held), and waits for it
          await until(`${phase}'s retry started`, async () => {
            const activity = await pending(handle, activityOf(phase));
            return activity && (activity.attempt ?? 0) > 1 && activity.state === STARTED ? true : undefined;
          });
          if (next) arm(vmid, next);
          resume(vmid, pid);
        }
      }
      return { handle, crashes, begun, watcher };
    } finally {
      await watcher.stop();
    }
  }

  /**
   * For every kill: the phase's activity was retried (a second attempt) which began after the kill, and the phase
   * completed only after it, so the kill landed in it; the retry resumed the held command instead of starting
   * another (each phase's command started once; backup.sh twice, its result read before the kill). Printed and kept.
   */
  async function expectEachKillResumed(
    vmid: number,
    runWorkers: WorkerProcesses,
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
        crash.point.padEnd(40),
        crash.resume.padEnd(20),
        `attempt ${activity?.attempt ?? '?'}`.padEnd(10),
        retryAfter.padEnd(8),
        activity?.lastFailure ?? '',
      ].join(' ');
    });
    const summary =
      `migrateVm ${vmid}: ${crashes.length} worker kills, ` +
      `${runWorkers.generations.length} worker generations, ${(took / 1000).toFixed(1)} s\n` +
      `phase          killed when                              resumed              attempt    retry    last failure\n` +
      `${report.join('\n')}\nworker log: ${join(logDir, `worker-${vmid}.log`)}`;
    writeFileSync(join(logDir, `report-${vmid}.txt`), summary + '\n');
    console.log(summary);
    const notRetried = crashes.filter((c) => !(attempts.get(activityOf(c.phase))!.attempt > 1));
    expect(notRetried.map((c) => c.phase)).toEqual([]);
    const notInThePhase = crashes.filter((c) => {
      const activity = attempts.get(activityOf(c.phase))!;
      return !(activity.startedAt >= c.killedAt && (activity.completedAt ?? 0) > c.killedAt);
    });
    expect(notInThePhase.map((c) => c.phase)).toEqual([]);
    const started = (labels: string[]) => Object.fromEntries(labels.map((label) => [label, starts(vmid, label)]));
    const labels = crashes.flatMap((c) => (c.phase === 'backup' ? ['backup', 'verify-backup'] : [c.phase]));
    expect(started(labels)).toEqual(Object.fromEntries(labels.map((label) => [label, label === 'backup' ? 2 : 1])));
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

  async function plainCase(): Promise<void> {
    let gatewayPid = '';
    let panelRelease = '';
    const run = await killInEachPhase(VMID, false, guestPhases(false), workers, 'running', {
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
    await expectEachKillResumed(VMID, workers, run);
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
  }

  async function prestagedCase(): Promise<void> {
    const inVm = (script: string) => inGuest(script, PRESTAGED_VMID);
    const workspace = '/data/openclaw/workspace';
    const changed = `${workspace}/written-after-the-pre-copy.txt`;
    let rewritten = '';
    let removed = '';
    let unitsBeforeC = '';
    const run = await killInEachPhase(PRESTAGED_VMID, true, PRESTAGED_KILLS, prestagedWorkers, 'finished', {
      atPhase: (phase) => {
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
        // C is held at its start, so nothing has started the units yet: written, neither enabled nor started
        if (phase === 'stop-docker')
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
    expectWorkspaceKept(lab, PRESTAGED_VMID, awaiting.results.migrateData?.doctor);

    const decision = { by: 'crash-test', reason: 'the pre-staged run is rolled back' };
    expect((await run.handle.executeUpdate(rejectUpdate, { args: [decision] })).accepted).toBe(true);
    const result = await run.handle.result();
    expect(result.outcome).toBe('rejected');
    await expectEachKillResumed(PRESTAGED_VMID, prestagedWorkers, run);
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
    expect(dockerEraAnswers(lab, PRESTAGED_VMID)).toBe(0);
    expect(
      inVm("python3 -c \"import json; print(json.load(open('/root/.openclaw/openclaw.json'))['gateway']['port'])\""),
    ).toBe('18789');
    expect(inVm(`cat '${target(changed)}'`)).toBe('a file the customer wrote while the pre-staged steps ran');
    expect(inVm(`ls -d ${result.status.results.backup!.dir}`)).toBe(result.status.results.backup!.dir);
  }

  async function gracefulCase(): Promise<void> {
    const input = migrateVmInputFor(inventory, GRACEFUL_VMID);
    expect(input.installCommand).toMatch(/install-openclaw\.sh/);
    // Held at its start, the install cannot end on its own while the worker drains: it must outlive the stop.
    arm(GRACEFUL_VMID, 'install');
    const handle = await env.client.workflow.start<typeof migrateVm>('migrateVm', {
      taskQueue: gracefulWorkers.taskQueue,
      workflowId: `migrate-vm-graceful-${GRACEFUL_VMID}`,
      args: [input],
    });
    try {
      const pid = String(await until('install held', () => heldPid(GRACEFUL_VMID, 'install'), 180_000));
      expect(pid).toMatch(/^\d+$/);
      // SIGTERM: the worker drains for its shutdown grace time, then cancels its activities (WORKER_SHUTDOWN) and
      // exits. The install must outlive it: the next attempt resumes it by its pid instead of killing and redoing it.
      const stopAsked = Date.now();
      await gracefulWorkers.stop();
      const took = Date.now() - stopAsked;
      expect(inGuest(`kill -0 ${pid} && echo running || echo gone`, GRACEFUL_VMID)).toBe('running');
      resume(GRACEFUL_VMID, Number(pid));
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
      expect(starts(GRACEFUL_VMID, 'install')).toBe(1);
    } finally {
      await handle.terminate('the graceful-shutdown case ends after install').catch(() => undefined);
      await gracefulWorkers.kill();
    }
  }

  it('completes, and no finished side effect is repeated on the guest', async () => {
    await cases!.plain;
  }, 600_000);

  it('pre-staged: resumes each moved step, copies what changed after the pre-copy, and a rejection leaves no unit', async () => {
    await cases!.prestaged;
  }, 600_000);

  it('a worker stopped gracefully leaves the guest command running, and the next worker resumes it', async () => {
    await cases!.graceful;
  }, 600_000);

  /**
   * The most delicate point of the backup phase, played exactly: its first step (the tarballs and their checksums)
   * has finished, its result has been read, and the worker dies before the second step (verification) starts. The
   * worker is frozen, the held step goes on and its result is read from the guest agent in the worker's place:
   * the next attempt finds the step's pid forgotten, and must not write a second backup.
   */
  async function finishBackupStepUnread(vmid: number, crash: Crash, runWorkers: WorkerProcesses): Promise<void> {
    crash.resume = 'read before the kill';
    runWorkers.freeze();
    try {
      resume(vmid, crash.pid);
      crash.point = await until(
        `backup.sh (pid ${crash.pid}) read`,
        () => {
          const answer = nodeSsh(lab, ['qm', 'guest', 'exec-status', String(vmid), String(crash.pid)]);
          // The frozen worker's poll on the node runs to the end of its slice: if the step ended meanwhile, that
          // poll read its status, and the agent forgot the pid. The next attempt finds it forgotten all the same.
          if (answer.status !== 0 && /Invalid parameter 'pid'/.test(answer.stderr))
            return "backup written, read by the frozen worker's poll";
          if (answer.status !== 0) throw new Error(`qm guest exec-status ${vmid} ${crash.pid}: ${answer.stderr}`);
          const status = JSON.parse(answer.stdout) as { exited?: number; exitcode?: number };
          if (!status.exited) return undefined;
          expect(status.exitcode).toBe(0);
          return 'backup written, result read';
        },
        180_000,
      );
    } catch (error) {
      await runWorkers.kill(); // frozen, it would hold its case up until afterAll
      throw error;
    }
  }

  async function activityAttempts(
    handle: WorkflowHandle<typeof migrateVm>,
  ): Promise<Map<string, { attempt: number; startedAt: number; completedAt?: number; lastFailure?: string }>> {
    const history = await handle.fetchHistory();
    const types = new Map<string, string>();
    const attempts = new Map<
      string,
      { attempt: number; startedAt: number; completedAt?: number; lastFailure?: string }
    >();
    const at = (time: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
      Number(time?.seconds ?? 0) * 1000 + Math.round((time?.nanos ?? 0) / 1e6);
    for (const event of history.events ?? []) {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled) types.set(String(event.eventId), scheduled.activityType?.name ?? '?');
      const started = event.activityTaskStartedEventAttributes;
      if (started) {
        const type = types.get(String(started.scheduledEventId)) ?? '?';
        attempts.set(type, {
          attempt: started.attempt ?? 1,
          startedAt: at(event.eventTime),
          lastFailure: started.lastFailure?.message ?? undefined,
        });
      }
      const completed = event.activityTaskCompletedEventAttributes;
      const entry = completed && attempts.get(types.get(String(completed.scheduledEventId)) ?? '?');
      if (entry) entry.completedAt = at(event.eventTime);
    }
    return attempts;
  }
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
