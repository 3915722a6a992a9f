import { hostname } from 'node:os';
import { Context } from '@temporalio/activity';

export interface WorkerInfo {
  hostname: string;
  pid: number;
  taskQueue: string;
  nodeVersion: string;
}

/** Reports which worker process ran it: proves a worker polls the task queue and can do I/O. */
export async function describeWorker(): Promise<WorkerInfo> {
  return {
    hostname: hostname(),
    pid: process.pid,
    taskQueue: Context.current().info.taskQueue,
    nodeVersion: process.version,
  };
}
