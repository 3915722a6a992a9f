import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { AcceptanceResult } from '../activities/acceptance';
import type { BackupResult } from '../activities/backup';
import type { DeployPanelResult } from '../activities/deploy-panel';
import type { InstallResult } from '../activities/install';
import type { MigrateDataResult, PreCopyResult } from '../activities/migrate-data';
import type { RemoveDockerResult } from '../activities/remove-docker';
import type { ScanResult } from '../activities/scan';
import type { StopDockerResult } from '../activities/stop-docker';
import type { SystemdUnitsResult } from '../activities/systemd-units';
import { DAY, duration, oneLine, personName, strictObject, text } from '../schema';
import { operatorName } from '../identity';
import type { MigrationPhase, PhaseName } from './phases';
import type { LedgerCommit } from './shared-resources';

/**
 * Signals, queries and updates of migrateVm, defined once for the workflow, the CLI and the tests.
 * The signals are what `temporal workflow signal` and the UI can send; the updates do the same and answer.
 */

/** A human's decision: who (a short printable name) and why (bounded, one line). */
export const DecisionSchema = strictObject({
  /** passed on in its canonical form (src/identity.ts): four eyes and approver lists compare identities */
  by: operatorName,
  reason: text(500),
  /** the client identity the sender states (the CLI sends its connection's); the history records the server's */
  identity: text(200).optional(),
});
export type Decision = z.output<typeof DecisionSchema>;

export const approveSignal = defineSignal<[Decision]>('approve');
export const rejectSignal = defineSignal<[Decision]>('reject');
export const approveUpdate = defineUpdate<DecisionAnswer, [Decision]>('approveMigration');
export const rejectUpdate = defineUpdate<DecisionAnswer, [Decision]>('rejectMigration');

export interface DecisionAnswer {
  accepted: boolean;
  /** why a decision was not taken: the run does not wait for one (yet, or any more) */
  reason?: string;
  phase: MigrationPhase;
}

/**
 * The fleet's Docker-removal gate (phase I waits while it is closed); a lone run starts with it open. The reason is
 * flattened to one line and cut, not refused: the fleet's own reasons quote its children's failures.
 * `fleetId` names the fleet that sets it: a fleet's child takes the gate only from its own fleet.
 */
export const FleetGateSchema = strictObject({
  open: z.boolean(),
  reason: z
    .string()
    .max(64 << 10)
    .transform((reason) => oneLine(reason, 1000)),
  by: personName.optional(),
  at: z.iso.datetime().optional(),
  fleetId: z.string().max(300).optional(),
  /** set when the fleet answers a child that reached the gate: only an answer tells the child the gate as of then */
  answer: z.literal(true).optional(),
});
export type FleetGate = z.output<typeof FleetGateSchema>;
/**
 * The fleet's gate sent to a child. Anyone can send it: a child since the patch `gateReadFromTheFleet` takes it as a
 * hint to read the gate from its fleet, and a fleet ignores it (its gate changes through `setFleetGate` only).
 */
export const fleetGateSignal = defineSignal<[FleetGate]>('fleetGate');

/** One VM's migration is this workflow id, fleet or not: a VM already migrating is never started twice. */
export const migrationId = (vmid: number) => `migrate-vm-${vmid}`;
/** Dry runs have ids of their own, so a plan never stands in the way of the migration. */
export const planId = (vmid: number) => `plan-vm-${vmid}`;

export const statusQuery = defineQuery<MigrationStatus>('status');
export const recordQuery = defineQuery<string | null>('record');

/** The phases and a run's other states are defined once, in the table of the phases. */
export type { MigrationPhase, PhaseName } from './phases';

export interface PhaseRecord {
  name: PhaseName | `rollback:${string}`;
  status: 'running' | 'done' | 'failed';
  startedAt: string;
  endedAt?: string;
  error?: string;
}

export interface PhaseResults {
  scan?: ScanResult;
  backup?: BackupResult;
  stopDocker?: StopDockerResult;
  install?: InstallResult;
  /** pre-staged runs: the copy made while Docker ran, and the units written before C */
  preCopy?: PreCopyResult;
  migrateData?: MigrateDataResult;
  deployPanel?: DeployPanelResult;
  stagedUnits?: SystemdUnitsResult;
  systemdUnits?: SystemdUnitsResult;
  acceptance?: AcceptanceResult;
  removeDocker?: RemoveDockerResult;
  sharedResources?: LedgerCommit;
}

