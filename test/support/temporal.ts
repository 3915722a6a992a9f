import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createWorker } from '../../src/worker';
import { searchAttributes } from '../../src/search-attributes';

/** A real Temporal dev server on free loopback ports, with the project's search attributes. */
export async function startDevServer(options: { dbFilename?: string } = {}): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_CLI;
  if (!path) throw new Error('TEMPORAL_CLI is not set: the jest global setup finds it');
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      ip: '127.0.0.1',
      dbFilename: options.dbFilename,
      searchAttributes,
    },
  });
}

/**
 * The project's worker on a task queue of its own, so tests never pick up each other's tasks. Its workflow code is
 * the bundle of today's sources that the jest global setup built (OPENCLAW_WORKFLOW_BUNDLE, src/workflow-code.ts):
 * loaded in about a second, where bundling at every start took 3–5 CPU seconds and 200 MB more.
 */
export async function startWorker(
  env: TestWorkflowEnvironment,
  phases?: Parameters<typeof createWorker>[2],
): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = `test-${randomUUID()}`;
  const worker = await createWorker(env.nativeConnection, { namespace: 'default', taskQueue }, phases);
  return { worker, taskQueue };
}

/** The project's worker, running until stop(): for a test file's beforeAll and afterAll, or a benchmark. */
export async function runWorker(
  env: TestWorkflowEnvironment,
  phases?: Parameters<typeof createWorker>[2],
): Promise<{ taskQueue: string; stop: () => Promise<void> }> {
  const { worker, taskQueue } = await startWorker(env, phases);
  const running = worker.run();
  return {
    taskQueue,
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}
