import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import { DefaultLogger, Runtime, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { fleetStatusQuery } from './fleet/messages';
import { MigrationPhaseAttribute } from './search-attributes';

const PHASE_SECONDS = 'openclaw_migrate_phase_duration_seconds';

/**
 * The SDK's runtime with a Prometheus endpoint at `bindAddress` (http://<bindAddress>/metrics): the SDK's own
 * metrics (temporal_*), and the project's (openclaw_migrate_*), which go through the same meter. Must run before
 * anything else of the SDK's (a connection, a worker).
 */
export function installMetricsRuntime(bindAddress: string): void {
  Runtime.install({
    logger: new DefaultLogger('INFO'),
    telemetryOptions: {
      metrics: {
        prometheus: {
          bindAddress,
          // a phase takes seconds (scan) to half an hour (a large backup)
          histogramBucketOverrides: { [PHASE_SECONDS]: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600] },
        },
      },
    },
  });
}

/** Times each activity (a phase of the SOP, a rollback step, the record) by its type and whether it succeeded. */
export const phaseDurations: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const phaseSeconds = ctx.metricMeter.createHistogram(
        PHASE_SECONDS,
        'float',
        's',
        'time one attempt of a phase took, by activityType and outcome',
      );
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        const result = await next(input);
        phaseSeconds.record(seconds(), { outcome: 'ok' });
        return result;
      } catch (err) {
        phaseSeconds.record(seconds(), { outcome: 'failed' });
        throw err;
      }
    },
  },
});

/**
 * The namespace-wide gauges, read from Temporal every `intervalMs`: VMs awaiting approval (by the MigrationPhase
 * search attribute) and fleets whose Docker-removal gate is closed (by each running fleet's status). Every worker
 * that serves metrics reports the same values: aggregate them with max(), not sum(). Errors are logged, never thrown.
 */
export function pollFleetGauges(client: Client, meter: MetricMeter, intervalMs = 15_000): () => Promise<void> {
  const awaiting = meter.createGauge('openclaw_migrate_vms_awaiting_approval', 'int', 'vms', 'VMs awaiting approval');
  const fleets = meter.createGauge('openclaw_migrate_fleets_running', 'int', 'fleets', 'migrateFleet runs in flight');
  const closed = meter.createGauge(
    'openclaw_migrate_fleet_gates_closed',
    'int',
    'fleets',
    'running fleets whose Docker-removal gate is closed',
  );
  const running = 'ExecutionStatus = "Running"';
  const poll = async () => {
    const waiting = await client.workflow.count(`${MigrationPhaseAttribute.name} = "awaiting-approval" AND ${running}`);
    awaiting.set(waiting.count);
    let count = 0;
    let gatesClosed = 0;
    for await (const fleet of client.workflow.list({ query: `WorkflowType = "migrateFleet" AND ${running}` })) {
      count++;
      const status = await client.workflow.getHandle(fleet.workflowId).query(fleetStatusQuery);
      if (!status.gate.open) gatesClosed++;
    }
    fleets.set(count);
    closed.set(gatesClosed);
  };
  let stopped = false;
  let wake = () => {};
  let timer: NodeJS.Timeout | undefined;
  const loop = (async () => {
    while (!stopped) {
      await poll().catch((err: unknown) => console.error(`metrics: cannot read the fleet gauges: ${err}`));
      if (!stopped) await new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, intervalMs))));
    }
  })();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    wake();
    await loop;
  };
}

/**
 * Each attempt to deliver a notification to one webhook, by its name, the event and whether the webhook took it
 * (`delivered`, `failed`): a webhook that fails shows here while migrations go on.
 */
export function notificationCounter(meter: MetricMeter) {
  return meter.createCounter(
    'openclaw_migrate_notifications_total',
    'attempts',
    'notification attempts per webhook, by webhook, event and outcome: delivered, failed',
  );
}