export interface MigrationStatus {
  vmid: number;
  phase: MigrationPhase;
  /** what the run waits for, in words, when it waits */
  waitingFor?: string;
  phases: PhaseRecord[];
  results: PhaseResults;
  approval?: Decision & { decision: 'approved' | 'rejected'; at: string };

  fleetGate: FleetGate;
  /** what went wrong, and what state the VM is in */
  problems: string[];
  rollback: string[];
  /** dry run: every command each phase would run */
  plan?: PlannedCommand[];
  /** what the customer noticed, once the acceptance passed (absent for runs before it was measured) */
  outage?: Outage;
}

/**
 * The customer's outage (SOP §1: users must not notice), by the guest's own clock alone: from `docker compose stop`
 * (phase C) until the direct gateway and panel both answered 200 with the login through their fronts (phase H).
 * A run rolled back onto Docker is down until Docker's gateway and panel answer again; when the direct install had
 * answered before the rollback, only the gaps count: until it answered, and from its services' stop on.
 */
export interface Outage {
  ms: number;
  dockerStoppedAt: string;
  /** absent when the direct install never answered (a rolled-back run, or a run before rollbacks were measured) */
  directAnsweredAt?: string;
  /** a rolled-back run: when the rollback stopped the direct services, if they ran */
  directStoppedAt?: string;
  /** a rolled-back run: when Docker's gateway and panel answered again */
  dockerAnsweredAt?: string;
}

/** What a compensation did: a line for the status, and where it ended or resumed the outage, by the guest's clock. */
export interface Undone {
  summary: string;
  directStoppedAt?: string;
  dockerAnsweredAt?: string;
}

/** An outage's length as a run reports it to its fleet: up to 30 days (a stepped guest clock gives none). */
export const OutageMsSchema = duration(0, 30 * DAY);

/** An outage as people read it: seconds, to a tenth. */
export const inSeconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The outage from the results of C and H, when both measured their end of it. */
export function outageOf({ stopDocker, acceptance }: PhaseResults): Outage | undefined {
  if (!stopDocker?.stoppedAt || !acceptance?.answeredAt) return undefined;
  const ms = OutageMsSchema.safeParse(Date.parse(acceptance.answeredAt) - Date.parse(stopDocker.stoppedAt));
  return ms.success
    ? { ms: ms.data, dockerStoppedAt: stopDocker.stoppedAt, directAnsweredAt: acceptance.answeredAt }
    : undefined;
}

/**
 * The outage of a run rolled back onto Docker, from the one measured before the rollback (if the direct install
 * answered), phase C's stop of Docker and what the rollback's steps read of the guest's clock. The one before stands
 * when Docker's answer was not timed (a rollback by workers before this was measured, or not as far as Docker yet).
 * Direct services that had answered but were no longer running at the rollback stopped at an unknown time: their
 * gap is counted from their first answer, the most it can have been.
 */
export function outageAfterRollback(
  before: Outage | undefined,
  dockerStoppedAt: string | undefined,
  { directStoppedAt, dockerAnsweredAt }: Omit<Undone, 'summary'>,
): Outage | undefined {
  if (!dockerStoppedAt || !dockerAnsweredAt) return before;
  // the direct install served from its first answer until its services stopped: that time is not outage
  const gapFrom = before ? (directStoppedAt ?? before.directAnsweredAt) : dockerStoppedAt;
  const ms = OutageMsSchema.safeParse((before?.ms ?? 0) + Date.parse(dockerAnsweredAt) - Date.parse(gapFrom!));
  if (!ms.success) return before;
  return { ...before, ms: ms.data, dockerStoppedAt, ...(directStoppedAt && { directStoppedAt }), dockerAnsweredAt };
}

/** An outage's times in words, for the record and the CLI: what began it and what ended each part of it. */
export function outageTimes({ dockerStoppedAt, directAnsweredAt, directStoppedAt, dockerAnsweredAt }: Outage): string {
  const direct = directAnsweredAt && `the direct gateway and panel answered ${directAnsweredAt}`;
  const stopped =
    directAnsweredAt &&
    dockerAnsweredAt &&
    (directStoppedAt ? `the rollback stopped them ${directStoppedAt}` : 'they were down by the rollback');
  const back = dockerAnsweredAt && `Docker's answered again ${dockerAnsweredAt}`;
  return [`Docker stopped ${dockerStoppedAt}`, direct, stopped, back].filter(Boolean).join(', ');
}

export interface PlannedCommand {
  phase: string;
  transport: string;
  command: string;
}
