import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';

const { describeWorker } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

export interface ConnectivityReport {
  workflowId: string;
  worker: activities.WorkerInfo;
}

/** The smallest round trip through server, worker and activity: the operator's `check` command runs it. */
export async function connectivityCheck(): Promise<ConnectivityReport> {
  return { workflowId: workflowInfo().workflowId, worker: await describeWorker() };
}
