import type { Client, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { fleetStatusQuery, type FleetReport } from '../../src/fleet/messages';
import { InventorySchema, type Inventory } from '../../src/inventory';
import { approveSignal } from '../../src/migration/messages';
import type { migrateFleet } from '../../src/workflows';

/** A fleet of `count` VMs (vmid 1000, 1001, …) behind a node no one connects to: for stand-in activities. */
export function standInInventory(count: number): Inventory {
  return InventorySchema.parse({
    node: { host: '127.0.0.1', port: 22, user: 'root', hostKeySha256: `SHA256:${'A'.repeat(43)}` },
    panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4', baseUrl: 'http://127.0.0.1' },
    vms: Array.from({ length: count }, (_, i) => ({ vmid: 1000 + i, ip: `10.20.${i >> 8}.${i & 255}` })),
  });
}

/**
 * Approves every VM that awaits approval, as an operator with `approve --fleet` in a loop would: as the fleet's
 * status shows them, or (`fromVisibility`, for benchmarks: no query of the fleet's own, which a busy fleet answers
 * late) as the server's workflow list shows them, by their search attributes.
 */
export function approveAsTheyArrive(
  client: Client,
  handle: WorkflowHandle<typeof migrateFleet>,
  { fromVisibility = false } = {},
): () => Promise<void> {
  let stopped = false;
  const approved = new Set<string>();
  const awaiting = async (): Promise<string[]> => {
    if (fromVisibility) {
      const ids: string[] = [];
      const query = `FleetId = "${handle.workflowId}" AND MigrationPhase = "awaiting-approval" AND ExecutionStatus = "Running"`;
      for await (const run of client.workflow.list({ query })) ids.push(run.workflowId);
      return ids;
    }
    const status = await handle.query(fleetStatusQuery).catch(() => undefined);
    return (status?.vms ?? [])
      .filter((vm) => vm.state === 'running' && vm.phase === 'awaiting-approval')
      .map((vm) => vm.workflowId!);
  };
  const loop = (async () => {
    while (!stopped) {
      for (const workflowId of await awaiting().catch(() => [])) {
        if (approved.has(workflowId)) continue;
        approved.add(workflowId);
        await client.workflow
          .getHandle(workflowId)
          .signal(approveSignal, { by: 'bench', reason: 'benchmark' })
          .catch(() => approved.delete(workflowId));
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const eventMs = (e: HistoryEvent) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);

/** Each VM's run, from its history: when it started, when it scheduled C (stopDocker), when it closed. */
export interface RunSpan {
  vmid: number;
  startMs: number;
  cutoverMs?: number;
  endMs: number;
}
export async function runSpans(client: Client, report: Pick<FleetReport, 'vms'>): Promise<RunSpan[]> {
  const spans: RunSpan[] = [];
  for (const vm of report.vms.filter((v) => v.workflowId && v.state !== 'queued')) {
    const events = (await client.workflow.getHandle(vm.workflowId!).fetchHistory()).events ?? [];
    const c = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'stopDocker');
    spans.push({
      vmid: vm.vmid,
      startMs: eventMs(events[0]),
      ...(c && { cutoverMs: eventMs(c) }),
      endMs: eventMs(events[events.length - 1]),
    });
  }
  return spans;
}

/** The most intervals open at one moment (an interval ending as another starts does not overlap it). */
export function mostAtOnce(intervals: [number, number][]): number {
  const edges = intervals.flatMap(([from, to]): [number, number][] => [
    [from, 1],
    [to, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (open += step));
  return most;
}
/** VMs between C and their end at once, and VMs in flight (start to end) at once. */
export const inCutoverAtOnce = (spans: RunSpan[]) =>
  mostAtOnce(spans.filter((s) => s.cutoverMs !== undefined).map((s) => [s.cutoverMs!, s.endMs]));
export const inFlightAtOnce = (spans: RunSpan[]) => mostAtOnce(spans.map((s) => [s.startMs, s.endMs]));
