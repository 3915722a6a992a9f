import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { FleetGate } from '../migration/messages';
import { OutageMsSchema } from '../migration/outage';
import { migrationPhases, runOrderOf, type MigrationPhase } from '../migration/phases';
import { operatorName } from '../identity';
import { strictObject, text, vmid } from '../schema';

export type { FleetGate };

/**
 * Signals, queries and updates of migrateFleet, defined once for the workflow, its children, the CLI and tests.
 * The gate changes through `setFleetGate` only; a child reads it with `gateForChildren`, from its parent's own state.
 */

/** A child's progress, signalled to its fleet on every phase change. */
export const VmProgressSchema = strictObject({
  vmid,
  phase: z.enum(migrationPhases),
  waitingFor: z.string().max(1000).optional(),
  // bounded by the payload limit only: the fleet keeps it cut to one line (a child's problem quotes its failure)
  problem: z
    .string()
    .max(1 << 20)
    .optional(),
  /** the customer's outage, once the run measured it (see Outage) */
  outageMs: OutageMsSchema.optional(),
});
export type VmProgress = z.output<typeof VmProgressSchema>;

/**
 * Whether a child's run can go from phase `from` to `to`: forward through its phases in its order (the SOP's, or
 * pre-staged with `prestage`; a phase may be reported twice), a plan after the scan, a rollback from anywhere
 * before Docker's removal, and after the rollback its end. A progress signal that no run could send is ignored.
 */
export function canFollow(from: MigrationPhase, to: MigrationPhase, prestage = false): boolean {
  const forward = runOrderOf(prestage);
  const at = forward.indexOf(from);
  if (to === 'planned') return from === 'starting' || from === 'scan';
  if (to === 'rolling-back') return from === 'rolling-back' || (at >= 0 && at <= forward.indexOf('awaiting-approval'));
  if (to === 'rolled-back' || to === 'failed') return from === 'rolling-back' || from === to;
  // a window that holds Docker's removal too (`removeDocker`) is waited for again after the gate
  if (to === 'awaiting-window' && from === 'awaiting-fleet-gate') return true;
  return at >= 0 && forward.indexOf(to) >= at && from !== 'completed';
}
/**
 * A child's progress, signalled to its fleet on every phase change. Anyone can send it: the fleet takes it as a
 * hint to read the child's status from the child itself (see ChildProgress), never as the progress.
 */
export const vmProgressSignal = defineSignal<[VmProgress]>('vmProgress');

/** What the fleet reads of a child's own status when it hears the child moved on. */
export interface ChildProgress {
  phase: MigrationPhase;
  waitingFor?: string;
  problem?: string;
  outageMs?: number;
}

/**
 * The fleet's gate as its children read it. `settled` is false while the fleet still reads a child's status after
 * hearing of its progress (a sibling's rollback may be about to close the gate): a child asks again before it acts.
 */
export interface GateForChildren {
  gate: FleetGate;
  settled: boolean;
  /** fleets with `prestageAhead`: the cutover slots a child held before C reads (see CutoverSlots) */
  cutover?: CutoverSlots;
}

/**
 * A fleet that pre-stages ahead (`prestageAhead`) lets only `concurrency` VMs be between C and their end: each holds
 * before C until its vmid is granted, or stands down (undoing its pre-staging) once the fleet says none will come.
 */
export interface CutoverSlots {
  granted: number[];
  /** why the fleet grants no further cutover: it stopped starting (canary, failure budget) */
  stopped?: string;
  /** how many VMs are in their cutover, of how many may be */
  taken: string;
}
export const gateForChildrenQuery = defineQuery<GateForChildren>('gateForChildren');

export const GateChangeSchema = strictObject({ open: z.boolean(), by: operatorName, reason: text(500) });
export type GateChange = z.output<typeof GateChangeSchema>;
/** Opens or closes the gate and answers with the gate and the VMs waiting at it. */
export const setFleetGateUpdate = defineUpdate<{ gate: FleetGate; waitingAtGate: number[] }, [GateChange]>(
  'setFleetGate',
);

export type FleetVmState =
  'queued' | 'running' | 'completed' | 'rejected' | 'planned' | 'rolled-back' | 'failed' | 'skipped';

export interface FleetVm {
  vmid: number;
  name?: string;
  /** the name of its node in the inventory's `nodes` */
  node?: string;
  state: FleetVmState;
  /** the child's phase as it last reported it */
  phase?: MigrationPhase;
  waitingFor?: string;
  workflowId?: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  recordPath?: string;
  error?: string;
  /** what went wrong without failing the migration (e.g. a ledger row to fix by hand) */
  problems?: string[];
  /** the customer's outage by the guest's clock, once the run measured it (see Outage in ../migration/messages) */
  outageMs?: number;
}

/** One node of the fleet: how many of its VMs are in flight, of how many it takes, and whether its canary is done. */
export interface FleetNode {
  name: string;
  concurrency: number;
  inFlight: number;
  vms: number;
  canaryDone: boolean;
}

export interface FleetStatus {
  fleetId: string;
  concurrency: number;
  canary: number;
  failureBudget: number;
  gate: FleetGate;
  inFlight: number;
  /** fleets with `prestageAhead`: that many VMs more may pre-stage while `inCutover` (≤ concurrency) cut over */
  prestageAhead?: number;
  inCutover?: number;
  /** each node in the inventory's order (runs before the fleet spanned nodes have none) */
  nodes?: FleetNode[];
  failures: number;
  /** why no further VM starts, once none does */
  stoppedStarting?: string;
  /** continue-as-new count: this run is the (runs + 1)th */
  runs: number;
  startedAt: string;
  vms: FleetVm[];
  /** what the worker's webhooks were told (runs since notifications; see src/notify) */
  notifications?: NotificationCounts;
}
export const fleetStatusQuery = defineQuery<FleetStatus>('fleetStatus');

export interface NotificationCounts {
  /** events sent: each to every webhook configured for it (none configured counts as sent) */
  sent: number;
  /** events that some webhook did not take after every attempt */
  undelivered: number;
  /** the last reason, without the webhook's URL */
  lastFailure?: string;
}

/** The fleet's result: every VM's outcome, timings and record. */
export interface FleetReport extends FleetStatus {
  endedAt: string;
  wallMs: number;
  counts: Partial<Record<FleetVmState, number>>;
  /** over the VMs that measured their outage; absent when none did */
  outage?: OutageSummary;
}

export interface OutageSummary {
  vms: number;
  maxMs: number;
  /** of an even count, the mean of the two middle ones */
  medianMs: number;
}

export function outageSummary(vms: readonly FleetVm[]): OutageSummary | undefined {
  const measured = vms.flatMap((vm) => (vm.outageMs === undefined ? [] : [vm.outageMs])).sort((a, b) => a - b);
  if (measured.length === 0) return undefined;
  const middle = measured.length >> 1;
  return {
    vms: measured.length,
    maxMs: measured[measured.length - 1],
    medianMs: measured.length % 2 ? measured[middle] : Math.round((measured[middle - 1] + measured[middle]) / 2),
  };
}

export const fleetWorkflowId = (name: string) => `migrate-fleet-${name}`;
