import { resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { guestExec } from '../lab/lab';
import { execResult } from './support/exec';
import { startLab, stopLab, type Lab } from './support/lab';
import { startDevServer, startWorker } from './support/temporal';

/** The operator's CLI against the dev server, a worker and a lab guest. */
describe('openclaw-migrate CLI', () => {
  // A whole migration with a gateway start inside one test: generous, not a speed check.
  jest.setTimeout(300_000);
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  let worker: Worker;
  let running: Promise<void>;
  let taskQueue: string;

  beforeAll(async () => {
    [env, lab] = await Promise.all([startDevServer(), startLab()]);
    ({ worker, taskQueue } = await startWorker(env));
    running = worker.run();
  }, 300_000);
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
    await stopLab(lab);
  });

  // Asynchronous: the worker runs in this process, and a blocking spawn would stall it.
  const cli = (...args: string[]) =>
    execResult(resolve('node_modules/.bin/tsx'), ['src/starter.ts', ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        OPENCLAW_INVENTORY: lab.inventoryPath,
      },
      timeout: 240_000,
    });

  it('says what is wrong with a bad command line, and starts nothing', async () => {
    const missing = await cli('migrate', 'vm', 'abc');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/a vmid is needed, e\.g\. 105 \(got 'abc'\)/);
    expect((await cli('frobnicate')).code).toBe(2);
  });

  it('plans without changing the VM, migrates, takes an approval and prints the record', async () => {
    const plan = await cli('plan', '105');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^# backup\n'qm' 'guest' 'exec' '105' '--synchronous' '0' '--' '\/bin\/bash' '-c'/m);
    expect(plan.stderr).toMatch(/equivalent: temporal workflow start --type migrateVm/);
    expect(
      guestExec(lab, 105, ['/bin/bash', '-c', 'ls -d /root/migrate-backup-* 2>/dev/null | wc -l']).stdout.trim(),
    ).toBe('0');

    const started = await cli('migrate', 'vm', '105', '--wait');
    expect(started.stderr).toMatch(/UI: http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/migrate-vm-105/);
    expect(started.stdout).toMatch(/vm 105: backup\n[\s\S]*vm 105: awaiting-approval\nvm 105 awaits approval/);

    expect((await cli('status')).stdout).toMatch(/^migrate-vm-105\s+RUNNING\s+awaiting-approval$/m);
    const approved = await cli('approve', '105', '--by', 'dana', '--reason', 'panel checked');
    expect(approved.stdout).toBe('vm 105: approved by dana\n');
    expect((await cli('approve', '105')).stdout).toMatch(/not taken/);

    let record = await cli('record', '105');
    for (let i = 0; i < 60 && record.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      record = await cli('record', '105');
    }
    expect(record.stdout).toMatch(/^# \d{4}-\d\d-\d\d_105_去Docker直装迁移记录/);
    expect(record.stdout).toMatch(/\*\*approved\*\* by dana/);
  });
});
