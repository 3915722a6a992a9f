import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { guestExec } from '../lab/lab';
import { fleetStatusQuery, setFleetGateUpdate, type FleetStatus, type FleetVm } from '../src/fleet/messages';
import { readInventoryFile } from '../src/inventory-file';
import { soleNode, type Inventory } from '../src/inventory';
import { approveUpdate, migrationId, statusQuery, type MigrationPhase } from '../src/migration/messages';
import { phaseNamed } from '../src/migration/phases';
import { DEFAULT_LEDGER_PATH, type SharedResourcesInput } from '../src/migration/node-lock';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { commitSharedResources, migrateFleet, migrateVm } from '../src/workflows';
import { nodeSsh, stopLab, type Lab } from './support/lab';
import { scheduledActivities } from './support/history';
import { expectOutageWithinPhases } from './support/outage';
import { startServerAndLab } from './support/lab-and-worker';
import { waitFor } from './support/wait';
import { WorkerProcesses } from './support/worker-process';

/**
 * migrateFleet against the dev server and a lab of 3 guests of mixed Docker-era releases (105 and 107 on the record's
 * 2026.2.19, 106 on 2026.9.6), one of them with a gateway that answers 500 (its acceptance fails): the canary first, never more than 2 in flight, the gate closed fleet-wide by the failure, the
 * worker killed in the middle and started again, the gate reopened, and the fleet finished.
 */
