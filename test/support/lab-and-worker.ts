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
 * A dev server, then a lab. In that order: real guests booting (each loads its images and starts a gateway) starve
 * a dev server starting beside them past its client's connect deadline. When the lab fails to start, the server
 * is stopped again.
 */
export async function startServerAndLab(options: LabOptions): Promise<{ env: TestWorkflowEnvironment; lab: Lab }> {
  const env = await startDevServer();
  try {
    return { env, lab: await startLab(options) };
  } catch (err) {
    await env.teardown();
    throw err;
  }
}

/**
 * A dev server, a lab and the project's worker. When one of them fails to start, what did start is stopped again:
 * a lab left behind holds its guests' memory until someone kills them by hand.
 */
export async function startLabAndWorker(options: LabOptions): Promise<LabAndWorker> {
  const { env, lab } = await startServerAndLab(options);
  try {
    const inventory = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
    const worker = await runWorker(env);
    const stop = async () => {
      await worker.stop();
      await env.teardown();
      await stopLab(lab);
    };
    return { env, lab, inventory, taskQueue: worker.taskQueue, stop };
  } catch (err) {
    await env.teardown();
    await stopLab(lab);
    throw err;
  }
}
