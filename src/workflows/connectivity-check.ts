import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import type * as activities from '../activities';
import { parseInput } from '../migration/input';

const { describeWorker } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface ConnectivityReport {
  workflowId: string;
  worker: activities.WorkerInfo;
}

/** The smallest round trip through server, worker and activity: the operator's `check` command runs it. */
export async function connectivityCheck(...input: unknown[]): Promise<ConnectivityReport> {
  parseInput(z.tuple([]), input, 'connectivityCheck input (it takes none)');
  return { workflowId: workflowInfo().workflowId, worker: await describeWorker() };
}
