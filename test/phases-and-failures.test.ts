import { ApplicationFailure, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { failure, failureTypes, nonRetryableActivityTypes } from '../src/failures';
import * as remoteErrors from '../src/remote/errors';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveUpdate, migrationId, statusQuery, type MigrationStatus } from '../src/migration/messages';
import {
  ACTIVITY_MARGIN_MS,
  classTimeoutMs,
  phaseCommand,
  phaseOrder,
  phases,
  type GuestPhaseName,
} from '../src/migration/phases';
import { planCommands } from '../src/activities/plan';
import { parseMigrateVmInput } from '../src/migration/input';
import type { migrateVm } from '../src/workflows';
import { standInInventory } from './support/fleet';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

/** VM 1000 + n of the stand-in inventory fails its install with the nth non-retryable type, raised as retryable. */
const NON_RETRYABLE_FIRST = 1000;
/** fails its install twice with a retryable type, then installs */
const RETRIED = 1050;
/** runs every phase */
const WHOLE_RUN = 1051;
/** fails its acceptance: every compensation registered by then runs */
const ROLLED_BACK = 1052;
/** the same two, pre-staged */
const PRESTAGED = { wholeRun: 1053, rolledBack: 1054 };
/** each order: the SOP's, and pre-staged */
const ORDERS = [
  { order: "the SOP's", prestage: false, wholeRun: WHOLE_RUN, rolledBack: ROLLED_BACK },
  { order: 'the pre-staged', prestage: true, ...PRESTAGED },
];

/**
 * The table of the phases (src/migration/phases.ts) and the registry of failure types (src/failures.ts) are what
 * migrateVm runs by: the real dev server, workflow and worker, with stand-in phases that fail where told.
 */
