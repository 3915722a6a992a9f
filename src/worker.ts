import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import * as activities from './activities';
import { phases } from './migration/phases';
import { temporalConfig, webhookConfig, type TemporalConfig } from './config';
import { installMetricsRuntime, phaseDurations, pollFleetGauges } from './metrics';
import { sshPool } from './remote';
import { workflowCode } from './workflow-code';

/**
 * A worker for every workflow and activity of the project, on one task queue. `implementations` replaces the
 * activities (the benchmark's and the fleet-rules test's stand-ins); the workflows are always the project's: the
 * pre-built bundle under NODE_ENV=production, bundled from src/workflows at start otherwise (src/workflow-code.ts).
 */
export async function createWorker(
  connection: NativeConnection,
  config: Pick<TemporalConfig, 'namespace' | 'taskQueue'>,
  implementations: typeof activities = activities,
): Promise<Worker> {
  const code = workflowCode();
  return Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    ...code,
    interceptors: { ...code.interceptors, activity: [phaseDurations] },
    activities: answeringRecordedNames(implementations),
    // Guest commands heartbeat their pid: on shutdown an attempt stops waiting, and its retry on the next worker
    // finds the command still running and waits for it.
    shutdownGraceTime: '5 seconds',
  });
}

/**
 * The activities, each phase's also under the name it had in histories recorded before it was named as its phase (a
 * row's `recordedAs`): an attempt a worker scheduled before an upgrade runs on the worker after it.
 */
function answeringRecordedNames(implementations: typeof activities): typeof activities {
  const recorded = phases.flatMap((phase) =>
    'recordedAs' in phase ? [[phase.recordedAs, implementations[phase.activity]] as const] : [],
  );
  return { ...implementations, ...Object.fromEntries(recorded) };
}

/**
 * The worker as `npm run worker` and the systemd unit run it: connected by Temporal's environment configuration,
 * serving metrics when OPENCLAW_METRICS_ADDRESS is set, until SIGINT/SIGTERM (the SDK's runtime turns them into a
 * graceful shutdown: running activities are given their shutdown grace time, then run() resolves).
 */
export async function serveWorker(
  implementations: typeof activities = activities,
  config = temporalConfig(),
): Promise<void> {
  // bad webhook settings refuse the start, not each notification later
  const webhooks = webhookConfig();
  if (config.metricsAddress) installMetricsRuntime(config.metricsAddress);
  const connection = await NativeConnection.connect(config.connection);
  let stopGauges = async () => {};
  try {
    const worker = await createWorker(connection, config, implementations);
    if (config.metricsAddress) {
      const client = new Client({ connection, namespace: config.namespace });
      stopGauges = pollFleetGauges(client, Runtime.instance().metricMeter);
    }
    console.log(
      `worker polling task queue '${config.taskQueue}' on ${config.address} (namespace ${config.namespace}, ${config.source})` +
        (config.metricsAddress ? `, metrics at http://${config.metricsAddress}/metrics` : '') +
        (webhooks.length ? `, notifying ${webhooks.map((hook) => `${hook.name} (${hook.format})`).join(', ')}` : ''),
    );
    await worker.run();
    console.log('worker stopped');
  } finally {
    await stopGauges();
    await sshPool.close();
    await connection.close();
  }
}

if (require.main === module) {
  serveWorker().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
