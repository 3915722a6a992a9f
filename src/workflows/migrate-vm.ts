import {
  condition,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { parseMigrateVmInput, type MigrateVmInput } from '../migration/input';
import {
  approveSignal,
  approveUpdate,
  DecisionSchema,
  fleetGateSignal,
  FleetGateSchema,
  outageAfterRollback,
  outageOf,
  recordQuery,
  rejectSignal,
  rejectUpdate,
  statusQuery,
  type Decision,
  type DecisionAnswer,
  type MigrationPhase,
  type MigrationStatus,
  type PhaseName,
  type PhaseRecord,
  type Undone,
} from '../migration/messages';
import { phaseNamed, type Phase, type PhaseTimeout } from '../migration/phases';
import { renderRecord } from '../migration/record';
import { migrationDetails } from '../migration/ui-metadata';
import { vmProgressSignal } from '../fleet/messages';
import { oneLine } from '../schema';
import { parsePayload, takeValid } from './message-checks';
import { commitSharedResources } from './shared-resources';
import { MigrationPhaseAttribute, VmIdAttribute } from '../search-attributes';
import { failure, nonRetryableActivityTypes } from '../failures';
import { sameOperator } from '../identity';
import { patches } from './patches';

/** The phases an activity runs, what each takes besides the run's params, and what it answers. */
type ActivityPhase = Extract<Phase, { activity: string }>;
type ActivityOf<N extends ActivityPhase['name']> = (typeof activities)[Extract<ActivityPhase, { name: N }>['activity']];
type PhaseArgs<N extends ActivityPhase['name']> =
  Parameters<ActivityOf<N>> extends [unknown, ...infer Rest] ? Rest : never;
type PhaseResult<N extends ActivityPhase['name']> = Awaited<ReturnType<ActivityOf<N>>>;

export interface MigrateVmResult {
  vmid: number;
  outcome: 'completed' | 'rejected' | 'planned';
  record: string;
  recordPath?: string;
  status: MigrationStatus;
}

function activityOptions(timeoutMs: number, attempts: number): ActivityOptions {
  return {
    // the guest command's own timeout fires first and kills it; this bounds the activity around it
    startToCloseTimeout: timeoutMs + 120_000,
    // How soon an attempt lost with its worker (SIGKILL, OOM, a lost machine) is retried: the guest command runs on,
    // and the retry resumes it by the pid it heartbeated. runInGuest heartbeats every 2 s whatever the guest's
    // answers take (the SDK sends at most one per 0.8 × 15 s = 12 s), so only a dead or cut-off worker misses it.
    heartbeatTimeout: '15 seconds',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: attempts,
      nonRetryableErrorTypes: nonRetryableActivityTypes,
    },
  };
}

/**
 * Migrates one OpenClaw VM from Docker to the direct install, phase by phase as the SOP prescribes
 * (../shared/seeds/001_*.txt): A scan, B verified backup, C stop Docker, D install, E data, F panel,
 * G systemd, H acceptance, then a human decision, and only then I Docker removal. With `prestage`, D, a pre-copy
 * of E, F and G's units come before C, so that Docker is stopped only for the final copy and the start. Every step
 * that changes the machine registers its compensation first; a failure after C (or after the units were staged), a
 * failed acceptance or a rejection rolls back.
 */