describe('migrateVm runs by the table of the phases and the registry of failure types', () => {
  jest.setTimeout(180_000);
  let env: TestWorkflowEnvironment;
  let stopWorker: (() => Promise<void>) | undefined;
  let taskQueue: string;
  const inventory = standInInventory(60);

  beforeAll(async () => {
    env = await startDevServer();
    ({ taskQueue, stop: stopWorker } = await runWorker(
      env,
      standInActivities({
        phaseMs: 20,
        failAcceptance: [ROLLED_BACK, PRESTAGED.rolledBack],
        fail: {
          install: ({ vmid }, attempt) => {
            const type = nonRetryableActivityTypes[vmid - NON_RETRYABLE_FIRST];
            // retryable at the source, as an older worker's failure may be: only the retry policy stops it
            if (type) return ApplicationFailure.retryable(`planted ${type}`, type);
            if (vmid === RETRIED && attempt < 3) return failure('GuestCommandFailed', `planted, attempt ${attempt}`);
            return undefined;
          },
        },
      }),
    ));
  }, 180_000);
  afterAll(async () => {
    await stopWorker?.();
    await env?.teardown();
  });

  const start = (vmid: number, prestage = false) =>
    env.client.workflow.start<typeof migrateVm>('migrateVm', {
      taskQueue,
      workflowId: migrationId(vmid),
      args: [migrateVmInputFor(inventory, vmid, { prestage })],
    });
  const awaitingApproval = (handle: WorkflowHandle<typeof migrateVm>) =>
    waitFor('awaiting-approval', async () => (await handle.query(statusQuery)).phase === 'awaiting-approval', 60_000);
  /** Each activity the run scheduled, in order, with its retry policy and the attempt that ended it. */
  async function activitiesOf(handle: WorkflowHandle<typeof migrateVm>) {
    const scheduled = new Map<string, { type: string; nonRetryable: string[]; attempt?: number }>();
    for (const event of (await handle.fetchHistory()).events ?? []) {
      const attributes = event.activityTaskScheduledEventAttributes;
      if (attributes)
        scheduled.set(String(event.eventId), {
          type: attributes.activityType?.name ?? '?',
          nonRetryable: attributes.retryPolicy?.nonRetryableErrorTypes ?? [],
        });
      const started = event.activityTaskStartedEventAttributes;
      if (started) scheduled.get(String(started.scheduledEventId))!.attempt = started.attempt ?? undefined;
    }
    return [...scheduled.values()];
  }

  it("gives every remote error class the registry's type and its word on retrying", () => {
    const classes = Object.values(remoteErrors).filter(
      (value): value is typeof remoteErrors.RemoteError =>
        typeof value === 'function' && value.prototype instanceof remoteErrors.RemoteError,
    );
    const remoteTypes = Object.entries(failureTypes).filter(([, { raisedBy }]) => raisedBy === 'remote');
    expect(classes.map((cls) => [cls.prototype.name, Object.create(cls.prototype as object).retryable]).sort()).toEqual(
      remoteTypes.map(([type, { retryable }]) => [type, retryable]).sort(),
    );
  });

  it("fails a phase for good on each of the registry's non-retryable types, whatever the failure itself says", async () => {
    const runs = await Promise.all(nonRetryableActivityTypes.map((_, n) => start(NON_RETRYABLE_FIRST + n)));
    for (const [n, handle] of runs.entries()) {
      const type = nonRetryableActivityTypes[n];
      await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'MigrationRolledBack' } });
      const install = (await activitiesOf(handle)).find((activity) => activity.type === 'install')!;
      expect({ type, attempt: install.attempt }).toEqual({ type, attempt: 1 });
      expect(install.nonRetryable).toEqual(nonRetryableActivityTypes);
    }
  });

  it('retries a phase that fails with a retryable type of the registry', async () => {
    const handle = await start(RETRIED);
    await awaitingApproval(handle);
    const install = (await activitiesOf(handle)).find((activity) => activity.type === 'install')!;
    expect(install.attempt).toBe(3);
    await handle.terminate('the retried phase is what this case is about');
  });

  it.each(ORDERS)(
    "runs the table's phases in $order order, by their activities, and keeps each result under its key",
    async ({ prestage, wholeRun }) => {
      const handle = await start(wholeRun, prestage);
      await awaitingApproval(handle);
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'the table test' }] });
      const { outcome, status } = await handle.result();
      expect(outcome).toBe('completed');
      const order = phaseOrder(prestage);
      expect(status.phases.map((phase) => phase.name)).toEqual(order.map((phase) => phase.name));
      expect(Object.keys(status.results).sort()).toEqual(order.map((phase) => phase.resultKey).sort());
      const phaseActivities = order.flatMap((phase) => ('activity' in phase ? [phase.activity] : []));
      const ran = (await activitiesOf(handle)).map((activity) => activity.type);
      const allPhaseActivities: string[] = phases.flatMap((phase) => ('activity' in phase ? [phase.activity] : []));
      expect(ran.filter((type) => allPhaseActivities.includes(type))).toEqual(phaseActivities);
    },
  );

  it.each(ORDERS)(
    "rolls back by the table's compensations, newest first, in $order order",
    async ({ prestage, rolledBack }) => {
      const handle = await start(rolledBack, prestage);
      await expect(handle.result()).rejects.toMatchObject({ cause: { type: 'MigrationRolledBack' } });
      const status: MigrationStatus = await handle.query(statusQuery);
      const order = phaseOrder(prestage);
      const registered = order
        .slice(0, order.findIndex((phase) => phase.name === 'acceptance') + 1)
        .flatMap((phase) => ('compensation' in phase ? [phase.compensation.name] : []));
      expect(registered).toHaveLength(prestage ? 4 : 3);
      expect(status.rollback.map((step) => step.split(':')[0])).toEqual(registered.reverse());
      expect(status.phase).toBe('rolled-back');
    },
  );

  it('plans the commands in the order the run would take them, each labelled with its phase', async () => {
    const labels = async (prestage: boolean) =>
      (await planCommands(parseMigrateVmInput(migrateVmInputFor(inventory, WHOLE_RUN, { prestage })), '/root')).map(
        (command) => command.phase,
      );
    // every guest phase of the table in its order, the backup's verification after it
    const expected = (prestage: boolean) =>
      phaseOrder(prestage)
        .filter((phase) => phase.runsOn === 'guest')
        .flatMap((phase) => (phase.name === 'backup' ? ['backup', 'verify-backup'] : [phase.name]));
    expect(await labels(false)).toEqual(expected(false));
    expect(await labels(true)).toEqual(expected(true));
    expect(expected(true).slice(3, 7)).toEqual(['install', 'pre-copy', 'deploy-panel', 'stage-units']);
  });

  it("bounds each guest command inside its activity's start-to-close", () => {
    const { timeouts } = parseMigrateVmInput(migrateVmInputFor(inventory, WHOLE_RUN));
    for (const phase of phases.filter((p) => p.runsOn === 'guest')) {
      const { label, timeoutMs } = phaseCommand(phase.name as GuestPhaseName, timeouts);
      expect(label).toBe(phase.name);
      expect(timeoutMs).toBeLessThan(classTimeoutMs(phase.timeout, timeouts) + ACTIVITY_MARGIN_MS);
    }
  });
});
