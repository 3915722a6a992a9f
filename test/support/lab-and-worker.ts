import { readFileSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { LabOptions } from '../../lab/lab';
import { InventorySchema, type Inventory } from '../../src/inventory';
import { startLab, stopLab, type Lab } from './lab';
import { runWorker, startDevServer } from './temporal';

export interface LabAndWorker {
  env: TestWorkflowEnvironment;
  lab: Lab;
  inventory: Inventory;
  taskQueue: string;
  stop: () => Promise<void>;
}

/**
 * A dev server, a lab and the project's worker, started side by side. When one of them fails to start, what did
 * start is stopped again: a lab left behind holds its guests' memory until someone kills them by hand.
 */
export async function startLabAndWorker(options: LabOptions): Promise<LabAndWorker> {
  const [server, started] = await Promise.allSettled([startDevServer(), startLab(options)]);
  const env = server.status === 'fulfilled' ? server.value : undefined;
  const lab = started.status === 'fulfilled' ? started.value : undefined;
  try {
    if (!env || !lab) throw server.status === 'rejected' ? server.reason : (started as PromiseRejectedResult).reason;
    const inventory = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
    const worker = await runWorker(env);
    const stop = async () => {
      await worker.stop();
      await env.teardown();
      await stopLab(lab);
    };
    return { env, lab, inventory, taskQueue: worker.taskQueue, stop };
  } catch (err) {
    await env?.teardown();
    await stopLab(lab);
    throw err;
  }
}
