import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { temporalConfig } from '../src/config';
import { fleetStatusQuery, fleetWorkflowId, type FleetReport } from '../src/fleet/messages';
import { migrationId } from '../src/migration/messages';
import { migrateFleet } from '../src/workflows';
import { startCluster, CLUSTER_PROFILE, type Cluster } from './support/cluster';
import { execResult } from './support/exec';
import { approveAsTheyArrive, standInInventory } from './support/fleet';
import { waitFor } from './support/wait';
import { WorkerProcesses } from './support/worker-process';

const ROOT = resolve(__dirname, '..');
const FLEET = 'cluster';
const VMS = 4;

/**
 * The engine as operators run it: the Temporal server built from Go modules, on PostgreSQL, mTLS on the frontend,
 * the frontend a process apart from history and matching; two of the project's workers (stand-in phases, real
 * workflows) on one task queue, connecting with a profile of a temporal.toml. A fleet runs to its end while one
 * worker is killed with SIGKILL and the frontend restarts.
 */
describe('a real Temporal cluster', () => {
  jest.setTimeout(600_000);
  let cluster: Cluster;
  let connection: Connection | undefined;
  let client: Client;
  let logDir: string;
  const taskQueue = `cluster-${randomUUID()}`;
  const workers: WorkerProcesses[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    connection = await Connection.connect(temporalConfig(cluster.profileEnv).connection);
    client = new Client({ connection, namespace: 'default' });
    logDir = mkdtempSync(join(tmpdir(), 'openclaw-cluster-workers-'));
    for (const n of [1, 2]) {
      const worker = new WorkerProcesses({
        address: cluster.address,
        taskQueue,
        logPath: join(logDir, `worker-${n}.log`),
        script: 'test/support/stand-in-worker.ts',
        env: { ...cluster.profileEnv, STAND_IN_PHASE_MS: '1500' },
        readyTimeoutMs: 180_000,
      });
      await worker.start();
      workers.push(worker);
    }
  }, 900_000);

  afterAll(async () => {
    for (const worker of workers) await worker.kill();
    await connection?.close();
    await cluster?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  }, 120_000);

  /** The worker whose identity (the SDK's default, `<pid>@<host>`) an event or a pending activity names. */
  const workerOf = (identity: string) => {
    const pid = identity.split('@')[0];
    // each worker runs in a process group of its own, led by the process WorkerProcesses started
    const stat = (() => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return undefined; // that worker is gone
      }
    })();
    const group = Number(stat?.split(') ')[1].split(' ')[2]);
    return workers.find((worker) => worker.current?.pid === group);
  };

  /** An activity that a worker runs right now: a migration's pending activity with the worker that took it. */
  async function runningActivity(workflowIds: string[]) {
    for (const workflowId of workflowIds) {
      const described = await client.workflow
        .getHandle(workflowId)
        .describe()
        .catch(() => undefined);
      const raw = described?.raw ?? {};
      for (const activity of raw.pendingActivities ?? []) {
        if (activity.state !== temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) continue;
        const worker = activity.lastWorkerIdentity ? workerOf(activity.lastWorkerIdentity) : undefined;
        if (worker)
          return { workflowId, activityId: activity.activityId!, identity: activity.lastWorkerIdentity!, worker };
      }
    }
    return undefined;
  }

  it('refuses a client without a client certificate, and answers one with it', async () => {
    const cli = process.env.TEMPORAL_CLI!;
    const withoutCertificate = await execResult(
      cli,
      [
        'workflow',
        'list',
        '--address',
        cluster.address,
        '--tls-ca-path',
        cluster.caCert,
        '--tls-server-name',
        'localhost',
      ],
      { env: { PATH: process.env.PATH, HOME: logDir }, timeout: 60_000 },
    );
    expect(withoutCertificate.code).not.toBe(0);
    // TLS 1.3: the server refuses a missing certificate after the client's side of the handshake, so the client
    // hears of it either as the alert or as the refused connection's broken pipe
    expect(withoutCertificate.stderr).toMatch(/failed reaching server: .*(certificate required|broken pipe)/);

    // the SDK's connection retries a refused handshake until its connect timeout, and says only that
    const refused = await Connection.connect({
      address: cluster.address,
      tls: { serverRootCACertificate: readFileSync(cluster.caCert), serverNameOverride: 'localhost' },
      connectTimeout: '5 seconds',
    }).then(
      (connected) => connected.close(),
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(Error);

    const withProfile = await cluster.temporal(['--profile', CLUSTER_PROFILE, 'workflow', 'list']);
    expect(withProfile).toMatchObject({ code: 0 });
  });

  it('runs a fleet to its end while a worker is killed and the frontend restarts', async () => {
    const inventory = standInInventory(VMS);
    inventory.vms.forEach((vm, i) => (vm.vmid = 2000 + i));
    const handle = await client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: fleetWorkflowId(FLEET),
      args: [{ inventory }],
    });
    const stopApproving = approveAsTheyArrive(client, handle);
    const status = () => handle.query(fleetStatusQuery).catch(() => undefined);
    try {
      // Kill a worker in the middle of an activity: frozen (SIGSTOP) first, so that the activity cannot end between
      // the look and the kill; if it ended before the freeze, let the worker go on and look again.
      const migrations = inventory.vms.map((vm) => migrationId(vm.vmid));
      const victim = await waitFor(
        'a worker frozen in the middle of an activity',
        async () => {
          const running = await runningActivity(migrations);
          if (!running) return undefined;
          running.worker.freeze();
          const still = await runningActivity([running.workflowId]);
          if (still?.activityId === running.activityId && still.worker === running.worker) return running;
          process.kill(-running.worker.current!.pid, 'SIGCONT');
          return undefined;
        },
        180_000,
      );
      await victim.worker.kill();
      const survivor = workers.find((worker) => worker !== victim.worker)!;
      await waitFor(
        'the next migrations under way',
        async () => (await status())?.vms.filter((vm) => vm.state === 'running').length === 2,
        300_000,
      );
      await cluster.restartFrontend();
      const report: FleetReport = await handle.result();
      expect(report.counts).toEqual({ completed: VMS });

      // the activity the victim held was retried, and completed, by the survivor
      const events = (await client.workflow.getHandle(victim.workflowId).fetchHistory()).events ?? [];
      const scheduled = events.find(
        (event) => event.activityTaskScheduledEventAttributes?.activityId === victim.activityId,
      );
      const started = events.find(
        (event) => Number(event.activityTaskStartedEventAttributes?.scheduledEventId) === Number(scheduled?.eventId),
      )?.activityTaskStartedEventAttributes;
      expect(started?.attempt).toBeGreaterThan(1);
      expect(started?.identity && workerOf(started.identity)).toBe(survivor);
    } finally {
      await stopApproving();
    }
  });

  it('the CLI and temporal both connect with the profile of the same temporal.toml', async () => {
    const starter = await execResult(
      resolve(ROOT, 'node_modules/.bin/tsx'),
      ['src/starter.ts', 'status', '--fleet', FLEET, '--json'],
      { cwd: ROOT, env: { ...process.env, ...cluster.profileEnv }, timeout: 120_000 },
    );
    expect(starter).toMatchObject({ code: 0 });
    expect((JSON.parse(starter.stdout) as FleetReport).counts).toEqual({ completed: VMS });

    const listed = await cluster.temporal([
      '--profile',
      CLUSTER_PROFILE,
      'workflow',
      'list',
      '--query',
      `WorkflowType='migrateVm'`,
    ]);
    expect(listed).toMatchObject({ code: 0 });
    for (let vmid = 2000; vmid < 2000 + VMS; vmid++) expect(listed.stdout).toMatch(`migrate-vm-${vmid}`);
  });
});
