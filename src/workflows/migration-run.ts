import {
  ApplicationFailure,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type ExternalWorkflowHandle,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import type { PhaseResults, Undone } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import {
  approveSignal,
  approveUpdate,
  DecisionSchema,
  fleetGateSignal,
  FleetGateSchema,
  recordQuery,
  rejectSignal,
  rejectUpdate,
  statusQuery,
  type Decision,
  type DecisionAnswer,
  type MigrationPhase,
  type MigrationStatus,
  type PhaseRecord,
} from '../migration/messages';
import { outageAfterRollback } from '../migration/outage';
import {
  ACTIVITY_MARGIN_MS,
  classTimeoutMs,
  cutoverSlotWait,
  phaseInputs,
  phaseNamed,
  windowWait,
  type Phase,
  type PhaseInput,
  type PhaseInputs,
  type PhaseTimeout,
} from '../migration/phases';
import { renderRecord } from '../migration/record';
import { cutoverBound, describeWindow, inWords, localTime, nextStart } from '../migration/window';
import { migrationDetails } from '../migration/ui-metadata';
import { vmProgressSignal } from '../fleet/messages';
import { oneLine } from '../schema';
import { parsePayload, takeValid } from './message-checks';
import { commitSharedResources } from './shared-resource-lock';
import { MigrationPhaseAttribute, NodeNameAttribute, VmIdAttribute } from '../search-attributes';
import { failure, nonRetryableActivityTypes } from '../failures';
import { sameOperator } from '../identity';
import { patches } from './patches';
import { acceptanceEvidence, approveCommand, notifyActivityOptions, type NotifyEvent } from '../notify/events';
import { notifier } from '../notify/notifier';

type ActivityPhase = Extract<Phase, { activity: string }>;
type Activities = typeof activities;
/** A row's inputs as the arguments its activity takes after the run's params. */
type Takes<P> = P extends { takes: infer T extends readonly PhaseInput[] }
  ? { -readonly [I in keyof T]: PhaseInputs[T[I]] }
  : [];
/** Whether a row's activity takes what the row says and answers the result kept under its key (row by row). */
type RowFits<P> = P extends ActivityPhase
  ? Activities[P['activity']] extends (
      params: MigrateVmParams,
      ...inputs: Takes<P>
    ) => Promise<NonNullable<PhaseResults[P['resultKey']]>>
    ? [MigrateVmParams, ...Takes<P>] extends Parameters<Activities[P['activity']]>
      ? true
      : false
    : false
  : never;
/**
 * The phases' activities as runPhase calls them, typed by the table: `never` (no call compiles) while a row does not
 * fit its activity, so the compiler refuses a row that lacks what its activity takes.
 */
type PhaseActivities =
  false extends RowFits<ActivityPhase>
    ? never
    : Record<
        ActivityPhase['activity'] | Extract<ActivityPhase, { recordedAs: string }>['recordedAs'],
        (params: MigrateVmParams, ...inputs: PhaseInputs[PhaseInput][]) => Promise<PhaseResults[keyof PhaseResults]>
      >;

function activityOptions(timeoutMs: number, attempts: number): ActivityOptions {
  return {
    // the guest command's own timeout fires first and kills it; this bounds the activity around it
    startToCloseTimeout: timeoutMs + ACTIVITY_MARGIN_MS,
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

/** A run at its fleet's gate asks again after 1 s, doubling up to 5 min; or at once on a `fleetGate` signal. */
const GATE_ASK_MIN_MS = 1000;
const GATE_ASK_MAX_MS = 5 * 60_000;

export interface MigrateVmResult {
  vmid: number;
  outcome: 'completed' | 'rejected' | 'planned';
  record: string;
  recordPath?: string;
  status: MigrationStatus;
}

/**
 * The state of one migrateVm run and what changes it: its status, the human's decision, the compensations
 * registered so far, the fleet's gate, and the handlers of its messages (as ClusterManager in Temporal's
 * safe-message-handlers sample). The workflow function says what happens in what order; this says how.
 */
export class MigrationRun {
  readonly status: MigrationStatus;
  readonly startedAt = new Date().toISOString();
  /** the fleet that started this run, as the server knows it: its parent */
  private readonly parent = workflowInfo().parent;
  private readonly fleet: ExternalWorkflowHandle | false;
  // Runs started before this read their gate from signals; since, a child reads it from its fleet, a lone run has none.
  private readonly gateReadFromTheFleet = patched(patches.gateReadFromTheFleet);
  // Runs started before this check took a gate from anyone; a fleet's child then took it from its fleet only.
  private readonly gateFromItsFleetOnly = patched(patches.gateFromItsFleetOnly);
  /** how many times the fleet answered this run at its gate (runs before `gateReadFromTheFleet`) */
  private gateAnswers = 0;
  /** how many `fleetGate` signals came: each makes a run at the gate read its fleet's gate again */
  private gateHints = 0;
  private decision: (Decision & { approve: boolean }) | undefined;
  private record: string | null = null;
  // Runs started before this told no webhook of themselves.
  private readonly notifies = patched(patches.vmNotifies);
  // Runs started before this showed no node in the server's list; since, a run that knows its node shows it.
  private readonly nodeNameShown = patched(patches.nodeNameAttribute);
  // Runs started before this called three phases' activities by names of their own (a row's `recordedAs`).
  private readonly activitiesNamedAsPhases = patched(patches.activitiesNamedAsPhases);
  private readonly notifications = notifier(
    proxyActivities<Activities>(notifyActivityOptions).notify,
    () => undefined, // its counts show in the worker's log and metrics; a fleet's status shows its own
  );
  /** What undoes the phases run so far, newest first (unshifted as each registers). */
  private readonly compensations: { name: string; undo: () => Promise<string | Undone> }[] = [];
  private readonly quick: Activities;
  private readonly proxies: Record<PhaseTimeout, Activities>;
  /** the same activities, typed by the table for runPhase (a proxy only names them: it issues no command) */
  private readonly phaseActivities: Record<PhaseTimeout, PhaseActivities>;

  constructor(readonly params: MigrateVmParams) {
    const fleetId = this.parent?.workflowId;
    this.fleet = fleetId !== undefined && getExternalWorkflowHandle(fleetId);
    const noGate = { open: true, reason: 'a lone run has no fleet gate' };
    this.status = {
      vmid: params.vmid,
      phase: 'starting',
      phases: [],
      results: {},
      fleetGate: fleetId === undefined && this.gateReadFromTheFleet ? noGate : (params.fleetGate ?? noGate),
      problems: [],
      rollback: [],
    };
    const options: Record<PhaseTimeout, ActivityOptions> = {
      quick: activityOptions(classTimeoutMs('quick', params.timeouts), 5),
      command: activityOptions(classTimeoutMs('command', params.timeouts), 5),
      install: activityOptions(classTimeoutMs('install', params.timeouts), 3),
    };
    this.quick = proxyActivities(options.quick);
    this.proxies = {
      quick: this.quick,
      command: proxyActivities(options.command),
      install: proxyActivities(options.install),
    };
    this.phaseActivities = {
      quick: proxyActivities(options.quick),
      command: proxyActivities(options.command),
      install: proxyActivities(options.install),
    };
    this.handleMessages(fleetId);
  }

  private handleMessages(fleetId: string | undefined): void {
    const decisionSignal = (approve: boolean) =>
      takeValid(DecisionSchema, approve ? 'approve' : 'reject', (d) => {
        const refusal = this.notAllowed(approve, d);
        if (refusal) log.warn('ignored a decision', { refusal });
        else this.decide(approve, d);
      });
    const decisionValidator = (approve: boolean) => (payload: Decision) => {
      const refusal = this.notAllowed(
        approve,
        parsePayload(DecisionSchema, approve ? 'approveMigration' : 'rejectMigration', payload),
      );
      if (refusal) throw new Error(refusal);
    };
    setHandler(approveSignal, decisionSignal(true));
    setHandler(rejectSignal, decisionSignal(false));
    // the handler takes the canonical form the validator accepted, not the payload as sent
    setHandler(approveUpdate, (d) => this.decide(true, DecisionSchema.parse(d)), {
      validator: decisionValidator(true),
    });
    setHandler(rejectUpdate, (d) => this.decide(false, DecisionSchema.parse(d)), {
      validator: decisionValidator(false),
    });
    setHandler(
      fleetGateSignal,
      takeValid(FleetGateSchema, 'fleetGate', (gate) => {
        // its sender is unknown: it only says that the gate may have changed
        if (this.gateReadFromTheFleet) this.gateHints++;
        else if (fleetId !== undefined && this.gateFromItsFleetOnly && gate.fleetId !== fleetId)
          log.warn('ignored a gate change: this run follows its fleet only', { fleetId, sentFor: gate.fleetId });
        else {
          const { answer, ...rest } = gate;
          this.status.fleetGate = rest;
          if (answer) this.gateAnswers++;
          this.showDetails();
        }
      }),
    );
    setHandler(statusQuery, () => this.status);
    setHandler(recordQuery, () => this.record);
  }

  /** The Temporal UI's current details of this run (user metadata, answered by a query: never in the history). */
  private showDetails(): void {
    setCurrentDetails(migrationDetails(this.status));
  }

  /** Shows the run in a phase and tells its fleet; answers whether the fleet took the progress. */
  enter(phase: MigrationPhase, wait?: string): Promise<boolean> {
    const { status, fleet } = this;
    // cut to what the fleet takes in a progress signal: a gate's reason alone may fill that
    const waitingFor = wait === undefined ? undefined : oneLine(wait, 1000);
    status.phase = phase;
    status.waitingFor = waitingFor;
    upsertSearchAttributes([
      { key: VmIdAttribute, value: String(this.params.vmid) },
      { key: MigrationPhaseAttribute, value: phase },
      ...(this.nodeNameShown && this.params.nodeName !== undefined
        ? [{ key: NodeNameAttribute, value: this.params.nodeName }]
        : []),
    ]);
    this.showDetails();
    // The fleet learns of a rollback as it starts, not when the rollback is over: its gate closes at once.
    const last = status.problems.at(-1);
    const problem = last && oneLine(last, 1000);
    if (!fleet) return Promise.resolve(false);
    // the outage, once measured, goes to the fleet with every progress; runs before it send the signals they sent
    const outageMs = status.outage && patched(patches.outageInFleetProgress) ? status.outage.ms : undefined;
    const progress = {
      vmid: this.params.vmid,
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
  }

  private decide(approve: boolean, { by, reason, identity }: Decision): DecisionAnswer {
    const { status } = this;
    if (status.phase !== 'awaiting-approval') {
      return {
        accepted: false,
        reason: `the run is in phase '${status.phase}', not awaiting approval`,
        phase: status.phase,
      };
    }
    if (this.decision) return { accepted: false, reason: 'a decision was already taken', phase: status.phase };
    this.decision = { approve, by, reason };
    status.approval = {
      by,
      reason,
      ...(identity !== undefined && { identity }),
      decision: approve ? 'approved' : 'rejected',
      at: new Date().toISOString(),
    };
    this.showDetails();
    return { accepted: true, phase: status.phase };
  }

  /**
   * Why this person may not take this decision under the run's approver policy, or undefined when they may. `by` and
   * `startedBy` come canonical from their schemas; approvers are compared as identities too.
   */
  private notAllowed(approve: boolean, { by }: Decision): string | undefined {
    const { approvers, fourEyes, startedBy } = this.params;
    if (approvers && !approvers.some((approver) => sameOperator(approver, by)))
      return `${by} is not one of the approvers (${approvers.join(', ')})`;
    if (approve && fourEyes && sameOperator(by, startedBy))
      return `four eyes: ${by} started the run and may not approve it`;
    return undefined;
  }

  /** Runs one step, keeping its timing and outcome in the status; a step that is a phase is shown as entered. */
  private async step<T>(name: PhaseRecord['name'], run: () => Promise<T>): Promise<T> {
    if (!name.startsWith('rollback:')) this.enter(name as MigrationPhase);
    const entry: PhaseRecord = { name, status: 'running', startedAt: new Date().toISOString() };
    this.status.phases.push(entry);
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
   * Runs a phase by its row of the table (src/migration/phases.ts): registers its compensation first, runs its
   * activity with its options and the inputs the row takes, and keeps its result in the status.
   */
  async runPhase(phase: ActivityPhase): Promise<void> {
    const { params, status } = this;
    if ('window' in phase && phase.window === 'outage') await this.awaitCutoverSlot();
    if ('window' in phase) await this.awaitWindow(phase.window);
    if ('compensation' in phase) {
      const { name, activity, timeout } = phase.compensation;
      this.compensations.unshift({ name, undo: () => this.proxies[timeout][activity](params) });
    }
    const runId = workflowInfo().runId;
    const inputs = ('takes' in phase ? phase.takes : []).map((input) => phaseInputs[input](status.results, runId));
    const named = this.activitiesNamedAsPhases || !('recordedAs' in phase) ? phase.activity : phase.recordedAs;
    const activity = this.phaseActivities[phase.timeout][named];
    const result = await this.step(phase.name, () => activity(params, ...inputs));
    Object.assign(status.results, { [phase.resultKey]: result });
  }

  /**
   * Holds a phase until the run's maintenance window is open with enough of it left for the cutover: on a durable
   * timer to that moment (workflow time), shown as the run's wait. Runs without a window (all before the patch) go on.
   */
  private async awaitWindow(kind: 'outage' | 'removal'): Promise<void> {
    const { window, prestage, cutoverMeasuredMs } = this.params;
    if (!window || (kind === 'removal' && !window.removeDocker) || !patched(patches.maintenanceWindow)) return;
    // Docker's removal is short and undoes nothing the customer sees: it needs only to start inside the window
    const need = kind === 'outage' ? cutoverBound(window, prestage, cutoverMeasuredMs) : { ms: 0, from: '' };
    for (let now = Date.now(), next = nextStart(window, now, need.ms); next.at > now;) {
      const what = `the window ${describeWindow(window, next.opensAt)}`;
      const left = need.ms ? `, ${inWords(need.ms)} of it for the cutover (${need.from})` : '';
      const missed = nextStart(window, now, 0).at === now ? ' (too little left of the one open now)' : '';
      const when = `opens in ${inWords(next.at - now)}, at ${localTime(window.timeZone, next.at)}${missed}`;
      this.enter(windowWait, `${what}, ${when}${left}`);
      await sleep(next.at - now);
      now = Date.now();
      next = nextStart(window, now, need.ms);
    }
  }

  /**
   * Pre-staged ahead (`holdForCutover`, set by a fleet with `prestageAhead`): holds C until its fleet grants this run
   * one of its cutover slots, read from the fleet's own state as the gate is (a `fleetGate` signal makes it read
   * again, else after a wait that doubles up to GATE_ASK_MAX_MS). Throws PrestageUndone once the fleet says no slot
   * will come (it stopped starting) or is gone: the rollback then undoes what pre-staging registered.
   */
  private async awaitCutoverSlot(): Promise<void> {
    const { parent, params } = this;
    if (!params.holdForCutover || !parent || !patched(patches.prestageAhead)) return;
    let said: string | undefined;
    for (let wait = GATE_ASK_MIN_MS; ; wait = Math.min(wait * 2, GATE_ASK_MAX_MS)) {
      const hints = this.gateHints;
      const answer = await this.quick
        .readFleetGate(parent.workflowId, parent.runId)
        .catch((err: unknown) => ({ unanswered: failureMessage(err) }));
      if ('gone' in answer) throw failure('PrestageUndone', `its fleet ended before its cutover (${answer.gone})`);
      const cutover = 'gate' in answer ? answer.cutover : undefined;
      if (cutover?.granted.includes(params.vmid)) return;
      if (cutover?.stopped) throw failure('PrestageUndone', `its fleet grants no more cutovers: ${cutover.stopped}`);
      const waitingFor = cutover
        ? `a cutover slot from its fleet (${cutover.taken})`
        : `its fleet ${parent.workflowId} to answer (${'unanswered' in answer ? answer.unanswered : 'no slots'})`;
      if (waitingFor !== said) this.enter(cutoverSlotWait, waitingFor);
      said = waitingFor;
      await condition(() => this.gateHints > hints, wait);
    }
  }

  /** A dry run ends after the scan with the plan: every command each phase would run. */
  async plan(): Promise<MigrateVmResult> {
    const { params, status } = this;
    const runId = workflowInfo().runId;
    status.plan = await this.quick.planCommands(
      params,
      phaseInputs.runHome(status.results, runId),
      phaseInputs.bot(status.results, runId),
    );
    this.enter('planned');
    const record = this.render();
    this.record = record;
    return { vmid: params.vmid, outcome: 'planned', record, status };
  }

  /**
   * Tells the worker's webhooks (src/notify), never awaited in the run's path: a lone run every event of its own, a
   * fleet's child its approval reminders only (its fleet tells the rest, as it learns them from the child).
   */
  tell(event: NotifyEvent): void {
    if (this.notifies && (this.parent === undefined || event.kind === 'approval-reminder'))
      this.notifications.tell(event);
  }

  /** A lone run tells its failure when no rollback will (a refused scan). */
  tellFailed(err: unknown): void {
    this.tell({ kind: 'run-failed', ...this.ref(), error: failureMessage(err) });
  }

  /** Before a lone run ends: its notifications in flight would be lost with it (each is bounded, src/notify). */
  async notificationsSettled(): Promise<void> {
    if (this.notifies && this.parent === undefined) await this.notifications.settled();
  }

  private ref() {
    const { vmid, nodeName } = this.params;
    return { vmid, ...(nodeName !== undefined && { node: nodeName }), workflowId: workflowInfo().workflowId };
  }

  /** Waits for the human's decision, reminding and, past the run's deadline, rejecting on their behalf. */
  async awaitDecision(): Promise<Decision & { approve: boolean }> {
    const { approvalReminderMs, approvalDeadlineMs } = this.params.timeouts;
    const deadline = approvalDeadlineMs === undefined ? undefined : Date.now() + approvalDeadlineMs;
    this.enter(
      'awaiting-approval',
      'a human to approve or reject (signal approve/reject, or update approveMigration/rejectMigration)',
    );
    const since = Date.now();
    const approve = approveCommand(this.params.vmid);
    const evidence = acceptanceEvidence(this.status.results.acceptance, this.status.outage?.ms);
    this.tell({ kind: 'awaiting-approval', ...this.ref(), evidence, approve });
    for (let reminders = 1; ; reminders++) {
      const left = deadline === undefined ? undefined : deadline - Date.now();
      const wait = Math.min(approvalReminderMs ?? Infinity, left ?? Infinity);
      // condition() without a timeout resolves to undefined, not true: test the decision itself
      if (wait === Infinity) await condition(() => this.decision !== undefined);
      else await condition(() => this.decision !== undefined, wait);
      if (this.decision !== undefined) return this.decision;
      if (deadline !== undefined && Date.now() >= deadline) {
        this.decision = { approve: false, by: 'migrateVm', reason: `no decision within ${approvalDeadlineMs} ms` };
        this.status.approval = { ...this.decision, decision: 'rejected', at: new Date().toISOString() };
        return this.decision;
      }
      log.warn('migration awaits approval', {
        vmid: this.params.vmid,
        reminders,
        workflowId: workflowInfo().workflowId,
      });
      this.tell({ kind: 'approval-reminder', ...this.ref(), reminders, waitingMs: Date.now() - since, approve });
      this.status.waitingFor = `a human to approve or reject (reminded ${reminders} time${reminders > 1 ? 's' : ''})`;
    }
  }

  /** Rolls back after a failure and answers the failure the run ends with, naming the state the VM was left in. */
  async rollBackAfter(err: unknown): Promise<Error> {
    const { params, status } = this;
    status.problems.push(failureMessage(err));
    await this.rollBackAndRecord();
    const dockerStopped = this.compensations.some((step) => step.name === phaseNamed('stop-docker').compensation.name);
    const where = dockerStopped
      ? 'is back on Docker'
      : params.prestage && status.results.install
        ? 'was left on Docker, untouched (the pre-staged install, copy and panel stay beside it),'
        : 'was left as it was, Docker untouched,';
    // a run that stood down before its cutover keeps its type: its fleet counts it as skipped, not as failed
    const undone = err instanceof ApplicationFailure && err.type === 'PrestageUndone';
    const type = undone ? 'PrestageUndone' : 'MigrationRolledBack';
    return failure(type, `vm ${params.vmid} ${where} after: ${failureMessage(err)}`, [status]);
  }

  /** A rejection rolls back; the reason is the one the fleet gives when its gate closes for it, and the record's. */
  async rollBackRejected({ by, reason }: Decision): Promise<MigrateVmResult> {
    this.status.problems.push(`rejected by ${by}: ${reason}`);
    const record = await this.rollBackAndRecord();
    return { vmid: this.params.vmid, outcome: 'rejected', record, status: this.status };
  }

  /**
   * Waits until the fleet's gate lets Docker go. Answers why it never will (its fleet ended with the gate closed):
   * then the run has rolled back, as a wait without end is not a safe end.
   */
  async awaitFleetGate(): Promise<Error | undefined> {
    const { parent, fleet, status } = this;
    if (this.gateReadFromTheFleet) {
      const gone = parent && (await this.fleetGateOpens(parent));
      if (gone && !status.fleetGate.open) {
        status.problems.push(`its fleet ended while its gate was closed (${gone}): Docker was not removed`);
        await this.rollBackAndRecord();
        return failure('MigrationRolledBack', `vm ${this.params.vmid} is back on Docker: ${status.problems.at(-1)}`, [
          status,
        ]);
      }
      return undefined;
    }
    // A sibling's failed acceptance may have closed the gate a moment ago, its signal still on the way: the fleet is
    // asked. A fleet that is gone answers nothing, and the gate last heard stands.
    if (fleet && patched(patches.gateAnswer)) {
      const asked = this.gateAnswers;
      if (await this.enter('awaiting-fleet-gate', `its fleet ${parent?.workflowId} to answer with its gate`))
        await condition(() => this.gateAnswers > asked);
    }
    if (!status.fleetGate.open) {
      this.enter('awaiting-fleet-gate', `the fleet gate to open (${status.fleetGate.reason})`);
      await condition(() => status.fleetGate.open);
    }
    return undefined;
  }

  /**
   * Reads the gate from the fleet run that started this one (its parent, as the server knows it) until the fleet,
   * settled, says it is open; asks again when a `fleetGate` signal says it may have changed, else after a wait that
   * doubles up to GATE_ASK_MAX_MS. Answers undefined once open, or why the fleet is gone (the gate last read stands).
   */
  private async fleetGateOpens({ workflowId, runId }: { workflowId: string; runId: string }) {
    let said: string | undefined;
    for (let wait = GATE_ASK_MIN_MS; ;) {
      const hints = this.gateHints;
      const answer = await this.quick
        .readFleetGate(workflowId, runId)
        .catch((err: unknown) => ({ unanswered: failureMessage(err) }));
      if ('gone' in answer) return answer.gone;
      let waitingFor = `its fleet ${workflowId} to answer (${'unanswered' in answer ? answer.unanswered : ''})`;
      if ('gate' in answer) {
        this.status.fleetGate = answer.gate;
        if (answer.settled && answer.gate.open) return undefined;
        waitingFor = answer.settled
          ? `the fleet gate to open (${answer.gate.reason})`
          : `its fleet ${workflowId} to read its children's progress`;
      }
      if (waitingFor !== said) this.enter('awaiting-fleet-gate', waitingFor);
      else this.showDetails();
      said = waitingFor;
      await condition(() => this.gateHints > hints, wait);
      wait = 'gate' in answer && !answer.settled ? GATE_ASK_MIN_MS : Math.min(wait * 2, GATE_ASK_MAX_MS);
    }
  }

  /**
   * Commits the VM's row in the node's ledger (a child workflow, under the node's lock). Docker is gone by now, so
   * nothing is rolled back for the ledger: a commit that fails for good is a problem to fix by hand, named in the
   * record and the fleet's report, not a failed migration.
   */
  async commitSharedResources(approvedBy: string): Promise<void> {
    const { params, status } = this;
    const { workflowId } = workflowInfo();
    status.results.sharedResources = await this.step('shared-resources', () =>
      executeChild(commitSharedResources, {
        workflowId: `${workflowId}-shared-resources`,
        args: [
          {
            node: params.node,
            ledgerPath: params.ledgerPath,
            entry: {
              vmid: params.vmid,
              ip: params.vmIp,
              mode: 'direct',
              note: `migrated from Docker by ${workflowId}, approved by ${approvedBy}`,
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
  }

  async complete(): Promise<MigrateVmResult> {
    this.enter('completed');
    const { record, recordPath } = await this.writeTheRecord();
    return { vmid: this.params.vmid, outcome: 'completed', record, recordPath, status: this.status };
  }

  private render(): string {
    return renderRecord(this.params, this.status, this.startedAt, new Date().toISOString());
  }

  /**
   * Renders the record and writes it on the VM. A record that cannot be written is a problem named in the
   * result's record, never a failure: the run's outcome is what happened to the VM.
   */
  private async writeTheRecord(): Promise<{ record: string; recordPath?: string }> {
    this.record = this.render();
    try {
      const recordPath = await this.quick.writeRecord(this.params, this.record, this.startedAt);
      return { record: this.record, recordPath };
    } catch (err) {
      this.status.problems.push(`the record could not be written on the VM: ${failureMessage(err)}`);
      this.record = this.render();
      return { record: this.record };
    }
  }

  /** Rolls back, then writes the record whatever came of it: a record of a failed rollback matters most. */
  private async rollBackAndRecord(): Promise<string> {
    try {
      await this.rollBack();
    } catch (err) {
      await this.writeTheRecord();
      throw err;
    }
    this.enter(this.compensations.length ? 'rolled-back' : 'failed');
    const why = this.status.problems.at(-1) ?? 'see its run';
    if (this.compensations.length) this.tell({ kind: 'rollback-ended', ...this.ref(), ended: 'done', detail: why });
    else this.tell({ kind: 'run-failed', ...this.ref(), error: why });
    return (await this.writeTheRecord()).record;
  }

  /** The compensations in reverse order of registration; one failing for good ends the run with the VM's state. */
  private async rollBack(): Promise<void> {
    const { params, status, compensations } = this;
    this.enter('rolling-back');
    /** the guest's clock as the steps stopped the direct services and brought Docker back: the outage's end */
    const clock: Omit<Undone, 'summary'> = {};
    const outageBefore = status.outage;
    if (compensations.length)
      this.tell({ kind: 'rollback-started', ...this.ref(), why: status.problems.at(-1) ?? 'see its run' });
    for (const step of compensations) {
      try {
        const output = await this.step(`rollback:${step.name}`, step.undo);
        // workers before the rollback's outage was measured answered a summary alone
        const { summary, ...readings } = typeof output === 'string' ? { summary: output } : output;
        Object.assign(clock, readings);
        // as soon as Docker answers again, whatever a later step comes to
        status.outage = outageAfterRollback(outageBefore, status.results.stopDocker?.stoppedAt, clock);
        status.rollback.push(`${step.name}: done${summary ? ` (${summary.split('\n')[0]})` : ''}`);
      } catch (err) {
        this.enter('failed');
        const done = status.rollback.length ? status.rollback.join('; ') : 'nothing';
        const notDone = compensations.slice(compensations.indexOf(step)).map((s) => s.name);
        const message =
          `rollback of vm ${params.vmid} stopped at '${step.name}': ${failureMessage(err)}. ` +
          `Done before it: ${done}. Not done: ${notDone.join(', ')}. ` +
          `The backup in ${status.results.backup?.dir ?? '(none)'} and the migrated copy are untouched.`;
        status.problems.push(message);
        this.tell({ kind: 'rollback-ended', ...this.ref(), ended: 'incomplete', detail: message });
        throw failure('RollbackIncomplete', message, [status]);
      }
    }
  }
}

/** A failure's message and its cause's, cut: it goes into the status, the result and the record. */
function failureMessage(err: unknown): string {
  const cause = err instanceof Error ? (err as { cause?: unknown }).cause : undefined;
  const message =
    err instanceof Error ? (cause instanceof Error ? `${err.message}: ${cause.message}` : err.message) : String(err);
  return message.length <= 4000 ? message : `${message.slice(0, 3986)}… [cut here]`;
}
