import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from './activities';
import { temporalConfig, type TemporalConfig } from './config';
import { closeAllConnections } from './remote';

/**
 * The workflow code every worker runs, and that the replay test (test/replay.test.ts) replays recorded histories
 * against: whatever a deployed worker runs must replay the histories of runs started before it.
 */
export const workflowOptions = {
  workflowsPath: require.resolve('./workflows'),
};

/**
 * A worker for every workflow and activity of the project, on one task queue. `phases` replaces the activities
 * (the benchmark's and the fleet-rules test's stand-ins); the workflows are always the project's.
 */
export async function createWorker(
  connection: NativeConnection,
  config: Pick<TemporalConfig, 'namespace' | 'taskQueue'>,
  phases: typeof activities = activities,
): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    ...workflowOptions,
    activities: phases,
    // Guest commands heartbeat their pid: on shutdown an attempt stops waiting, and its retry on the next worker
    // finds the command still running and waits for it.
    shutdownGraceTime: '5 seconds',
  });
}

async function main(): Promise<void> {
  const config = temporalConfig();
  const connection = await NativeConnection.connect(config.connection);
  try {
    const worker = await createWorker(connection, config);
    console.log(
      `worker polling task queue '${config.taskQueue}' on ${config.address} (namespace ${config.namespace}, ${config.source})`,
    );
    // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: running activities are given
    // their shutdown grace time, then run() resolves.
    await worker.run();
    console.log('worker stopped');
  } finally {
    await closeAllConnections();
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
