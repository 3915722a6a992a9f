import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetStatusQuery, setFleetGateUpdate } from '../src/fleet/messages';
import { approveUpdate, migrationId } from '../src/migration/messages';
import { migrateFleet } from '../src/workflows';
import { standInInventory } from './support/fleet';
import { httpGet } from './support/net';
import { startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

const ROOT = resolve(__dirname, '..');
const FAILS_ACCEPTANCE = 3100;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** The value of one sample of the scrape, e.g. `openclaw_migrate_migrations_total{outcome="completed"}`. */
function sample(scrape: string, name: string, label?: string): number | undefined {
  const line = scrape
    .split('\n')
    .find((l) => l.startsWith(name) && /^[\w]+(\{|\s)/.test(l.slice(name.length - 1)) && (!label || l.includes(label)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * The worker process as the service runs it, serving Prometheus metrics, scraped over HTTP during fleets of
 * stand-in phases on a dev server: the SDK's metrics and the project's (migrations by outcome, phase durations,
 * VMs awaiting approval, closed fleet gates).
 */
describe('worker metrics', () => {
  jest.setTimeout(300_000);
  let env: TestWorkflowEnvironment;
  let worker: ChildProcess | undefined;
  let output = '';
  let metricsPort: number;
  const taskQueue = `metrics-${randomUUID()}`;

  beforeAll(async () => {
    env = await startDevServer();
    metricsPort = await freePort();
    worker = spawn(resolve(ROOT, 'node_modules/.bin/tsx'), ['test/support/stand-in-worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        OPENCLAW_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
        STAND_IN_PHASE_MS: '50',
        STAND_IN_FAIL_ACCEPTANCE: String(FAILS_ACCEPTANCE),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor('the worker polling', () => output.includes('worker polling task queue'), 120_000);
  }, 240_000);
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await env?.teardown();
  });

  const scrape = async () => {
    const answer = await httpGet(metricsPort, '/metrics');
    expect(answer.status).toBe(200);
    return answer.body;
  };
  const fleet = (vmid: number) => {
    const inventory = standInInventory(1);
    inventory.vms[0].vmid = vmid;
    return env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `metrics-fleet-${vmid}`,
      args: [{ inventory }],
    });
  };

  it('shows a VM awaiting approval and a closed fleet gate while they last', async () => {
    const handle = await fleet(3000);
    await waitFor(
      'vm 3000 awaiting approval',
      async () => (await handle.query(fleetStatusQuery)).vms[0].phase === 'awaiting-approval',
      60_000,
    );
    await handle.executeUpdate(setFleetGateUpdate, { args: [{ open: false, by: 'test', reason: 'maintenance' }] });
    const during = await waitFor(
      'the gauges to show the wait and the closed gate',
      async () => {
        const body = await scrape();
        return (
          sample(body, 'openclaw_migrate_vms_awaiting_approval') === 1 &&
          sample(body, 'openclaw_migrate_fleet_gates_closed') === 1 &&
          body
        );
      },
      90_000,
    );
    expect(sample(during, 'openclaw_migrate_fleets_running')).toBe(1);
    // the SDK's own, from the same endpoint
    expect(during).toMatch(/^temporal_worker_task_slots_available\{/m);
    expect(during).toMatch(/^temporal_activity_execution_latency_bucket\{.*activity_type="scan"/m);
    // the project's phase durations: every phase up to acceptance has run once
    expect(sample(during, 'openclaw_migrate_phase_duration_seconds_count', 'activityType="acceptance"')).toBe(1);

    await env.client.workflow
      .getHandle(migrationId(3000))
      .executeUpdate(approveUpdate, { args: [{ by: 'test', reason: 'ok' }] });
    await handle.executeUpdate(setFleetGateUpdate, { args: [{ open: true, by: 'test', reason: 'done' }] });
    expect((await handle.result()).counts).toEqual({ completed: 1 });
  });

  it('counts migrations by outcome', async () => {
    expect((await (await fleet(FAILS_ACCEPTANCE)).result()).counts).toEqual({ 'rolled-back': 1 });
    const after = await waitFor(
      'both outcomes counted and the gauges back to zero',
      async () => {
        const body = await scrape();
        return (
          sample(body, 'openclaw_migrate_migrations_total', 'outcome="rolled-back"') === 1 &&
          sample(body, 'openclaw_migrate_vms_awaiting_approval') === 0 &&
          sample(body, 'openclaw_migrate_fleets_running') === 0 &&
          body
        );
      },
      90_000,
    );
    expect(sample(after, 'openclaw_migrate_migrations_total', 'outcome="completed"')).toBe(1);
    expect(sample(after, 'openclaw_migrate_fleet_gates_closed')).toBe(0);
    expect(
      sample(
        after,
        'openclaw_migrate_phase_duration_seconds_count',
        'activityType="acceptance",namespace="default",outcome="failed"',
      ),
    ).toBe(1);
  });

  it('stops gracefully on SIGTERM, as systemd stops the service', async () => {
    const exited = new Promise<number | null>((done) => worker!.once('exit', (code) => done(code)));
    worker!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toMatch(/worker stopped\n/);
    worker = undefined;
  });
});
