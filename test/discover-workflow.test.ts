import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import * as activities from '../src/activities';
import type { DiscoveredVm } from '../src/discover/facts';
import { discover } from '../src/workflows';
import { runWorker, startDevServer } from './support/temporal';

/**
 * The discover workflow on the dev server with stand-in node activities: nodes read a bounded number at a time, a
 * node that cannot be read reported with why while the others are read, tags written only when asked.
 */
describe('the discover workflow', () => {
  let env: TestWorkflowEnvironment;
  let worker: Awaited<ReturnType<typeof runWorker>>;
  let inFlight = 0;
  let mostInFlight = 0;
  const tagged: number[] = [];
  const node = (c: string) => ({
    host: `${c}.example.net`,
    port: 22,
    user: 'root',
    hostKeySha256: `SHA256:${c.repeat(43)}`,
  });
  const vm = (vmid: number, name: string): DiscoveredVm => ({
    vmid,
    node: name,
    status: 'running',
    state: 'docker-era',
    why: 'container openclaw-gateway running',
    tags: [],
    nat: [],
  });

  beforeAll(async () => {
    env = await startDevServer();
    worker = await runWorker(env, {
      ...activities,
      async discoverNode({ name }) {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        // long enough for the workflow to start every node it is allowed to at once
        await new Promise((resolve) => setTimeout(resolve, 200));
        inFlight--;
        if (name === 'pve2')
          throw ApplicationFailure.create({
            type: 'HostKeyMismatch',
            message: 'pve2 presented another key',
            nonRetryable: true,
          });
        return [vm(name === 'pve1' ? 105 : 305, name)];
      },
      async tagDiscoveredVms({ vms }) {
        tagged.push(...vms.map((v) => v.vmid));
        return vms.length;
      },
    });
  }, 120_000);
  afterAll(async () => {
    await worker?.stop();
    await env?.teardown();
  });

  const run = (input: unknown) =>
    env.client.workflow.execute(discover, {
      taskQueue: worker.taskQueue,
      workflowId: `discover-test-${Date.now()}-${Math.random()}`,
      args: [input as never],
    });

  it('reads every node, at most nodesAtOnce at a time, and reports the one it could not read', async () => {
    const report = await run({ nodes: { pve1: node('A'), pve2: node('Q'), pve3: node('g') }, nodesAtOnce: 2 });
    expect(report.nodes.map((n) => [n.name, n.error, n.vms.map((v) => v.vmid)])).toEqual([
      ['pve1', undefined, [105]],
      ['pve2', 'pve2 presented another key', []],
      ['pve3', undefined, [305]],
    ]);
    expect(mostInFlight).toBe(2);
    expect(tagged).toEqual([]);
  });

  it('writes the tags of the nodes it read only when asked', async () => {
    await run({ nodes: { pve1: node('A'), pve2: node('Q') }, tag: true });
    expect(tagged).toEqual([105]);
  });

  it('refuses an input without nodes, naming the field', async () => {
    const failed = await run({ nodes: {} }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect(((failed as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/nodes: at least one node/);
  });
});
