import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stringify } from 'yaml';
import { guestExec } from '../lab/lab';
import { readInventoryFile } from '../src/inventory-file';
import { execResult } from './support/exec';
import { stopLab, type Lab } from './support/lab';
import { startServerAndLab } from './support/lab-and-worker';
import { runWorker } from './support/temporal';

/** The operator's CLI against the dev server, a worker and two lab guests: one alone, one as a fleet. */
describe('openclaw-migrate CLI', () => {
  // A whole migration with a gateway start inside one test: generous, not a speed check.
  jest.setTimeout(300_000);
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  let taskQueue: string;
  let stopWorker: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ env, lab } = await startServerAndLab({ guests: 2 }));
    ({ taskQueue, stop: stopWorker } = await runWorker(env));
  }, 900_000);
  afterAll(async () => {
    await stopWorker?.();
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

  it('says what is wrong with a bad command line, and starts nothing (exit 2)', async () => {
    const missing = await cli('migrate', 'vm', 'abc');
    expect(missing.code).toBe(2);
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
    // every step, however short, in the order the run took them
    expect(started.stdout).toMatch(
      /vm 105: scan\n.*vm 105: backup\n.*vm 105: stop-docker\n[\s\S]*vm 105: awaiting-approval\nvm 105 awaits approval/,
    );

    // the node the run's inventory names, from its NodeName search attribute
    expect((await cli('status')).stdout).toMatch(/^migrate-vm-105\s+RUNNING\s+awaiting-approval\s+\S+$/m);
    expect((await cli('status', '105')).stdout).toMatch(
      /^ {2}outage: \d+\.\d s by the guest's clock \(Docker stopped \d{4}-\S+Z, the direct gateway and panel answered \d{4}-\S+Z\)$/m,
    );
    const approved = await cli('approve', '105', '--by', 'dana', '--reason', 'panel checked');
    expect(approved.stdout).toBe('vm 105: approved by dana\n');
    const again = await cli('approve', '105');
    expect(again.stdout).toMatch(/not taken/);
    expect(again.code).toBe(3);

    let record = await cli('record', '105');
    for (let i = 0; i < 60 && record.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      record = await cli('record', '105');
    }
    expect(record.stdout).toMatch(/^# \d{4}-\d\d-\d\d_105_去Docker直装迁移记录/);
    expect(record.stdout).toMatch(/\*\*approved\*\* by dana/);
  });

  it('migrates a fleet from a YAML inventory: progress, the gate, a fleet approval, a watched status', async () => {
    const whole = readInventoryFile(lab.inventoryPath);
    const inventoryPath = join(mkdtempSync(join(tmpdir(), 'cli-fleet-')), 'fleet.yaml');
    writeFileSync(inventoryPath, stringify({ ...whole, vms: whole.vms.filter((vm) => vm.vmid === 106) }));
    const fleet = (...args: string[]) => cli(...args, '--fleet', 'cli', '--inventory', inventoryPath);

    const tooMany = await fleet('migrate', 'fleet', '--concurrency', '4');
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(/concurrency: 4 is above the SOP's limit of 3/);

    const plan = await fleet('plan');
    expect(plan.stdout).toMatch(/^######## vm 106: planned\n\n# scan\n[\s\S]*^# backup\n'qm' 'guest' 'exec' '106'/m);

    const started = await fleet('migrate', 'fleet');
    expect(started.code).toBe(0);
    expect(started.stderr).toMatch(
      /^equivalent: temporal workflow start --type migrateFleet --task-queue \S+ --workflow-id migrate-fleet-cli --input '\{"inventory"/m,
    );
    // the fleet shows each VM's phase as it reads it: a phase shorter than its reads (a backup of a small state) may pass unseen
    expect(started.stdout).toMatch(/vm 106: [a-z-]+ {3}\[0\/1 done, 1 in flight\][\s\S]*vm 106: awaiting-approval/);
    expect(started.stdout).toMatch(/npm run starter -- approve --fleet cli --reason/);

    expect((await fleet('gate', 'close', '--by', 'dana', '--reason', 'maintenance window')).stdout).toBe(
      'gate closed (dana: maintenance window)\n',
    );
    const approved = await fleet('approve', '--by', 'dana', '--reason', 'panel checked');
    expect(approved.stdout).toBe('vm 106: approved by dana\n');
    expect(approved.stderr).toMatch(
      /temporal workflow signal --query 'FleetId="migrate-fleet-cli" AND MigrationPhase="awaiting-approval" AND ExecutionStatus="Running"' --name approve/,
    );

    let status = await fleet('status');
    for (let i = 0; i < 60 && !/awaiting-fleet-gate/.test(status.stdout); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      status = await fleet('status');
    }
    expect(status.stdout).toMatch(/^gate: CLOSED: maintenance window \(dana, /m);
    expect(status.stdout).toMatch(
      /^106 +vm-lab-0002 +127\.0\.0\.1 +running +awaiting-fleet-gate .*waits for the fleet gate to open \(maintenance window\)$/m,
    );
    expect(guestExec(lab, 106, ['docker', 'ps', '-a', '--format', '{{.Names}}']).stdout).toMatch(/openclaw-gateway/);

    expect((await fleet('gate', 'open', '--by', 'dana', '--reason', 'window over')).stdout).toBe(
      'gate open (dana: window over); released: vm 106\n',
    );
    const watched = await fleet('status', '--watch');
    expect(watched.stdout).toMatch(
      /^106 +vm-lab-0002 +127\.0\.0\.1 +completed +\d+ s +\d+\.\d s +\/root\/\S+_106_去Docker直装迁移记录\.md$/m,
    );
    expect(watched.stdout).toMatch(
      /^outage \(.*by each guest's clock\): max \d+\.\d s, median \d+\.\d s over 1 VM\(s\)$/m,
    );
    expect(guestExec(lab, 106, ['docker', 'ps', '-a', '--format', '{{.Names}}']).stdout).toBe('');

    // Run again: the VM is migrated already, and the fleet does not touch it.
    const again = await fleet('migrate', 'fleet', '--json');
    expect(JSON.parse(again.stdout).vms).toEqual([
      expect.objectContaining({ vmid: 106, state: 'skipped', error: expect.stringMatching(/not started again/) }),
    ]);
  });
});