export async function migrateVm(input: MigrateVmInput): Promise<MigrateVmResult> {
  const params = parseMigrateVmInput(input);
  const startedAt = new Date().toISOString();
  /** the fleet that started this run, as the server knows it: its parent */
  const parent = workflowInfo().parent;
  const fleetId = parent?.workflowId;
  // Runs started before this read their gate from signals; since, a child reads it from its fleet, a lone run has none.
  const gateReadFromTheFleet = patched(patches.gateReadFromTheFleet);
  const noGate = { open: true, reason: 'a lone run has no fleet gate' };
  const status: MigrationStatus = {
    vmid: params.vmid,
    phase: 'starting',
    phases: [],
    results: {},
    fleetGate: fleetId === undefined && gateReadFromTheFleet ? noGate : (params.fleetGate ?? noGate),
    problems: [],
    rollback: [],
  };
  let decision: (Decision & { approve: boolean }) | undefined;
  let record: string | null = null;

  const quick = proxyActivities<typeof activities>(activityOptions(60_000, 5));
  const proxies: Record<PhaseTimeout, typeof quick> = {
    quick,
    command: proxyActivities<typeof activities>(activityOptions(params.timeouts.commandMs, 5)),
    install: proxyActivities<typeof activities>(activityOptions(params.timeouts.installMs, 3)),
  };
  /** What undoes the phases run so far, newest first (unshifted as each registers). */
  const compensations: { name: string; undo: () => Promise<string | Undone> }[] = [];

  const fleet = fleetId !== undefined && getExternalWorkflowHandle(fleetId);
  // Runs started before this check took a gate from anyone; a fleet's child then took it from its fleet only.
  const gateFromItsFleetOnly = patched(patches.gateFromItsFleetOnly);
  /** how many times the fleet answered this run at its gate (runs before `gateReadFromTheFleet`) */
  let gateAnswers = 0;
  /** how many `fleetGate` signals came: each makes a run at the gate read its fleet's gate again */
  let gateHints = 0;
  /** The Temporal UI's current details of this run (user metadata, answered by a query: never in the history). */
  const showDetails = () => setCurrentDetails(migrationDetails(status));
  /** Shows the run in a phase and tells its fleet; answers whether the fleet took the progress. */
  const enter = (phase: MigrationPhase, wait?: string): Promise<boolean> => {
    // cut to what the fleet takes in a progress signal: a gate's reason alone may fill that
    const waitingFor = wait === undefined ? undefined : oneLine(wait, 1000);
    status.phase = phase;
    status.waitingFor = waitingFor;
    upsertSearchAttributes([
      { key: VmIdAttribute, value: String(params.vmid) },
      { key: MigrationPhaseAttribute, value: phase },
    ]);
    showDetails();
    // The fleet learns of a rollback as it starts, not when the rollback is over: its gate closes at once.
    const problem = status.problems.at(-1) && oneLine(status.problems.at(-1)!, 1000);
    if (!fleet) return Promise.resolve(false);
    // the outage, once measured, goes to the fleet with every progress; runs before it send the signals they sent
    const outageMs = status.outage && patched(patches.outageInFleetProgress) ? status.outage.ms : undefined;
    const progress = {
      vmid: params.vmid,
      phase,
      waitingFor,
      ...(problem && { problem }),
      ...(outageMs !== undefined && { outageMs }),
    };
    return fleet.signal(vmProgressSignal, progress).then(
      () => true,
      (err: unknown) => {
        log.warn('the fleet did not take a progress signal', { error: String(err) });
        return false;
      },
    );
  };
  const decide = (approve: boolean, { by, reason, identity }: Decision): DecisionAnswer => {
    if (status.phase !== 'awaiting-approval') {
      return {
        accepted: false,
        reason: `the run is in phase '${status.phase}', not awaiting approval`,
        phase: status.phase,
      };
    }
    if (decision) return { accepted: false, reason: 'a decision was already taken', phase: status.phase };
    decision = { approve, by, reason };
    status.approval = {
      by,
      reason,
      ...(identity !== undefined && { identity }),
      decision: approve ? 'approved' : 'rejected',
      at: new Date().toISOString(),
    };
    showDetails();
    return { accepted: true, phase: status.phase };
  };
  /**
   * Why this person may not take this decision under the run's approver policy, or undefined when they may. `by` and
   * `startedBy` come canonical from their schemas; approvers are compared as identities too.
   */
  const notAllowed = (approve: boolean, { by }: Decision): string | undefined => {
    if (params.approvers && !params.approvers.some((approver) => sameOperator(approver, by)))
      return `${by} is not one of the approvers (${params.approvers.join(', ')})`;
    if (approve && params.fourEyes && sameOperator(by, params.startedBy))
      return `four eyes: ${by} started the run and may not approve it`;
    return undefined;
  };
  const decisionSignal = (approve: boolean) =>
    takeValid(DecisionSchema, approve ? 'approve' : 'reject', (d) => {
      const refusal = notAllowed(approve, d);
      if (refusal) log.warn('ignored a decision', { refusal });
      else decide(approve, d);
    });
  const decisionValidator = (approve: boolean) => (payload: Decision) => {
    const refusal = notAllowed(
      approve,
      parsePayload(DecisionSchema, approve ? 'approveMigration' : 'rejectMigration', payload),
    );
    if (refusal) throw new Error(refusal);
  };
  setHandler(approveSignal, decisionSignal(true));
  setHandler(rejectSignal, decisionSignal(false));
  // the handler takes the canonical form the validator accepted, not the payload as sent
  setHandler(approveUpdate, (d) => decide(true, DecisionSchema.parse(d)), { validator: decisionValidator(true) });
  setHandler(rejectUpdate, (d) => decide(false, DecisionSchema.parse(d)), { validator: decisionValidator(false) });
  setHandler(
    fleetGateSignal,
    takeValid(FleetGateSchema, 'fleetGate', (gate) => {
      // its sender is unknown: it only says that the gate may have changed
      if (gateReadFromTheFleet) gateHints++;
      else if (fleetId !== undefined && gateFromItsFleetOnly && gate.fleetId !== fleetId)
        log.warn('ignored a gate change: this run follows its fleet only', { fleetId, sentFor: gate.fleetId });
      else {
        const { answer, ...rest } = gate;
        status.fleetGate = rest;
        if (answer) gateAnswers++;
        showDetails();
      }
    }),
  );
  setHandler(statusQuery, () => status);
  setHandler(recordQuery, () => record);

  /** Runs one phase as an activity, keeping its timing and outcome in the status. */
  async function phase<T>(name: PhaseRecord['name'], run: () => Promise<T>): Promise<T> {
    if (!name.startsWith('rollback:')) enter(name as PhaseName);
    const entry: PhaseRecord = { name, status: 'running', startedAt: new Date().toISOString() };
    status.phases.push(entry);
    try {
      const result = await run();
      entry.status = 'done';
      return result;
    } catch (err) {
      entry.status = 'failed';
      entry.error = failureMessage(err);
      throw err;
    } finally {
      entry.endedAt = new Date().toISOString();
    }
  }

  /**
   * Runs a phase by the table (src/migration/phases.ts): registers its compensation first, runs its activity with
   * its options, and keeps its result in the status.
   */
  async function runPhase<N extends ActivityPhase['name']>(name: N, ...args: PhaseArgs<N>): Promise<PhaseResult<N>> {
    const definition: ActivityPhase = phaseNamed(name);
    if ('compensation' in definition) {
      const { name: step, activity, timeout } = definition.compensation;
      compensations.unshift({ name: step, undo: () => proxies[timeout][activity](params) });
    }
    // the table ties each name to its activity; runPhase's signature holds the types that this call cannot
    const activity = proxies[definition.timeout][definition.activity] as unknown as (
      ...input: unknown[]
    ) => Promise<PhaseResult<N>>;
    const result = await phase(name, () => activity(params, ...args));
    (status.results as Record<string, unknown>)[definition.resultKey] = result;
    return result;
  }

  /**
   * Renders the record and writes it on the VM. A record that cannot be written is a problem named in the
   * result's record, never a failure: the run's outcome is what happened to the VM.
   */
  async function writeTheRecord(): Promise<string | undefined> {
    record = renderRecord(params, status, startedAt, new Date().toISOString());
    try {
      return await quick.writeRecord(params, record, startedAt);
    } catch (err) {
      status.problems.push(`the record could not be written on the VM: ${failureMessage(err)}`);
      record = renderRecord(params, status, startedAt, new Date().toISOString());
      return undefined;
    }
  }

  async function finish(outcome: MigrateVmResult['outcome']): Promise<MigrateVmResult> {
    const recordPath = await writeTheRecord();
    return { vmid: params.vmid, outcome, record: record!, recordPath, status };
  }

  /** Rolls back, then writes the record whatever came of it: a record of a failed rollback matters most. */
  async function rollBackAndRecord(steps: typeof compensations): Promise<void> {
    try {
      await rollBack(steps);
      enter(steps.length ? 'rolled-back' : 'failed');
    } finally {
      await writeTheRecord();
    }
  }

  enter('scan');
  const scanned = await runPhase('scan');
  if (params.dryRun) {
    status.plan = await quick.planCommands(params, scanned.runHome);
    enter('planned');
    record = renderRecord(params, status, startedAt, new Date().toISOString());
    return { vmid: params.vmid, outcome: 'planned', record, status };
  }
  try {
    await runPhase('backup', workflowInfo().runId);
    if (params.prestage) {
      // Pre-staged: what does not need Docker stopped is done while it serves; C stops it for E₂ and G₂ alone.
      const installed = await runPhase('install');
      await runPhase('pre-copy');
      await runPhase('deploy-panel');
      await runPhase('stage-units', installed, scanned.runHome);
      await runPhase('stop-docker');
      await runPhase('migrate-data');
      await runPhase('systemd-units', installed, scanned.runHome);
    } else {
      await runPhase('stop-docker');
      const installed = await runPhase('install');
      await runPhase('migrate-data');
      await runPhase('deploy-panel');
      await runPhase('systemd-units', installed, scanned.runHome);
    }
    await runPhase('acceptance', scanned.runHome, scanned.bot);
    status.outage = outageOf(status.results);
    await awaitDecision();
  } catch (err) {
    status.problems.push(failureMessage(err));
    await rollBackAndRecord(compensations);
    const dockerStopped = compensations.some((step) => step.name === phaseNamed('stop-docker').compensation.name);
    const where = dockerStopped
      ? 'is back on Docker'
      : params.prestage && status.results.install
        ? 'was left on Docker, untouched (the pre-staged install, copy and panel stay beside it),'
        : 'was left as it was, Docker untouched,';
    throw failure('MigrationRolledBack', `vm ${params.vmid} ${where} after: ${failureMessage(err)}`, [status]);
  }
  if (!decision!.approve) {
    // the reason the fleet gives when its gate closes for this rollback, and the record's problem
    status.problems.push(`rejected by ${decision!.by}: ${decision!.reason}`);
    await rollBackAndRecord(compensations);
    return { vmid: params.vmid, outcome: 'rejected', record: record!, status };
  }

  if (gateReadFromTheFleet) {
    const gone = parent && (await fleetGateOpens(parent));
    if (gone && !status.fleetGate.open) {
      // the gate last read from the fleet can open no more: the safe end is Docker back, not a wait without end
      status.problems.push(`its fleet ended while its gate was closed (${gone}): Docker was not removed`);
      await rollBackAndRecord(compensations);
      throw failure('MigrationRolledBack', `vm ${params.vmid} is back on Docker: ${status.problems.at(-1)}`, [status]);
    }
  } else {
    // A sibling's failed acceptance may have closed the gate a moment ago, its signal still on the way: the fleet is
    // asked. A fleet that is gone answers nothing, and the gate last heard stands.
    if (fleet && patched(patches.gateAnswer)) {
      const asked = gateAnswers;
      if (await enter('awaiting-fleet-gate', `its fleet ${fleetId} to answer with its gate`))
        await condition(() => gateAnswers > asked);
    }
    if (!status.fleetGate.open) {
      enter('awaiting-fleet-gate', `the fleet gate to open (${status.fleetGate.reason})`);
      await condition(() => status.fleetGate.open);
    }
  }
  await runPhase('remove-docker');
  // Docker is gone by now, so nothing is rolled back for the ledger: a commit that fails for good is a problem to
  // fix by hand, named in the record and the fleet's report, not a failed migration.
  status.results.sharedResources = await phase('shared-resources', () =>
    executeChild(commitSharedResources, {
      workflowId: `${workflowInfo().workflowId}-shared-resources`,
      args: [
        {
          node: params.node,
          ledgerPath: params.ledgerPath,
          entry: {
            vmid: params.vmid,
            ip: params.vmIp,
            mode: 'direct',
            note: `migrated from Docker by ${workflowInfo().workflowId}, approved by ${decision!.by}`,
            panelFront: params.ports.panelFront,
            gatewayFront: params.ports.gatewayFront,
          },
        },
      ],
    }),
  ).catch((err: unknown) => {
    status.problems.push(
      `vm ${params.vmid} is migrated, but its row in the node's ledger ${params.ledgerPath} was not committed ` +
        `(${failureMessage(err)}): set it to 'direct' by hand`,
    );
    return undefined;
  });
  enter('completed');
  return await finish('completed');

  /**
   * Reads the gate from the fleet run that started this one (its parent, as the server knows it) until the fleet,
   * settled, says it is open; asks again when a `fleetGate` signal says it may have changed, else after a wait that
   * doubles up to GATE_ASK_MAX_MS. Answers undefined once open, or why the fleet is gone (the gate last read stands).
   */
  async function fleetGateOpens({ workflowId, runId }: { workflowId: string; runId: string }) {
    let said: string | undefined;
    for (let wait = GATE_ASK_MIN_MS; ;) {
      const hints = gateHints;
      const answer = await quick
        .readFleetGate(workflowId, runId)
        .catch((err: unknown) => ({ unanswered: failureMessage(err) }));
      if ('gone' in answer) return answer.gone;
      let waitingFor = `its fleet ${workflowId} to answer (${'unanswered' in answer ? answer.unanswered : ''})`;
      if ('gate' in answer) {
        status.fleetGate = answer.gate;
        if (answer.settled && answer.gate.open) return undefined;
        waitingFor = answer.settled
          ? `the fleet gate to open (${answer.gate.reason})`
          : `its fleet ${workflowId} to read its children's progress`;
      }
      if (waitingFor !== said) enter('awaiting-fleet-gate', waitingFor);
      else showDetails();
      said = waitingFor;
      await condition(() => gateHints > hints, wait);
      wait = 'gate' in answer && !answer.settled ? GATE_ASK_MIN_MS : Math.min(wait * 2, GATE_ASK_MAX_MS);
    }
  }

  async function awaitDecision(): Promise<void> {
    const { approvalReminderMs, approvalDeadlineMs } = params.timeouts;
    const deadline = approvalDeadlineMs === undefined ? undefined : Date.now() + approvalDeadlineMs;
    enter(
      'awaiting-approval',
      'a human to approve or reject (signal approve/reject, or update approveMigration/rejectMigration)',
    );
    for (let reminders = 1; ; reminders++) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      const wait = Math.min(approvalReminderMs ?? Infinity, left ?? Infinity);
      // condition() without a timeout resolves to undefined, not true: test the decision itself
      if (wait === Infinity) await condition(() => decision !== undefined);
      else await condition(() => decision !== undefined, wait);
      if (decision !== undefined) return;
      if (deadline !== undefined && Date.now() >= deadline) {
        decision = { approve: false, by: 'migrateVm', reason: `no decision within ${approvalDeadlineMs} ms` };
        status.approval = { ...decision, decision: 'rejected', at: new Date().toISOString() };
        return;
      }
      log.warn('migration awaits approval', { vmid: params.vmid, reminders, workflowId: workflowInfo().workflowId });
      status.waitingFor = `a human to approve or reject (reminded ${reminders} time${reminders > 1 ? 's' : ''})`;
    }
  }

  /** The compensations in reverse order of registration; one failing for good ends the run with the VM's state. */
  async function rollBack(steps: typeof compensations): Promise<void> {
    enter('rolling-back');
    /** the guest's clock as the steps stopped the direct services and brought Docker back: the outage's end */
    const clock: Omit<Undone, 'summary'> = {};
    const outageBefore = status.outage;
    for (const step of steps) {
      try {
        const output = await phase(`rollback:${step.name}`, step.undo);
        // workers before the rollback's outage was measured answered a summary alone
        const { summary, ...readings } = typeof output === 'string' ? { summary: output } : output;
        Object.assign(clock, readings);
        // as soon as Docker answers again, whatever a later step comes to
        status.outage = outageAfterRollback(outageBefore, status.results.stopDocker?.stoppedAt, clock);
        status.rollback.push(`${step.name}: done${summary ? ` (${summary.split('\n')[0]})` : ''}`);
      } catch (err) {
        enter('failed');
        const done = status.rollback.length ? status.rollback.join('; ') : 'nothing';
        const message =
          `rollback of vm ${params.vmid} stopped at '${step.name}': ${failureMessage(err)}. ` +
          `Done before it: ${done}. Not done: ${steps
            .slice(steps.indexOf(step))
            .map((s) => s.name)
            .join(', ')}. ` +
          `The backup in ${status.results.backup?.dir ?? '(none)'} and the migrated copy are untouched.`;
        status.problems.push(message);
        throw failure('RollbackIncomplete', message, [status]);
      }
    }
  }
}

/** A run at its fleet's gate asks again after 1 s, doubling up to 5 min; or at once on a `fleetGate` signal. */
const GATE_ASK_MIN_MS = 1000;
const GATE_ASK_MAX_MS = 5 * 60_000;

/** A failure's message and its cause's, cut: it goes into the status, the result and the record. */
function failureMessage(err: unknown): string {
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  const message =
    err instanceof Error ? (cause instanceof Error ? `${err.message}: ${cause.message}` : err.message) : String(err);
  return message.length <= 4000 ? message : `${message.slice(0, 3986)}… [cut here]`;
}
