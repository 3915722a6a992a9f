import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetStatusQuery, setFleetGateUpdate, type FleetStatus } from '../src/fleet/messages';
import { parseMigrateFleetInput, type MigrateFleetInput } from '../src/fleet/input';
import { fleetTable } from '../src/cli/fleet';
import { statusQuery } from '../src/migration/messages';
import { fleetDetails } from '../src/migration/ui-metadata';
import { migrateFleet } from '../src/workflows';
import { approveAsTheyArrive, inCutoverAtOnce, inFlightAtOnce, runSpans, standInInventory } from './support/fleet';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

/**
 * Pre-staging ahead (`prestageAhead`, issue 23) on the real dev server, workflows and worker, with stand-in phases:
 * the install takes 400 ms, every other phase 20 ms, so that VMs pre-stage while others cut over. What the fleet
 * did is read from the children's histories: when each scheduled C (stopDocker) and when it ended.
 */
describe('pre-staging ahead', () => {
  jest.setTimeout(240_000);
  let env: TestWorkflowEnvironment;
  let stopWorker: (() => Promise<void>) | undefined;
  let taskQueue: string;
  /** these fail their acceptance: the gate closes (and a budget of 1 is spent) */
  const FAILING = [2102, 2202];

  beforeAll(async () => {
    env = await startDevServer();
    ({ taskQueue, stop: stopWorker } = await runWorker(
      env,
      standInActivities({ phaseMs: 20, phaseMsOf: { install: 400 }, failAcceptance: FAILING }),
    ));
  }, 120_000);
  afterAll(async () => {
    await stopWorker?.();
    await env?.teardown();
  });

  async function fleet(count: number, first: number, options: Partial<MigrateFleetInput>) {
    const inventory = { ...standInInventory(count), prestage: true };
    inventory.vms.forEach((vm, i) => (vm.vmid = first + i));
    const handle = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `fleet-ahead-${randomUUID()}`,
      args: [{ inventory, canary: 1, ...options }],
    });
    return { handle, stopApproving: approveAsTheyArrive(env.client, handle) };
  }

  it('refuses prestageAhead without prestage, negative or fractional, naming the field', () => {
    const inventory = standInInventory(2);
    const refusal = (input: Partial<MigrateFleetInput>) => {
      try {
        parseMigrateFleetInput({ inventory, ...input });
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(refusal({ prestageAhead: 3 })).toMatch(/prestageAhead: 3 VMs ahead need a pre-staged fleet/);
    expect(refusal({ prestageAhead: -1, vmOverrides: { prestage: true } })).toMatch(/prestageAhead: .*>=0/);
    expect(refusal({ prestageAhead: 1.5, vmOverrides: { prestage: true } })).toMatch(/prestageAhead: .*int/);
    expect(refusal({ prestageAhead: 3, vmOverrides: { prestage: true } })).toBeUndefined();
    expect(refusal({ prestageAhead: 3, inventory: { ...inventory, prestage: true } })).toBeUndefined();
  });

  it('pre-stages more VMs than its concurrency, with at most `concurrency` between C and their end', async () => {
    const { handle, stopApproving } = await fleet(10, 2000, { concurrency: 2, prestageAhead: 4 });
    // a VM pre-staged before the others' cutovers are done waits for a slot, and says so
    const waiting = await waitFor(
      'a VM waiting for its cutover slot',
      async () => {
        const status = await handle.query(fleetStatusQuery);
        return status.vms.some((vm) => vm.phase === 'awaiting-cutover-slot') && status;
      },
      60_000,
    );
    expect(waiting.prestageAhead).toBe(4);
    expect(fleetTable(waiting)).toMatch(/\d+ in flight, [0-2] of 2 in their cutover \(4 pre-staging ahead\)/);
    expect(fleetTable(waiting)).toMatch(/awaiting-cutover-slot .*a cutover slot from its fleet \([0-2] of 2 in their/);
    expect(fleetDetails(waiting)).toMatch(/\*\*In their cutover:\*\* [0-2] of 2; pre-staged, awaiting a slot: \d+/);
    const report = await handle.result();
    await stopApproving();
    expect(report.counts).toEqual({ completed: 10 });
    const spans = await runSpans(env.client, report);
    expect(inCutoverAtOnce(spans)).toBeLessThanOrEqual(2);
    expect(inFlightAtOnce(spans)).toBeGreaterThan(2);
    expect(inFlightAtOnce(spans)).toBeLessThanOrEqual(6);
    // the canary alone first: nothing started before it ended
    const canary = spans.find((s) => s.vmid === 2000)!;
    expect(spans.filter((s) => s.vmid !== 2000).every((s) => s.startMs >= canary.endMs)).toBe(true);
  });

  it('starts no pre-staging while the gate is closed, and goes on once it opens', async () => {
    const { handle, stopApproving } = await fleet(10, 2100, { concurrency: 2, prestageAhead: 3, failureBudget: 5 });
    const closed = await waitFor(
      'the gate closed and the VMs in flight settled at it',
      async () => {
        const status: FleetStatus = await handle.query(fleetStatusQuery);
        const queued = status.vms.filter((vm) => vm.state === 'queued');
        const settled = status.vms.every(
          (vm) => vm.state !== 'running' || vm.phase === 'awaiting-fleet-gate' || vm.phase === 'awaiting-cutover-slot',
        );
        return !status.gate.open && settled && queued.every((vm) => /^the gate to open/.test(vm.waitingFor ?? ''));
      },
      60_000,
    ).then(() => handle.query(fleetStatusQuery));
    expect(closed.vms.filter((vm) => vm.state === 'queued').length).toBeGreaterThan(0);
    const closedAt = Date.parse(closed.gate.at!);
    expect(closed.vms.filter((vm) => vm.startedAt && Date.parse(vm.startedAt) > closedAt)).toEqual([]);
    await handle.executeUpdate(setFleetGateUpdate, { args: [{ open: true, by: 'alice', reason: 'understood' }] });
    const report = await handle.result();
    await stopApproving();
    expect(report.counts).toEqual({ completed: 9, 'rolled-back': 1 });
    expect(inCutoverAtOnce(await runSpans(env.client, report))).toBeLessThanOrEqual(2);
  });

  it('stands down the VMs held before C once the budget is spent, undoing their pre-staging', async () => {
    const { handle, stopApproving } = await fleet(8, 2200, { concurrency: 1, prestageAhead: 4, failureBudget: 1 });
    const report = await handle.result();
    await stopApproving();
    const stoodDown = report.vms.filter((vm) => vm.state === 'skipped' && vm.workflowId);
    expect(stoodDown.length).toBeGreaterThan(0);
    for (const vm of stoodDown) {
      expect(vm.error).toMatch(
        /was left on Docker, untouched .* its fleet grants no more cutovers: the failure budget/,
      );
      const status = await env.client.workflow.getHandle(vm.workflowId!).query(statusQuery);
      expect(status.phase).toBe('rolled-back');
      expect(status.rollback).toEqual([
        'stop, disable and remove the direct units: done (stand-in of stop, disable and remove the direct units)',
      ]);
      expect(status.phases.map((p) => p.name)).not.toContain('stop-docker');
    }
    expect(report.vms.find((vm) => vm.vmid === 2202)?.state).toBe('rolled-back');
    const failure = await env.client.workflow
      .getHandle(stoodDown[0].workflowId!)
      .result()
      .catch((err: unknown) => err);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'PrestageUndone' });
  });
});
