import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { oneLine, personName, strictObject, text } from '../schema';
import { operatorName } from '../identity';
import type { Outage, PhaseResults, PlannedCommand } from './contracts';
import type { MigrationPhase, PhaseName } from './phases';

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
