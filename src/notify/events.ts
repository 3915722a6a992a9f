import type { ActivityOptions } from '@temporalio/common';
import { z } from 'zod';
import { nodeName } from '../inventory';
import { oneLine } from '../schema';

/**
 * What the operators are told, and by which workflow: each event built here from what the workflow knows (pure, no
 * I/O: the workflows import it), and sent by the `notify` activity to the webhooks the worker is configured with
 * (src/notify/config.ts). An event carries no secret: it is in the history as the activity's input.
 */

export const notifyEventKinds = [
  'awaiting-approval',
  'approval-reminder',
  'gate-closed',
  'gate-opened',
  'rollback-started',
  'rollback-ended',
  'run-failed',
  'fleet-finished',
] as const;
export type NotifyEventKind = (typeof notifyEventKinds)[number];

const line = z.string().max(2000);
const vmRef = {
  vmid: z.number().int(),
  name: z.string().max(200).optional(),
  /** the VM's node, as the inventory names it (absent from events recorded before fleets named nodes) */
  node: nodeName.optional(),
  workflowId: z.string().max(1000),
};

export const NotifyEventSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('awaiting-approval'),
    ...vmRef,
    fleetId: z.string().max(1000).optional(),
    /** the acceptance evidence in short */
    evidence: line,
    /** the command that approves it */
    approve: line,
  }),
  z.strictObject({
    kind: z.literal('approval-reminder'),
    ...vmRef,
    reminders: z.number().int().min(1),
    waitingMs: z.number().int().min(0),
    approve: line,
  }),
  z.strictObject({
    kind: z.enum(['gate-closed', 'gate-opened']),
    fleetId: z.string().max(1000),
    by: z.string().max(256),
    reason: line,
  }),
  z.strictObject({ kind: z.literal('rollback-started'), ...vmRef, why: line }),
  z.strictObject({
    kind: z.literal('rollback-ended'),
    ...vmRef,
    /** `done`: the VM is back as it was; `incomplete`: a step failed, the VM needs a human */
    ended: z.enum(['done', 'incomplete']),
    detail: line,
  }),
  z.strictObject({ kind: z.literal('run-failed'), ...vmRef, error: line }),
  z.strictObject({
    kind: z.literal('fleet-finished'),
    fleetId: z.string().max(1000),
    counts: z.record(z.string().max(50), z.number().int()),
    wallMs: z.number().min(0),
    outage: z.strictObject({ vms: z.number().int(), medianMs: z.number(), maxMs: z.number() }).optional(),
    stoppedStarting: line.optional(),
  }),
]);
export type NotifyEvent = z.output<typeof NotifyEventSchema>;

/** What an event says, once for every format: a title and its lines (plain text; each format dresses them). */
export interface NotifyMessage {
  title: string;
  lines: string[];
}

const cut = (s: string) => oneLine(s, 500);
const vmName = (e: { vmid: number; name?: string; node?: string }) =>
  `VM ${e.vmid}${e.name ? ` (${e.name})` : ''}${e.node ? ` on node ${e.node}` : ''}`;
const seconds = (ms: number) => (ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`);
const duration = (ms: number) => {
  const minutes = Math.round(ms / 60_000);
  return minutes < 1
    ? seconds(ms)
    : minutes < 120
      ? `${minutes} min`
      : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
};

export function messageOf(event: NotifyEvent): NotifyMessage {
  switch (event.kind) {
    case 'awaiting-approval':
      return {
        title: `${vmName(event)} awaits approval`,
        lines: [
          `Evidence: ${cut(event.evidence)}`,
          `Approve: ${event.approve}`,
          `Run: ${event.workflowId}${event.fleetId ? ` (fleet ${event.fleetId})` : ''}`,
        ],
      };
    case 'approval-reminder':
      return {
        title: `${vmName(event)} still awaits approval (reminder ${event.reminders})`,
        lines: [`Waiting for ${duration(event.waitingMs)}`, `Approve: ${event.approve}`, `Run: ${event.workflowId}`],
      };
    case 'gate-closed':
    case 'gate-opened':
      return {
        title: `Fleet ${event.fleetId}: Docker-removal gate ${event.kind === 'gate-closed' ? 'closed' : 'opened'}`,
        lines: [`By: ${event.by}`, `Why: ${cut(event.reason)}`],
      };
    case 'rollback-started':
      return {
        title: `${vmName(event)} is rolling back`,
        lines: [`Why: ${cut(event.why)}`, `Run: ${event.workflowId}`],
      };
    case 'rollback-ended':
      return {
        title: `${vmName(event)} ${event.ended === 'done' ? 'rolled back' : 'rollback INCOMPLETE: needs a human'}`,
        lines: [cut(event.detail), `Run: ${event.workflowId}`],
      };
    case 'run-failed':
      return { title: `${vmName(event)}: migration failed`, lines: [cut(event.error), `Run: ${event.workflowId}`] };
    case 'fleet-finished': {
      const counts = Object.entries(event.counts)
        .map(([state, n]) => `${n} ${state}`)
        .join(', ');
      return {
        title: `Fleet ${event.fleetId} finished`,
        lines: [
          `VMs: ${counts || 'none'}`,
          `Took: ${duration(event.wallMs)}`,
          event.outage
            ? `Outage: median ${seconds(event.outage.medianMs)}, max ${seconds(event.outage.maxMs)} (${event.outage.vms} VMs)`
            : 'Outage: none measured',
          ...(event.stoppedStarting ? [`Stopped starting VMs: ${cut(event.stoppedStarting)}`] : []),
        ],
      };
    }
  }
}

/** The command that approves one VM, as the CLI takes it. */
export const approveCommand = (vmid: number) => `npm run starter -- approve ${vmid} --reason '…'`;

/** The acceptance evidence in short: how many checks passed, and what the bots' listings differ in. */
export function acceptanceEvidence(
  acceptance: { checks: Record<string, string>; bots?: { differences: string[] } } | undefined,
  outageMs: number | undefined,
): string {
  const checks = acceptance ? Object.keys(acceptance.checks) : [];
  const differences = acceptance?.bots?.differences ?? [];
  return [
    checks.length
      ? `${checks.length} acceptance checks passed (${checks.slice(0, 8).join(', ')})`
      : 'acceptance passed',
    ...(differences.length ? [`bots differ in: ${differences.slice(0, 3).join('; ')}`] : []),
    ...(outageMs !== undefined ? [`outage ${seconds(outageMs)}`] : []),
  ].join('; ');
}

/**
 * How a workflow calls `notify`: a webhook's request is bounded by its timeoutMs (at most 30 s), all of an event's at
 * once; 4 attempts, 1 s, 2 s, 4 s apart. An event is settled (delivered or given up) within about 4 min at worst.
 */
export const notifyActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 4 },
} satisfies ActivityOptions;
