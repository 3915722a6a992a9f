import { NativeConnection } from '@temporalio/worker';
import { temporalConfig } from '../../src/config';
import { createWorker } from '../../src/worker';
import { standInActivities } from './stand-in-activities';

/**
 * The project's worker with stand-in phases, as a process of its own, for the cluster test: it connects as
 * `npm run worker` does (Temporal's environment configuration: the profile that TEMPORAL_CONFIG_FILE and
 * TEMPORAL_PROFILE name), and each phase takes STAND_IN_PHASE_MS. It says its identity, which the histories'
 * events carry, so that a test can tell which of several workers did what.
 */
async function main(): Promise<void> {
  const phaseMs = Number(process.env.STAND_IN_PHASE_MS ?? 500);
  const config = temporalConfig();
  const connection = await NativeConnection.connect(config.connection);
  try {
    const worker = await createWorker(connection, config, standInActivities({ phaseMs }));
    console.log(`worker polling task queue '${config.taskQueue}' as ${worker.options.identity} (${config.source})`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
