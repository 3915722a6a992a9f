import { hostname, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectivityCheck } from '../src/workflows';
import { startDevServer, startWorker } from './support/temporal';

describe('connectivityCheck on the real dev server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startDevServer();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('runs the workflow and its activity in a worker and returns the worker it ran on', async () => {
    const { worker, taskQueue } = await startWorker(env);
    const report = await worker.runUntil(
      env.client.workflow.execute(connectivityCheck, { taskQueue, workflowId: 'connectivity-check-test' }),
    );
    expect(report).toEqual({
      workflowId: 'connectivity-check-test',
      worker: { hostname: hostname(), pid: process.pid, taskQueue, nodeVersion: process.version },
    });
    const history = await env.client.workflow.getHandle('connectivity-check-test').fetchHistory();
    const eventTypes = history.events?.map((event) => event.eventType) ?? [];
    expect(eventTypes).toContain(10 /* ACTIVITY_TASK_SCHEDULED */);
  });
});

describe('the dev server database', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'openclaw-migrate-db-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('keeps workflow histories across a server restart on the same database file', async () => {
    const dbFilename = join(stateDir, 'temporal.db');
    const first = await startDevServer({ dbFilename });
    try {
      const { worker, taskQueue } = await startWorker(first);
      await worker.runUntil(
        first.client.workflow.execute(connectivityCheck, { taskQueue, workflowId: 'survives-restart' }),
      );
    } finally {
      await first.teardown();
    }

    const second = await startDevServer({ dbFilename });
    try {
      const handle = second.client.workflow.getHandle('survives-restart');
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      expect((await handle.result()).workflowId).toBe('survives-restart');
    } finally {
      await second.teardown();
    }
  });
});
