import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetStatusQuery } from '../src/fleet/messages';
import { fleetTable } from '../src/cli/fleet';
import { approveUpdate, migrationId, statusQuery } from '../src/migration/messages';
import { fleetDetails, migrationDetails } from '../src/migration/ui-metadata';
import { HOUR, MINUTE, SECOND } from '../src/schema';
import { migrateFleet, migrateVm } from '../src/workflows';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveAsTheyArrive, standInInventory } from './support/fleet';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

/** Shanghai's local time of day at an instant, HH:MM:SS (UTC+8 all year). */
const shanghai = (at: number) => new Date(at + 8 * HOUR).toISOString().slice(11, 19);

/**
 * Maintenance windows on the real dev server, workflows and worker, with 20 ms stand-in phases: phase C waits on a
 * durable timer for its VM's window, and a VM whose window has too little left waits for the next opening.
 */
describe('maintenance windows in a fleet', () => {
  jest.setTimeout(60_000);
  let env: TestWorkflowEnvironment;
  let stopWorker: (() => Promise<void>) | undefined;
  let taskQueue: string;

  beforeAll(async () => {
    env = await startDevServer();
    ({ taskQueue, stop: stopWorker } = await runWorker(env, standInActivities({ phaseMs: 20 })));
  }, 60_000);
  afterAll(async () => {
    await stopWorker?.();
    await env?.teardown();
  });

  const events = async (handle: Pick<WorkflowHandle, 'fetchHistory'>) => (await handle.fetchHistory()).events ?? [];
  const scheduled = async (handle: Pick<WorkflowHandle, 'fetchHistory'>, activity: string) =>
    (await events(handle)).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
  const eventMs = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) =>
    Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);

  it('holds C until a window opening seconds from now, and holds a VM whose window is nearly over until the next', async () => {
    const now = Date.now();
    const opensAt = Math.ceil((now + 6 * SECOND) / SECOND) * SECOND;
    const inventory = standInInventory(2);
    inventory.vms.forEach((vm, i) => (vm.vmid = 1700 + i));
    // 1700: opens in ~6 s for an hour; 1701: opened an hour ago and closes in 20 s, too little for a 1-min cutover
    inventory.vms[0].window = {
      start: shanghai(opensAt),
      end: shanghai(opensAt + HOUR),
      timeZone: 'Asia/Shanghai',
      cutoverMs: MINUTE,
    };
    inventory.vms[1].window = {
      start: shanghai(now - HOUR),
      end: shanghai(now + 20 * SECOND),
      timeZone: 'Asia/Shanghai',
      cutoverMs: MINUTE,
    };
    const fleet = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `fleet-window-${randomUUID()}`,
      args: [{ inventory, canary: 0, concurrency: 2 }],
    });
    const stopApproving = approveAsTheyArrive(env.client, fleet);
    const [early, missed] = [1700, 1701].map((vmid) => env.client.workflow.getHandle(migrationId(vmid)));
    try {
      // both wait before C, and say for what: in their own status, the fleet's table and the UI's details
      const waiting = await waitFor(
        'both VMs awaiting their window',
        async () => {
          const status = await fleet.query(fleetStatusQuery).catch(() => undefined);
          return status?.vms.every((vm) => vm.phase === 'awaiting-window') && status;
        },
        20_000,
      );
      expect(Date.now()).toBeLessThan(opensAt);
      const earlyStatus = await early.query(statusQuery);
      expect(earlyStatus.waitingFor).toMatch(
        /^the window \d\d:\d\d:\d\d–\d\d:\d\d:\d\d Asia\/Shanghai \(UTC\+8\), opens in \d s, at \d{4}-\d\d-\d\d \d\d:\d\d, 1 min of it for the cutover \(set by the operator\)$/,
      );
      expect(earlyStatus.results.backup).toBeDefined();
      expect(migrationDetails(earlyStatus)).toMatch(
        /\*\*Phase:\*\* awaiting-window\n\n\*\*Waiting for:\*\* the window /,
      );
      expect((await missed.query(statusQuery)).waitingFor).toMatch(
        /, opens in 23 h, at .* \(too little left of the one open now\), 1 min of it for the cutover/,
      );
      expect(fleetTable(waiting)).toMatch(/1700 .* awaiting-window .* waits for the window /);
      expect(fleetDetails(waiting)).toMatch(/\*\*Awaiting their maintenance window:\*\* 1700, 1701/);

      // 1700 stops Docker once its window is open, not before, and goes on to its end
      const report = await waitFor(
        '1700 completed',
        async () => {
          const status = await fleet.query(fleetStatusQuery);
          return status.vms[0].state === 'completed' && status;
        },
        30_000,
      );
      const [stop] = await scheduled(early, 'stopDocker');
      expect(eventMs(stop)).toBeGreaterThanOrEqual(opensAt);
      // one timer held it, no polling (a later one is the wait for the fleet's gate before I)
      const timers = (await events(early)).filter(
        (e) => e.timerStartedEventAttributes && Number(e.eventId) < Number(stop.eventId),
      );
      expect(timers).toHaveLength(1);

      // 1701, its window closed meanwhile, still waits for tomorrow's, Docker untouched: one timer of 23 h
      expect(report.vms[1]).toMatchObject({ state: 'running', phase: 'awaiting-window' });
      expect(await scheduled(missed, 'stopDocker')).toEqual([]);
      const [timer] = (await events(missed)).filter((e) => e.timerStartedEventAttributes);
      const fires = Number(timer.timerStartedEventAttributes!.startToFireTimeout!.seconds);
      expect(fires).toBeGreaterThan(22 * 3600);
      expect(fires).toBeLessThanOrEqual(23 * 3600);
    } finally {
      await stopApproving();
      await fleet.terminate('the test has seen what it had to').catch(() => undefined);
      await missed.terminate('the test has seen what it had to').catch(() => undefined);
    }
  });

  it('holds Docker removal for the next opening when the window says so and closed before the approval', async () => {
    const now = Date.now();
    const closesAt = Math.ceil((now + 4 * SECOND) / SECOND) * SECOND;
    const inventory = standInInventory(1);
    inventory.vms[0].vmid = 1710;
    // open now, 4 s left: enough for a 1-s cutover, and closed by the time a human approves
    inventory.vms[0].window = {
      start: shanghai(now - HOUR),
      end: shanghai(closesAt),
      timeZone: 'Asia/Shanghai',
      cutoverMs: SECOND,
      removeDocker: true,
    };
    const run = await env.client.workflow.start(migrateVm, {
      taskQueue,
      workflowId: migrationId(1710),
      args: [migrateVmInputFor(inventory, 1710)],
    });
    try {
      await waitFor(
        'awaiting approval',
        async () => (await run.query(statusQuery)).phase === 'awaiting-approval',
        20_000,
      );
      expect(await scheduled(run, 'stopDocker')).toHaveLength(1);
      await waitFor('the window closed', () => Date.now() > closesAt, 10_000);
      expect((await run.executeUpdate(approveUpdate, { args: [{ by: 'test', reason: 'ok' }] })).accepted).toBe(true);
      const status = await waitFor(
        'Docker removal awaiting the window',
        async () => {
          const status = await run.query(statusQuery);
          return status.phase === 'awaiting-window' && status;
        },
        20_000,
      );
      // Docker's removal needs only to start inside the window: no cutover bound is named
      expect(status.waitingFor).toMatch(/^the window .* Asia\/Shanghai \(UTC\+8\), opens in 23 h, at [^,]*$/);
      expect(await scheduled(run, 'removeDocker')).toEqual([]);
    } finally {
      await run.terminate('the test has seen what it had to').catch(() => undefined);
    }
  });

  it("takes a fleet's cutovers measured so far as the bound when the operator set none", async () => {
    const now = Date.now();
    const inventory = standInInventory(2);
    inventory.vms.forEach((vm, i) => (vm.vmid = 1720 + i));
    // the canary, without a window, measures its outage; 1721's window opens in two hours
    inventory.vms[1].window = {
      start: shanghai(now + 2 * HOUR),
      end: shanghai(now + 3 * HOUR),
      timeZone: 'Asia/Shanghai',
    };
    const fleet = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `fleet-window-${randomUUID()}`,
      args: [{ inventory, canary: 1, concurrency: 1 }],
    });
    const stopApproving = approveAsTheyArrive(env.client, fleet);
    const second = env.client.workflow.getHandle(migrationId(1721));
    try {
      const status = await waitFor(
        '1721 awaiting its window',
        async () => {
          const status = await fleet.query(fleetStatusQuery);
          return status.vms[1].phase === 'awaiting-window' && status;
        },
        30_000,
      );
      expect(status.vms[0].outageMs).toBeGreaterThan(0);
      const bound = Math.ceil(status.vms[0].outageMs! * 1.5);
      expect((await second.query(statusQuery)).waitingFor).toMatch(
        new RegExp(
          `, opens in (1 h 59 min|2 h), at .*, ${bound < 60_000 ? Math.ceil(bound / 1000) + ' s' : '.*'} of it for the cutover \\(1\\.5 × the longest cutover measured so far in this fleet\\)$`,
        ),
      );
    } finally {
      await stopApproving();
      await fleet.terminate('the test has seen what it had to').catch(() => undefined);
      await second.terminate('the test has seen what it had to').catch(() => undefined);
    }
  });
});
