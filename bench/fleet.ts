import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FleetReport } from '../src/fleet/messages';
import type { MigrateFleetInput } from '../src/fleet/input';
import { approveAsTheyArrive, standInInventory } from '../test/support/fleet';
import { standInActivities } from '../test/support/stand-in-activities';
import { runWorker, startDevServer } from '../test/support/temporal';
import type { migrateFleet } from '../src/workflows';

/** Prints figures, asserts nothing: a fleet's wall time next to the ideal (the sum of per-VM times / concurrency). */

/** The tests' dev server, with the Temporal CLI that setup built (the jest global setup finds it the same way). */
export function devServer(): Promise<TestWorkflowEnvironment> {
  process.env.TEMPORAL_CLI ??= execFileSync(resolve(__dirname, '../scripts/temporal-cli.sh'), {
    encoding: 'utf8',
  }).trim();
  return startDevServer();
}

export async function runFleet(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  input: MigrateFleetInput,
  approving: Parameters<typeof approveAsTheyArrive>[2] = {},
): Promise<{ report: FleetReport; wallMs: number; handle: WorkflowHandle<typeof migrateFleet> }> {
  const started = Date.now();
  const handle = await env.client.workflow.start<typeof migrateFleet>('migrateFleet', {
    taskQueue,
    workflowId: `migrate-fleet-bench-${randomUUID()}`,
    args: [input],
  });
  const stopApproving = approveAsTheyArrive(env.client, handle, approving);
  try {
    const report = await handle.result();
    return { report, wallMs: Date.now() - started, handle };
  } finally {
    await stopApproving();
  }
}

function wallVersusIdeal(label: string, report: FleetReport, wallMs: number, concurrency: number): void {
  const perVm = report.vms.map((vm) => vm.durationMs ?? 0);
  const sum = perVm.reduce((a, b) => a + b, 0);
  const ideal = sum / concurrency;
  const sorted = [...perVm].sort((a, b) => a - b);
  console.log(
    `${label}: ${report.vms.length} VMs, concurrency ${concurrency}, canary ${report.canary}: ` +
      `wall ${(wallMs / 1000).toFixed(1)} s, ideal ${(ideal / 1000).toFixed(1)} s ` +
      `(sum of per-VM times ${(sum / 1000).toFixed(1)} s / ${concurrency}), wall/ideal ${(wallMs / ideal).toFixed(2)}; ` +
      `per VM median ${(sorted[Math.floor(sorted.length / 2)] / 1000).toFixed(1)} s, max ${(sorted[sorted.length - 1] / 1000).toFixed(1)} s; ` +
      `outcomes ${JSON.stringify(report.counts)}`,
  );
}

/**
 * A large fleet's orchestration: the real server, workflows (fleet, migrateVm, the lock) and worker, with each
 * phase's activity replaced by a stand-in that waits `phaseMs` and answers like the phase. No lab can host 500
 * guests (each gateway holds ~830 MB); this measures what the fleet itself costs and whether its history and the
 * worker's memory stay bounded.
 */
export async function benchLargeFleet(vms: number, concurrency: number, phaseMs: number): Promise<void> {
  const env = await devServer();
  const { taskQueue, stop } = await runWorker(env, standInActivities({ phaseMs }));
  const rss: number[] = [];
  const sampler = setInterval(() => rss.push(process.memoryUsage().rss), 1000);
  try {
    const inventory = standInInventory(vms);
    const { report, wallMs, handle } = await runFleet(env, taskQueue, { inventory, concurrency, canary: 1 });
    wallVersusIdeal(`fleet of ${vms} (stand-in phases of ${phaseMs} ms)`, report, wallMs, concurrency);
    const runs: number[] = [];
    for await (const run of env.client.workflow.list({ query: `WorkflowId = "${handle.workflowId}"` }))
      runs.push((await env.client.workflow.getHandle(run.workflowId, run.runId).describe()).historyLength);
    const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
    const tenth = rss[Math.floor(rss.length / 10)] ?? rss[0];
    console.log(
      `  fleet history: ${runs.length} runs (continue-as-new every 100 children), ` +
        `longest ${Math.max(...runs)} events, shortest ${Math.min(...runs)}; ` +
        `process RSS (worker + client): at 10% ${mb(tenth)}, peak ${mb(Math.max(...rss))}, end ${mb(rss[rss.length - 1])}`,
    );
  } finally {
    clearInterval(sampler);
    await stop();
    await env.teardown();
  }
}