describe('migrateFleet', () => {
  // three real migrations, one after the canary, beside another test file on 2 cores: bounds generous, not speed checks
  jest.setTimeout(1_800_000);
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  let inventory: Inventory;
  let workers: WorkerProcesses;
  const taskQueue = `fleet-${randomUUID()}`;

  beforeAll(async () => {
    ({ env, lab } = await startServerAndLab({
      guests: 3,
      faults: [{ vmid: 107, kind: 'gateway-500' }],
      dockerEraOf: { '106': '2026.9.6' },
    }));
    inventory = readInventoryFile(lab.inventoryPath);
    workers = new WorkerProcesses({
      address: env.address,
      taskQueue,
      logPath: join(mkdtempSync(join(tmpdir(), 'migrate-fleet-')), 'worker.log'),
    });
    await workers.start();
  }, 900_000);
  afterAll(async () => {
    await workers?.kill();
    await env?.teardown();
    await stopLab(lab);
  });

  const onNode = (script: string) => {
    const result = nodeSsh(lab, ['/bin/bash', '-c', script]);
    if (result.status !== 0) throw new Error(`on the node, ${script}: ${result.stderr}`);
    return result.stdout;
  };
  const inGuest = (vmid: number, script: string) => guestExec(lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();
  /** The fleet's status, retried while no worker answers (after a kill). */
  const fleetStatus = (handle: WorkflowHandle<typeof migrateFleet>) =>
    env.client.withDeadline(Date.now() + 15_000, () => handle.query(fleetStatusQuery)).catch(() => undefined);
  const untilFleet = <T>(
    handle: WorkflowHandle<typeof migrateFleet>,
    what: string,
    check: (status: FleetStatus) => T | undefined | false,
  ) =>
    waitFor(
      what,
      async () => {
        const status = await fleetStatus(handle);
        return status && check(status);
      },
      // a VM's whole migration can lie between two of these states (107's acceptance alone waits 180 s for a
      // gateway that keeps answering 500): 300 s was overrun beside another file's lab
      900_000,
    );
  const vmIn = (status: FleetStatus, vmid: number) => status.vms.find((v) => v.vmid === vmid)!;
  const at = (vmid: number, phase: MigrationPhase) => (status: FleetStatus) => vmIn(status, vmid).phase === phase;
  const approve = (vmid: number) =>
    env.client.workflow
      .getHandle(migrationId(vmid))
      .executeUpdate(approveUpdate, { args: [{ by: 'fleet-test', reason: 'checked by the test' }] });

  it('keeps to its concurrency, closes the gate on a failed acceptance, survives a worker crash, and finishes', async () => {
    const ledgerBefore = onNode(`cat ${DEFAULT_LEDGER_PATH}`);
    const handle = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `migrate-fleet-test-${randomUUID()}`,
      args: [{ inventory, concurrency: 2, canary: 1, failureBudget: 2 }],
    });

    // The canary alone: nothing else starts until it has completed.
    await untilFleet(handle, 'the canary awaiting approval', at(105, 'awaiting-approval'));
    const whileCanary = (await fleetStatus(handle))!;
    expect(whileCanary.inFlight).toBe(1);
    expect(vmIn(whileCanary, 106)).toMatchObject({ state: 'queued', waitingFor: 'the canary to complete' });
    // the canary's outage reached the fleet with its progress
    expect(vmIn(whileCanary, 105).outageMs).toBeGreaterThan(0);
    expect((await approve(105)).accepted).toBe(true);
    await untilFleet(handle, 'the canary completed', (s) => vmIn(s, 105).state === 'completed');

    // Fanned out: 106 and 107 together. The worker dies while they migrate, and a new one takes over.
    const migrating: MigrationPhase[] = ['backup', 'stop-docker', 'install', 'migrate-data', 'deploy-panel'];
    await untilFleet(handle, 'both migrating', (s) => s.inFlight === 2 && migrating.includes(vmIn(s, 107).phase!));
    await workers.crashAndRestart();

    // 107's acceptance fails: it rolls back, and the gate closes for every VM.
    const closed = await untilFleet(handle, 'the gate closed by 107', (s) => !s.gate.open && s);
    // read from 107's run: rolling back, or (a slow read) rolled back already
    expect(closed.gate.reason).toMatch(/^vm 107 is roll(ing|ed)-back: .*acceptance/i);
    await untilFleet(handle, '106 awaiting approval', at(106, 'awaiting-approval'));
    expect((await approve(106)).accepted).toBe(true);
    // the child asks its fleet for the gate first, then waits for it to open
    const waitsForTheGate = (s: FleetStatus) => /^the fleet gate to open/.test(vmIn(s, 106).waitingFor ?? '');
    const waiting = await untilFleet(handle, '106 waiting at the gate', (s) => waitsForTheGate(s) && s);
    expect(at(106, 'awaiting-fleet-gate')(waiting)).toBe(true);
    expect(vmIn(waiting, 106).waitingFor).toMatch(/fleet gate to open \(vm 107/);
    // Approved, yet Docker stays while the gate is closed: the run at its gate scheduled no removal (its history, no
    // fixed wait), and its stopped containers are all there.
    const child106 = env.client.workflow.getHandle<typeof migrateVm>(migrationId(106));
    expect((await scheduledActivities(child106)).map((a) => a.type)).not.toContain(
      phaseNamed('remove-docker').activity,
    );
    expect(inGuest(106, 'docker ps -a --format "{{.Names}} {{.Status}}" | sort')).toMatch(
      /^openclaw-gateway Exited.*\nopenclaw-panel Exited/,
    );
    await untilFleet(handle, '107 rolled back', (s) => vmIn(s, 107).state === 'rolled-back');

    const opened = await handle.executeUpdate(setFleetGateUpdate, {
      args: [{ open: true, by: 'fleet-test', reason: '107 is understood: its gateway fault is its own' }],
    });
    expect(opened).toMatchObject({ gate: { open: true, by: 'fleet-test' }, waitingAtGate: [106] });
    const report = await handle.result();

    const outcome = (v: FleetVm) => [v.vmid, v.state];
    expect(report.vms.map(outcome)).toEqual([
      [105, 'completed'],
      [106, 'completed'],
      [107, 'rolled-back'],
    ]);
    expect(report.counts).toEqual({ completed: 2, 'rolled-back': 1 });
    expect(report.vms[0].recordPath).toMatch(/^\/root\/\d{4}-\d\d-\d\d_105_去Docker直装迁移记录\.md$/);
    expect(report.vms[2].error).toMatch(/vm 107 is back on Docker/);
    // Each VM's outage as its run measured it, consistent with its phases: 107's, whose acceptance failed, until its
    // rollback had Docker answer again.
    for (const [i, vmid] of [105, 106, 107].entries()) {
      const status = await env.client.workflow.getHandle<typeof migrateVm>(migrationId(vmid)).query(statusQuery);
      // the fleet mixed releases: each run's scan read its own from the Docker-era bot
      expect(status.results.scan!.bot!.version).toContain(vmid === 106 ? '2026.9.6' : '2026.2.19');
      expectOutageWithinPhases(status, report.vms[i].outageMs);
      expect(report.vms[i].outageMs).toBe(status.outage!.ms);
      expect(status.outage!.directAnsweredAt === undefined).toBe(vmid === 107);
      expect(status.outage!.dockerAnsweredAt === undefined).toBe(vmid !== 107);
    }
    const outages = report.vms.map((v) => v.outageMs!).sort((a, b) => a - b);
    expect(report.outage).toEqual({ vms: 3, maxMs: outages[2], medianMs: outages[1] });

    // Never more than 2 in flight, by the children's own start and close times.
    const spans = await Promise.all(
      [105, 106, 107].map(async (vmid) => {
        const run = await env.client.workflow.getHandle(migrationId(vmid)).describe();
        return { vmid, start: run.startTime.getTime(), close: run.closeTime!.getTime() };
      }),
    );
    const inFlightAt = (t: number) => spans.filter((s) => s.start <= t && t < s.close).length;
    expect(Math.max(...spans.map((s) => inFlightAt(s.start)))).toBe(2);
    // the canary closed before the others started
    expect(spans[0].close).toBeLessThanOrEqual(Math.min(spans[1].start, spans[2].start));
    // the fleet's worker was really replaced in the middle
    expect(workers.generations).toHaveLength(2);

    // On the guests: 105 and 106 direct, Docker gone; 107 back on Docker, answering on its gateway port.
    for (const vmid of [105, 106]) {
      expect(inGuest(vmid, 'systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
      expect(inGuest(vmid, 'docker ps -a --format "{{.Names}}"')).toBe('');
    }
    expect(inGuest(107, 'docker ps --format "{{.Names}}" | sort')).toBe('openclaw-gateway\nopenclaw-panel');
    expect(inGuest(107, 'systemctl is-active openclaw-gateway || true')).not.toBe('active');

    // The node's ledger: the two migrated VMs are direct, with their NAT block; 107's row is as it was.
    const rows = (text: string) =>
      new Map(
        text
          .trim()
          .split('\n')
          .slice(1)
          .map((r) => [r.split('\t')[0], r]),
      );
    const before = rows(ledgerBefore);
    const after = rows(onNode(`cat ${DEFAULT_LEDGER_PATH}`));
    expect(after.get('105')).toMatch(/^105\t10\.10\.10\.14\t10200\t10200\t10201\t10202\tdirect\t\d{4}-/);
    expect(after.get('106')).toMatch(/^106\t10\.10\.10\.15\t10250\t10250\t10251\t10252\tdirect\t/);
    expect(after.get('107')).toBe(before.get('107'));

    // A migrated VM is never migrated again: a new run's scan refuses it, and the guest stays as it is.
    const again = await env.client.workflow
      .execute(migrateVm, {
        taskQueue,
        workflowId: `migrate-again-105-${randomUUID()}`,
        args: [migrateVmInputFor(inventory, 105)],
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(again).toBeInstanceOf(WorkflowFailedError);
    expect((again as WorkflowFailedError).cause?.cause).toMatchObject({
      type: 'PreflightRefused',
      message: expect.stringMatching(/^vm 105 was migrated already \(its Docker was removed \d{4}-/),
    });
    expect(inGuest(105, 'systemctl is-active openclaw-gateway')).toBe('active');
  });

  it('serialises commits to the shared resources through the node lock', async () => {
    const vmids = [201, 202, 203, 204, 205];
    const commits = await Promise.all(
      vmids.map((vmid) =>
        env.client.workflow.execute(commitSharedResources, {
          taskQueue,
          workflowId: `lock-test-${vmid}-${randomUUID()}`,
          args: [
            {
              node: soleNode(inventory),
              ledgerPath: '/root/lock-test-ledger.tsv',
              entry: {
                vmid,
                ip: `10.10.20.${vmid - 200}`,
                mode: 'direct',
                note: 'lock test',
                panelFront: 18080,
                gatewayFront: 18789,
              },
            } satisfies SharedResourcesInput,
          ],
        }),
      ),
    );
    expect(commits.map((c) => c.row.split('\t')[0])).toEqual(vmids.map(String));
    // every row there: no read-modify-write lost another's
    const ledger = onNode('cat /root/lock-test-ledger.tsv').trim().split('\n');
    expect(
      ledger
        .slice(1)
        .map((row) => row.split('\t')[0])
        .sort(),
    ).toEqual(vmids.map(String));
    // and one commit at a time: the audit log is begin, end, begin, end, …
    const audit = onNode('cat /root/lock-test-ledger.tsv.log').trim().split('\n');
    expect(audit).toHaveLength(2 * vmids.length);
    audit.forEach((line, i) => expect(line).toMatch(i % 2 === 0 ? / begin vmid=(\d+)/ : / end vmid=(\d+)/));
    for (let i = 0; i < audit.length; i += 2)
      expect(audit[i].split('vmid=')[1].split(' ')[0]).toBe(audit[i + 1].split('vmid=')[1]);
  });
});
