import {
  ApplicationFailure,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  patched,
  setCurrentDetails,
  proxyActivities,
  setHandler,
  startChild,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { FleetCarrySchema, parseMigrateFleetInput, type FleetCarry, type MigrateFleetInput } from '../fleet/input';
import {
  canFollow,
  fleetStatusQuery,
  gateForChildrenQuery,
  GateChangeSchema,
  outageSummary,
  setFleetGateUpdate,
  vmProgressSignal,
  VmProgressSchema,
  type FleetGate,
  type FleetReport,
  type FleetStatus,
  type FleetVm,
  type FleetVmState,
  type VmProgress,
} from '../fleet/messages';
import { migrateVmInputFor } from '../migration/from-inventory';
import { cutoverSlotWait } from '../migration/phases';
import { parseInput, parseMigrateVmInput } from '../migration/input';
import { fleetGateSignal, FleetGateSchema, migrationId, planId } from '../migration/messages';
import { fleetDetails, migrationSummary } from '../migration/ui-metadata';
import { oneLine } from '../schema';
import { parsePayload, takeValid } from './message-checks';
import { FleetIdAttribute, MigrationPhaseAttribute, VmIdAttribute } from '../search-attributes';
import { failure } from '../failures';
import { migrateVm } from './migrate-vm';
import { patches } from './patches';
import { acceptanceEvidence, approveCommand, notifyActivityOptions } from '../notify/events';
import { notifier } from '../notify/notifier';
import type * as activities from '../activities';

const { readChildProgress } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  // a worker down for a while: the gate stays unsettled meanwhile, and children at it wait
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

const { notify } = proxyActivities<typeof activities>(notifyActivityOptions);

const succeeded: FleetVmState[] = ['completed', 'planned'];
/** What counts against the failure budget; a skipped VM (migrated before, or migrating elsewhere) does not. */
const unsuccessful: FleetVmState[] = ['rejected', 'rolled-back', 'failed'];

/**
 * Migrates a fleet under the SOP's discipline (§2): the canary VMs one at a time first, then at most
 * `concurrency` migrateVm children in flight; no new VM after the failure budget is spent; and once any VM rolls
 * back or fails, the Docker-removal gate closes for every VM until an operator opens it again. Shared resources
 * are serialised by the node's lock (see shared-resource-lock.ts), which every child takes for its commit.
 */
export async function migrateFleet(input: MigrateFleetInput, carried?: FleetCarry): Promise<FleetReport> {
  const params = parseMigrateFleetInput(input);
  const fleetId = workflowInfo().workflowId;
  // Every VM's input is checked before the first starts: bad input starts nothing.
  const vmInputs = new Map(
    params.inventory.vms.map((vm) => {
      const vmInput = migrateVmInputFor(params.inventory, vm.vmid, params.vmOverrides);
      try {
        parseMigrateVmInput(vmInput);
      } catch (err) {
        const message = `vm ${vm.vmid}: ${err instanceof Error ? err.message : err}`;
        throw failure('InvalidInput', message);
      }
      return [vm.vmid, vmInput];
    }),
  );
  const dryRun = params.vmOverrides.dryRun === true;
  const nodeOf = new Map(params.inventory.vms.map((vm) => [vm.vmid, vm.node]));
  const state: FleetCarry = (carried && parseInput(FleetCarrySchema, carried, 'migrateFleet carried state')) ?? {
    vms: params.inventory.vms.map((vm) => ({ vmid: vm.vmid, name: vm.name, node: vm.node, state: 'queued' })),
    gate: { open: true, reason: 'no VM has failed' },
    runs: 0,
    startedAt: new Date().toISOString(),
  };
  // a table carried from a run before the fleet named nodes
  for (const entry of state.vms) entry.node ??= nodeOf.get(entry.vmid);
  const running = new Set<number>();
  const vm = (vmid: number) => state.vms.find((v) => v.vmid === vmid);
  const failures = () => state.vms.filter((v) => unsuccessful.includes(v.state)).length;

  // Runs started before this had one canary, the inventory's first VMs, and the fleet's concurrency alone.
  const spansNodes = patched(patches.fleetSpansNodes);
  const nodeNames = Object.keys(params.inventory.nodes);
  /** the canaries, in the order they start: each node's first `canary` VMs (a node may differ: PVE, qemu-ga) */
  const canaries = spansNodes
    ? nodeNames.flatMap((node) => state.vms.filter((v) => v.node === node).slice(0, params.canary))
    : state.vms.slice(0, params.canary);
  /** canaries first, then the rest in the inventory's order */
  const startOrder = [...canaries, ...state.vms.filter((v) => !canaries.includes(v))];
  const canaryFailed = () => canaries.find((v) => unsuccessful.includes(v.state));
  /** whether the canaries (of the node, or with one canary for the fleet, of every node) are done */
  const canaryDone = (node?: string) =>
    canaries.every((v) => (spansNodes && v.node !== node) || succeeded.includes(v.state) || v.state === 'skipped');
  const inFlightOn = (node: string) => [...running].filter((vmid) => nodeOf.get(vmid) === node).length;
  /** how many of the node's VMs may be in flight now: one while its canary runs, then its concurrency */
  const nodeSlots = (node: string) =>
    !canaryDone(node) ? 1 : (params.inventory.nodes[node].concurrency ?? params.concurrency);

  /** Why no further VM may start, or undefined while they may. */
  const stopReason = (): string | undefined => {
    const canary = canaryFailed();
    if (canary) return `the canary vm ${canary.vmid} did not complete (${canary.state})`;
    if (failures() >= params.failureBudget)
      return `the failure budget (${params.failureBudget}) is spent: ${failures()} VM(s) failed, rolled back or were rejected`;
    return undefined;
  };
  const slots = () => (spansNodes || canaryDone() ? params.concurrency : 1);

  // Fleets without `prestageAhead` (and runs before it) hold a slot from a VM's scan to its end. With it, up to
  // `ahead` VMs more start, each held before C until granted one of the `concurrency` cutover slots (issue 23).
  const ahead = params.prestageAhead && patched(patches.prestageAhead) ? params.prestageAhead : 0;
  /** the VMs granted a cutover slot, until their end: every VM between C and its end is one of them */
  const cutting = new Set<number>();
  const cuttingOn = (node: string) => [...cutting].filter((vmid) => nodeOf.get(vmid) === node).length;
  /** how many more than its cutover slots a node may have in flight: none while its canary runs */
  const aheadOn = (node: string) => (canaryDone(node) ? ahead : 0);
  const inFlightCap = () => slots() + ahead;
  const aheadNote = ahead ? ` (${slots()} in their cutover + ${ahead} pre-staging ahead)` : '';

  /** Why a queued VM does not start now, or undefined when it may. */
  const heldBy = (entry: FleetVm): string | undefined => {
    const node = entry.node!;
    const canary = `the canary${nodeNames.length > 1 ? ` of node ${node}` : ''} to complete`;
    if (!canaryDone(node) && !canaries.includes(entry)) return canary;
    // a closed gate stops pre-staging new VMs: each would only add to what waits for the operator
    if (ahead && !state.gate.open) return `the gate to open before pre-staging more (${state.gate.reason})`;
    if (running.size >= inFlightCap()) return `a free slot (${running.size} of ${inFlightCap()} in flight${aheadNote})`;
    if (!spansNodes || inFlightOn(node) < nodeSlots(node) + aheadOn(node)) return undefined;
    return canaryDone(node)
      ? `a free slot on node ${node} (${inFlightOn(node)} of ${nodeSlots(node) + aheadOn(node)} in flight there)`
      : canary;
  };
  const nextToStart = () =>
    running.size < inFlightCap() ? startOrder.find((v) => v.state === 'queued' && heldBy(v) === undefined) : undefined;
  /** the next VM held before C that may take a cutover slot, in the order they start; none once starting stopped */
  const nextCutover = () =>
    stopReason() === undefined && cutting.size < slots()
      ? startOrder.find(
          (v) =>
            v.state === 'running' &&
            v.phase === cutoverSlotWait &&
            !cutting.has(v.vmid) &&
            cuttingOn(v.node!) < nodeSlots(v.node!),
        )
      : undefined;
  const cutoverSlots = () => ({
    granted: [...cutting],
    ...(stopReason() !== undefined && { stopped: stopReason() }),
    taken: `${cutting.size} of ${slots()} in their cutover`,
  });
  /** a VM not granted a slot once starting stopped stands down: its rollback is no failure to close the gate for */
  const standsDown = (entry: FleetVm) => ahead > 0 && stopReason() !== undefined && !cutting.has(entry.vmid);

  // Runs started before this told no one; since, the worker's webhooks hear of the gate, the children and the end.
  const notifies = patched(patches.fleetNotifies);
  const notifications = notifier(notify, () => showDetails());
  const tell: typeof notifications.tell = (...args) => void (notifies && notifications.tell(...args));
  const vmRef = (entry: FleetVm) => ({
    vmid: entry.vmid,
    ...(entry.name !== undefined && { name: entry.name }),
    ...(entry.node !== undefined && { node: entry.node }),
    workflowId: entry.workflowId ?? '',
  });

  /** The Temporal UI's current details of the fleet (user metadata, answered by a query: never in the history). */
  const showDetails = () => setCurrentDetails(fleetDetails(status()));
  const sendGate = (workflowId: string, answer?: true) =>
    getExternalWorkflowHandle(workflowId)
      .signal(fleetGateSignal, { ...state.gate, fleetId, ...(answer && { answer }) })
      .catch((err: unknown) => log.warn('a child did not take the gate signal', { workflowId, error: String(err) }));
  const setGate = (gate: FleetGate) => {
    state.gate = { ...gate, reason: oneLine(gate.reason, 1000), at: new Date().toISOString() };
    for (const vmid of running) void sendGate(vm(vmid)!.workflowId!);
    tell({
      kind: gate.open ? 'gate-opened' : 'gate-closed',
      fleetId,
      by: gate.by ?? 'migrateFleet',
      reason: gate.reason,
    });
    showDetails();
  };
  // Each VM closes the gate once: an operator who opened it while that VM was still rolling back meant it.
  const closedTheGate = new Set<number>();
  const closeGateFor = (entry: FleetVm, why: string) => {
    if (closedTheGate.has(entry.vmid)) return;
    closedTheGate.add(entry.vmid);
    setGate({ open: false, reason: `vm ${entry.vmid} ${why}`, by: 'migrateFleet' });
  };

  // Runs started before this took progress and gates as signalled; since, the fleet trusts only what it reads.
  const trustsOnlyWhatItReads = patched(patches.fleetTrustsOnlyWhatItReads);
  /** the run id of each child this run started: its progress is read from that run, and from no other */
  const childRuns = new Map<number, string>();
  /** VMs whose status is being read (true: read again once done, a newer progress came meanwhile) */
  const reading = new Map<number, boolean>();
  const takeProgress = (entry: FleetVm, { phase, waitingFor, problem, outageMs }: Omit<VmProgress, 'vmid'>) => {
    entry.phase = phase;
    entry.waitingFor = waitingFor;
    if (outageMs !== undefined) entry.outageMs = outageMs;
    const rollingBack =
      phase === 'rolling-back' || phase === 'failed' || (trustsOnlyWhatItReads && phase === 'rolled-back');
    // a VM standing down undoes its pre-staging, no failure; one that truly failed meanwhile closes it at its end
    if (rollingBack && !standsDown(entry)) closeGateFor(entry, `is ${phase}: ${problem ?? 'see its run'}`);
    if (phase === 'awaiting-approval')
      tell(
        {
          kind: 'awaiting-approval',
          ...vmRef(entry),
          fleetId,
          evidence: acceptanceEvidence(undefined, entry.outageMs),
          approve: approveCommand(entry.vmid),
        },
        `${entry.vmid}:awaiting-approval`,
      );
    if (phase === 'rolling-back' && !standsDown(entry))
      tell({ kind: 'rollback-started', ...vmRef(entry), why: problem ?? 'see its run' }, `${entry.vmid}:rollback`);
    // A child at the gate asks for it: the answer is the gate as of every progress taken before this one.
    if (phase === 'awaiting-fleet-gate' && patched(patches.gateAnswer)) void sendGate(entry.workflowId!, true);
    showDetails();
  };
  /** Reads a child's progress from the child run itself, once per progress heard (coalesced while a read runs). */
  const readProgress = async (entry: FleetVm, runId: string) => {
    if (reading.has(entry.vmid)) return void reading.set(entry.vmid, true);
    try {
      do {
        reading.set(entry.vmid, false);
        const progress = await readChildProgress(entry.workflowId!, runId).catch((err: unknown) => {
          log.warn("a child's progress could not be read", { vmid: entry.vmid, error: String(err) });
          return undefined;
        });
        if (progress && 'phase' in progress && entry.state === 'running') takeProgress(entry, progress);
      } while (reading.get(entry.vmid));
    } finally {
      reading.delete(entry.vmid);
    }
  };

  // Progress is taken only for a VM in flight: read from its run, or (runs before) in an order its run can go through.
  setHandler(
    vmProgressSignal,
    takeValid(VmProgressSchema, 'vmProgress', ({ vmid, ...progress }) => {
      const entry = vm(vmid);
      if (!entry || entry.state !== 'running') return;
      if (trustsOnlyWhatItReads) {
        const runId = childRuns.get(vmid);
        if (runId !== undefined) void readProgress(entry, runId);
        return;
      }
      if (!canFollow(entry.phase ?? 'starting', progress.phase, vmInputs.get(vmid)?.prestage === true)) {
        log.warn('ignored a progress signal no run could send', { vmid, from: entry.phase, to: progress.phase });
        return;
      }
      takeProgress(entry, progress);
    }),
  );
  setHandler(gateForChildrenQuery, () => ({
    gate: state.gate,
    settled: reading.size === 0,
    ...(ahead && { cutover: cutoverSlots() }),
  }));
  const operatorGate = ({ open, by, reason }: { open: boolean; by?: string; reason: string }) => {
    setGate({ open, reason, by: by ?? 'operator' });
    return {
      gate: state.gate,
      waitingAtGate: state.vms
        .filter((v) => v.state === 'running' && v.phase === 'awaiting-fleet-gate')
        .map((v) => v.vmid),
    };
  };
  setHandler(
    fleetGateSignal,
    takeValid(FleetGateSchema, 'fleetGate', (gate) => {
      if (trustsOnlyWhatItReads) log.warn("ignored a 'fleetGate' signal: the gate changes through setFleetGate only");
      else operatorGate(gate);
    }),
  );
  // the handler takes the canonical form the validator accepted, not the payload as sent
  setHandler(setFleetGateUpdate, (change) => operatorGate(GateChangeSchema.parse(change)), {
    validator: (change) => void parsePayload(GateChangeSchema, 'setFleetGate', change),
  });
  setHandler(fleetStatusQuery, () => status());

  function status(): FleetStatus {
    const stopped = stopReason();
    return {
      fleetId,
      concurrency: params.concurrency,
      canary: params.canary,
      failureBudget: params.failureBudget,
      gate: state.gate,
      inFlight: running.size,
      ...(ahead && { prestageAhead: ahead, inCutover: cutting.size }),
      ...(spansNodes && {
        nodes: nodeNames.map((name) => ({
          name,
          concurrency: params.inventory.nodes[name].concurrency ?? params.concurrency,
          inFlight: inFlightOn(name),
          vms: state.vms.filter((v) => v.node === name).length,
          canaryDone: canaryDone(name),
        })),
      }),
      failures: failures(),
      stoppedStarting: stopped,
      runs: state.runs,
      startedAt: state.startedAt,
      ...(notifies && { notifications: notifications.counts }),
      vms: state.vms.map((entry) =>
        entry.state !== 'queued'
          ? entry
          : {
              ...entry,
              waitingFor: stopped ? `nothing: it will not start (${stopped})` : (heldBy(entry) ?? 'its turn'),
            },
      ),
    };
  }

  /** For a VM with a window: the longest cutover measured so far among this fleet's VMs of its order, if any. */
  function measuredCutover(vmid: number): { cutoverMeasuredMs?: number } {
    const { window, prestage = false } = vmInputs.get(vmid)!;
    if (!window || !patched(patches.maintenanceWindow)) return {};
    const measured = state.vms
      .filter((v) => v.outageMs !== undefined && (vmInputs.get(v.vmid)?.prestage ?? false) === prestage)
      .map((v) => v.outageMs!);
    return measured.length ? { cutoverMeasuredMs: Math.max(...measured) } : {};
  }

  async function start(entry: FleetVm): Promise<void> {
    const workflowId = dryRun ? planId(entry.vmid) : migrationId(entry.vmid);
    Object.assign(entry, { state: 'running', workflowId, startedAt: new Date().toISOString(), phase: 'starting' });
    running.add(entry.vmid);
    showDetails();
    const gateAtStart = state.gate;
    try {
      const child = await startChild(migrateVm, {
        workflowId,
        args: [
          {
            ...vmInputs.get(entry.vmid)!,
            fleetGate: gateAtStart,
            ...measuredCutover(entry.vmid),
            ...(ahead && { holdForCutover: true as const }),
          },
        ],
        staticSummary: migrationSummary({ vmid: entry.vmid, name: entry.name, node: entry.node, fleetId, dryRun }),
        // A VM migrated (or rejected) before is not migrated again by a fleet; a failed one may be retried.
        workflowIdReusePolicy: dryRun
          ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
          : WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        // The fleet continues as new between children and may be stopped by hand: a migration runs to its end,
        // whether the fleet closes (ABANDON) or is cancelled (a cancelled child would roll back half-way).
        parentClosePolicy: ParentClosePolicy.ABANDON,
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        typedSearchAttributes: [
          { key: VmIdAttribute, value: String(entry.vmid) },
          { key: MigrationPhaseAttribute, value: 'starting' },
          { key: FleetIdAttribute, value: fleetId },
        ],
      });
      childRuns.set(entry.vmid, child.firstExecutionRunId);
      // its first progress may have come before its start was known here
      if (trustsOnlyWhatItReads) void readProgress(entry, child.firstExecutionRunId);
      // the gate changed while the child was starting: a signal sent then may have found no run yet
      if (state.gate !== gateAtStart) await sendGate(workflowId);
      void child.result().then(
        (result) =>
          end(entry, result.outcome, {
            recordPath: result.recordPath,
            phase: result.status.phase,
            ...(result.status.outage && { outageMs: result.status.outage.ms }),
            ...(result.status.problems.length > 0 && { problems: result.status.problems }),
          }),
        (err: unknown) => {
          const cause = err instanceof ChildWorkflowFailure ? err.cause : err;
          const type = cause instanceof ApplicationFailure ? cause.type : undefined;
          const message = cause instanceof Error ? cause.message : String(cause);
          if (ahead && type === 'PrestageUndone') return end(entry, 'skipped', { error: message });
          end(entry, type === 'MigrationRolledBack' ? 'rolled-back' : 'failed', { error: message });
          closeGateFor(entry, `${entry.state}: ${message}`);
        },
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      end(entry, 'skipped', {
        error: `${workflowId} already runs, or completed before (migrated or rejected): see its run; not started again`,
      });
    }
  }

  function end(entry: FleetVm, outcome: FleetVmState, more: Partial<FleetVm>): void {
    const endedAt = new Date().toISOString();
    Object.assign(entry, more, {
      state: outcome,
      endedAt,
      durationMs: Date.parse(endedAt) - Date.parse(entry.startedAt ?? endedAt),
      waitingFor: undefined,
    });
    running.delete(entry.vmid);
    cutting.delete(entry.vmid);
    // once starting stopped, the VMs held before C learn that no slot will come, and stand down
    if (ahead && stopReason() !== undefined)
      for (const vmid of running) if (!cutting.has(vmid)) void sendGate(vm(vmid)!.workflowId!);
    showDetails();
    const why = entry.error ?? entry.problems?.at(-1) ?? 'see its run';
    if (outcome === 'rolled-back' || outcome === 'rejected')
      tell({ kind: 'rollback-ended', ...vmRef(entry), ended: 'done', detail: `${outcome}: ${why}` });
    // a run that failed in its rollback (RollbackIncomplete) left a VM half-way: that is how its rollback ended
    if (outcome === 'failed' && (entry.phase === 'rolling-back' || entry.phase === 'failed'))
      tell({ kind: 'rollback-ended', ...vmRef(entry), ended: 'incomplete', detail: why });
    else if (outcome === 'failed')
      tell({ kind: 'run-failed', ...vmRef(entry), error: `in ${entry.phase ?? 'starting'}: ${why}` });
  }

  // Grants the cutover slots as they free, each to the first VM held for one; the child reads its grant from the fleet.
  if (ahead)
    void (async () => {
      for (;;) {
        await condition(() => nextCutover() !== undefined);
        const entry = nextCutover()!;
        cutting.add(entry.vmid);
        showDetails();
        void sendGate(entry.workflowId!);
      }
    })();

  let startedThisRun = 0;
  while (state.vms.some((v) => v.state === 'queued')) {
    await condition(() => stopReason() !== undefined || nextToStart() !== undefined);
    if (stopReason() !== undefined) break;
    if (startedThisRun >= params.childrenPerRun || workflowInfo().continueAsNewSuggested) {
      // Children are awaited by the run that started them: drain, then hand the table to the next run.
      await condition(() => running.size === 0);
      await notifications.settled();
      await continueAsNew<typeof migrateFleet>(input, { ...state, runs: state.runs + 1 });
    }
    await start(nextToStart()!);
    startedThisRun++;
  }
  await condition(() => running.size === 0);

  const stopped = stopReason();
  for (const entry of state.vms.filter((v) => v.state === 'queued'))
    Object.assign(entry, { state: 'skipped', error: `not started: ${stopped}` });
  const endedAt = new Date().toISOString();
  const counts: FleetReport['counts'] = {};
  for (const entry of state.vms) counts[entry.state] = (counts[entry.state] ?? 0) + 1;
  const outage = outageSummary(state.vms);
  const wallMs = Date.parse(endedAt) - Date.parse(state.startedAt);
  tell({
    kind: 'fleet-finished',
    fleetId,
    counts,
    wallMs,
    ...(outage && { outage }),
    ...(stopped && { stoppedStarting: stopped }),
  });
  // what the webhooks were told, its end too, goes in the report: within the notify activity's bound
  await notifications.settled();
  return { ...status(), endedAt, wallMs, counts, ...(outage && { outage }) };
}
