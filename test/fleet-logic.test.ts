import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { canFollow, fleetStatusQuery, outageSummary, setFleetGateUpdate, type FleetVm } from '../src/fleet/messages';
import { approveUpdate, migrationId, statusQuery } from '../src/migration/messages';
import type { MigrateFleetInput } from '../src/fleet/input';
import { failure } from '../src/failures';
import { phaseOrder, runOrderOf } from '../src/migration/phases';
import { migrateFleet, type migrateVm } from '../src/workflows';
import { approveAsTheyArrive, standInInventory } from './support/fleet';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

/**
 * The fleet's own rules, fast: the real dev server, workflows and worker, with each phase a 20 ms stand-in (the lab
 * test, test/migrate-fleet.test.ts, runs the same rules against real guests). VM 1000 + n is the inventory's nth.
 */
describe('migrateFleet rules', () => {
  jest.setTimeout(120_000);
  let env: TestWorkflowEnvironment;
  let stopWorker: (() => Promise<void>) | undefined;
  let taskQueue: string;
  const FAILING = [1100, 1201];
  /** pre-staged; its stop-docker fails once, so that the run stays in it for the retry's 2 s */
  const PRESTAGED = 1500;

  beforeAll(async () => {
    env = await startDevServer();
    ({ taskQueue, stop: stopWorker } = await runWorker(
      env,
      standInActivities({
        phaseMs: 20,
        failAcceptance: FAILING,
        fail: {
          'stop-docker': ({ vmid }, attempt) =>
            vmid === PRESTAGED && attempt === 1 ? failure('GuestCommandFailed', 'planted, once') : undefined,
        },
      }),
    ));
  }, 120_000);
  afterAll(async () => {
    await stopWorker?.();
    await env?.teardown();
  });

  /** A fleet of `count` VMs from `first` on, approved as each arrives unless `approve` is false. */
  async function fleet(
    count: number,
    first: number,
    options: Partial<MigrateFleetInput> = {},
    approve = true,
    inventory = standInInventory(count),
  ) {
    inventory.vms.forEach((vm, i) => Object.assign(vm, { vmid: first + i, name: `customer-${i}` }));
    const handle = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `fleet-rules-${randomUUID()}`,
      args: [{ inventory, ...options }],
    });
    return { handle, stopApproving: approve ? approveAsTheyArrive(env.client, handle) : async () => undefined };
  }
  const outcomes = (report: { vms: { vmid: number; state: string }[] }) => report.vms.map((v) => [v.vmid, v.state]);

  it('refuses input against the SOP, naming the field, and starts nothing', async () => {
    const { handle, stopApproving } = await fleet(3, 1000, { concurrency: 4 });
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    await stopApproving();
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({
      type: 'InvalidInput',
      message: expect.stringMatching(/concurrency: 4 is above the SOP's limit of 3/),
    });
    const started = await env.client.workflow.count(`FleetId = "${handle.workflowId}"`);
    expect(started.count).toBe(0);
  });

  it('starts nothing more once the canary fails', async () => {
    const { handle, stopApproving } = await fleet(4, 1100);
    const report = await handle.result().finally(stopApproving);
    expect(outcomes(report)).toEqual([
      [1100, 'rolled-back'],
      [1101, 'skipped'],
      [1102, 'skipped'],
      [1103, 'skipped'],
    ]);
    expect(report.vms[1].error).toBe('not started: the canary vm 1100 did not complete (rolled-back)');
    // the fleet reads the canary's phase from its run: by then it may be rolled back already
    expect(report.gate).toMatchObject({
      open: false,
      reason: expect.stringMatching(/^vm 1100 is roll(ing|ed)-back: /),
    });
  });

  it('holds Docker removal at the gate after a failure, and spends its failure budget', async () => {
    const { handle } = await fleet(5, 1200, { concurrency: 2, failureBudget: 1 }, false);
    const approve = (vmid: number) =>
      env.client.workflow
        .getHandle(`migrate-vm-${vmid}`)
        .executeUpdate(approveUpdate, { args: [{ by: 'test', reason: 'ok' }] });
    await waitFor(
      'the canary awaiting approval',
      async () => (await handle.query(fleetStatusQuery)).vms[0].phase === 'awaiting-approval',
      60_000,
    );
    await approve(1200);
    // 1201 fails next to 1202: 1202, approved once the gate has closed, waits at it, and nothing else starts
    await waitFor(
      'the gate closed and 1202 awaiting approval',
      async () => {
        // the child reads the gate from the fleet once approved: a close that lands after the approval still holds it
        const status = await handle.query(fleetStatusQuery);
        return !status.gate.open && status.vms[2].phase === 'awaiting-approval';
      },
      60_000,
    );
    expect((await approve(1202)).accepted).toBe(true);
    const waiting = await waitFor(
      '1202 at the gate, 1201 rolled back',
      async () => {
        const status = await handle.query(fleetStatusQuery);
        // the child asks its fleet for the gate first, then waits for it to open
        const waitsForTheGate = /^the fleet gate to open/.test(status.vms[2].waitingFor ?? '');
        return waitsForTheGate && status.vms[1].state === 'rolled-back' && status;
      },
      60_000,
    );
    expect(waiting.gate.open).toBe(false);
    expect(waiting.stoppedStarting).toMatch(/failure budget \(1\) is spent/);
    expect(waiting.vms.slice(3).map((v) => v.waitingFor)).toEqual([
      expect.stringMatching(/^nothing: it will not start/),
      expect.stringMatching(/^nothing: it will not start/),
    ]);
    // what the Temporal UI shows: each child's summary, and the current details of the child and the fleet
    const child = env.client.workflow.getHandle(migrationId(1202));
    expect(await (await child.describe()).staticSummary()).toBe(
      `Migration of VM 1202 (customer-2) on node 127.0.0.1 from Docker to the direct install, fleet ${handle.workflowId}`,
    );
    const details = async (h: { query: (name: string) => Promise<unknown> }) =>
      ((await h.query('__temporal_workflow_metadata')) as { currentDetails?: string }).currentDetails;
    expect(await details(child)).toMatch(
      /^\*\*Phase:\*\* awaiting-fleet-gate\n\n\*\*Waiting for:\*\* the fleet gate to open \(vm 1201 is roll(ing|ed)-back: .*\*\*Acceptance:\*\* passed \(\d+ checks\)\n\n\*\*Fleet gate:\*\* closed .*\*\*Decision:\*\* approved by test$/s,
    );
    expect(await details(handle)).toMatch(
      /^\*\*VMs:\*\* 1 completed, 1 rolled-back, 1 running, 2 queued\n\n\*\*Gate:\*\* closed \(vm 1201 is roll(ing|ed)-back: .*\*\*Starts no more VMs:\*\* the failure budget \(1\) is spent/s,
    );
    await handle.executeUpdate(setFleetGateUpdate, { args: [{ open: true, by: 'test', reason: 'understood' }] });
    const report = await handle.result();
    expect(outcomes(report)).toEqual([
      [1200, 'completed'],
      [1201, 'rolled-back'],
      [1202, 'completed'],
      [1203, 'skipped'],
      [1204, 'skipped'],
    ]);
    // the outage is measured where the acceptance passed: not for 1201, whose acceptance failed
    expect(report.vms.map((v) => v.outageMs !== undefined)).toEqual([true, false, true, false, false]);
    expect(report.outage?.vms).toBe(2);
  });

  it('continues as new between batches of children and still reports every VM', async () => {
    const { handle, stopApproving } = await fleet(7, 1300, { concurrency: 2, childrenPerRun: 3 });
    const report = await handle.result().finally(stopApproving);
    expect(report.counts).toEqual({ completed: 7 });
    expect(report.runs).toBe(2);
    expect(report.vms.every((v) => v.durationMs! > 0 && v.recordPath === '/root/record.md')).toBe(true);
    // each VM's outage, carried from run to run, and their maximum and median
    const outages = report.vms.map((v) => v.outageMs!).sort((a, b) => a - b);
    expect(outages.every((ms) => ms > 0)).toBe(true);
    expect(report.outage).toEqual({ vms: 7, maxMs: outages[6], medianMs: outages[3] });
    const runs = await waitFor('the three runs listed', async () => {
      const { count } = await env.client.workflow.count(`WorkflowId = "${handle.workflowId}"`);
      return count === 3 && count;
    });
    expect(runs).toBe(3);
  });

  it("follows each VM in its own order: pre-staged by the inventory's default, or the SOP's by the VM's choice", async () => {
    const inventory = { ...standInInventory(2), prestage: true };
    inventory.vms[1] = { ...inventory.vms[1], prestage: false };
    const { handle, stopApproving } = await fleet(2, PRESTAGED, {}, true, inventory);
    // the pre-staged VM is in C after its units were staged: a phase before them in the SOP's order
    const seen = await waitFor('the fleet to show the pre-staged VM in stop-docker', async () => {
      const status = await handle.query(fleetStatusQuery);
      return status.vms[0].phase === 'stop-docker' && status.vms[0];
    });
    expect(seen).toMatchObject({ vmid: PRESTAGED, state: 'running' });
    const report = await handle.result().finally(stopApproving);
    expect(outcomes(report)).toEqual([
      [PRESTAGED, 'completed'],
      [PRESTAGED + 1, 'completed'],
    ]);
    for (const [vmid, prestage] of [
      [PRESTAGED, true],
      [PRESTAGED + 1, false],
    ] as const) {
      const { status } = await env.client.workflow.getHandle<typeof migrateVm>(migrationId(vmid)).result();
      expect(status.phases.map((p) => p.name)).toEqual(phaseOrder(prestage).map((p) => p.name));
    }
  });

  it('reminds while a VM awaits approval, and rejects it at the deadline', async () => {
    const timeouts = { approvalReminderMs: 300, approvalDeadlineMs: 2500 };
    const { handle } = await fleet(1, 1400, { vmOverrides: { timeouts } }, false);
    const child = env.client.workflow.getHandle<typeof migrateVm>(migrationId(1400));
    const reminded = await waitFor(
      'a reminder',
      async () => {
        const status = await child.query(statusQuery).catch(() => undefined);
        return status?.waitingFor?.includes('reminded') && status.waitingFor;
      },
      30_000,
    );
    expect(reminded).toMatch(/^a human to approve or reject \(reminded \d+ times?\)$/);
    const report = await handle.result();
    expect(outcomes(report)).toEqual([[1400, 'rejected']]);
    const { status } = await child.result();
    expect(status.approval).toMatchObject({
      decision: 'rejected',
      by: 'migrateVm',
      reason: 'no decision within 2500 ms',
    });
    expect(status.phases.map((p) => p.name)).toContain('rollback:docker compose start');
    expect(report.gate.reason).toBe('vm 1400 is rolling-back: rejected by migrateVm: no decision within 2500 ms');
  });
});

describe('the fleet report on outages', () => {
  const vms = (...outages: (number | undefined)[]): FleetVm[] =>
    outages.map((outageMs, i) => ({ vmid: 100 + i, state: 'completed', ...(outageMs !== undefined && { outageMs }) }));

  it('takes the maximum and the median over the VMs that measured one', () => {
    expect(outageSummary(vms(30_000, undefined, 10_000, 20_000))).toEqual({ vms: 3, maxMs: 30_000, medianMs: 20_000 });
    expect(outageSummary(vms(40_000, 10_000, 25_000, 20_000))).toEqual({ vms: 4, maxMs: 40_000, medianMs: 22_500 });
    expect(outageSummary(vms(undefined))).toBeUndefined();
  });
});

describe("the fleet's progress rules", () => {
  it("takes a run through its own order, the SOP's or the pre-staged, and no mix of the two", () => {
    for (const prestage of [false, true]) {
      const order = runOrderOf(prestage);
      order
        .slice(1)
        .forEach((to, i) => expect([order[i], to, canFollow(order[i], to, prestage)]).toEqual([order[i], to, true]));
    }
    // pre-staged: the units are written before C, the install before the copy
    expect(canFollow('stage-units', 'stop-docker', true)).toBe(true);
    expect(canFollow('stage-units', 'stop-docker', false)).toBe(false);
    expect(canFollow('install', 'pre-copy', false)).toBe(false);
    // the SOP's: C before D; a pre-staged run never goes back from C to D
    expect(canFollow('stop-docker', 'install', false)).toBe(true);
    expect(canFollow('stop-docker', 'install', true)).toBe(false);
    expect(canFollow('systemd-units', 'stage-units', true)).toBe(false);
    // a rollback from anywhere before the decision, in either order
    expect(canFollow('pre-copy', 'rolling-back', true)).toBe(true);
    expect(canFollow('remove-docker', 'rolling-back', true)).toBe(false);
  });
});
