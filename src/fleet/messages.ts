import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { FleetGate, MigrationPhase } from '../migration/messages';

export type { FleetGate };

/**
 * Signals, queries and updates of migrateFleet, defined once for the workflow, its children, the CLI and tests.
 * The gate is set with the same `fleetGate` signal a migrateVm run takes (see ../migration/messages).
 */

/** A child's progress, signalled to its fleet on every phase change. */
export interface VmProgress {
  vmid: number;
  phase: MigrationPhase;
  waitingFor?: string;
  problem?: string;
}
export const vmProgressSignal = defineSignal<[VmProgress]>('vmProgress');

export interface GateChange {
  open: boolean;
  by: string;
  reason: string;
}
/** Opens or closes the gate and answers with the gate and the VMs waiting at it. */
export const setFleetGateUpdate = defineUpdate<{ gate: FleetGate; waitingAtGate: number[] }, [GateChange]>(
  'setFleetGate',
);

export type FleetVmState =
  'queued' | 'running' | 'completed' | 'rejected' | 'planned' | 'rolled-back' | 'failed' | 'skipped';

export interface FleetVm {
  vmid: number;
  name?: string;
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
}

export interface FleetStatus {
  fleetId: string;
  concurrency: number;
  canary: number;
  failureBudget: number;
  gate: FleetGate;
  inFlight: number;
  failures: number;
  /** why no further VM starts, once none does */
  stoppedStarting?: string;
  /** continue-as-new count: this run is the (runs + 1)th */
  runs: number;
  startedAt: string;
  vms: FleetVm[];
}
export const fleetStatusQuery = defineQuery<FleetStatus>('fleetStatus');

/** The fleet's result: every VM's outcome, timings and record. */
export interface FleetReport extends FleetStatus {
  endedAt: string;
  wallMs: number;
  counts: Partial<Record<FleetVmState, number>>;
}

export const fleetWorkflowId = (name: string) => `migrate-fleet-${name}`;
