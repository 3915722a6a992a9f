import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { guestExec } from '../lab/lab';
import { fleetStatusQuery, setFleetGateUpdate, type FleetStatus, type FleetVm } from '../src/fleet/messages';
import { renderInventory } from '../src/discover/report';
import type { DiscoveryReport } from '../src/discover/facts';
import { readInventoryFile } from '../src/inventory-file';
import { DiscoverySourceSchema, nodeEndpoint, type Inventory } from '../src/inventory';
import { approveUpdate, migrationId, statusQuery, type MigrationPhase } from '../src/migration/messages';
import { phaseNamed } from '../src/migration/phases';
import { DEFAULT_LEDGER_PATH, type SharedResourcesInput } from '../src/migration/node-lock';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { commitSharedResources, discover, migrateFleet, migrateVm } from '../src/workflows';
import { nodeSsh, stopLab, type Lab } from './support/lab';
import { scheduledActivities } from './support/history';
import { expectOutageWithinPhases } from './support/outage';
import { startServerAndLab } from './support/lab-and-worker';
import { waitFor } from './support/wait';
import { WorkerProcesses } from './support/worker-process';

/**
 * discover, then migrateFleet from the inventory it wrote, then discover again, against the dev server and a lab of two
 * nodes (issue 22). Node pve-lab-1 has 105 (Docker-era 2026.2.19), 107 (Docker-era 2026.2.19, its direct gateway
 * answers 500: its acceptance fails), 109 (no OpenClaw) and 111 (powered off); pve-lab-2 has 106 (Docker-era
 * 2026.9.6), 108 (its Docker-era gateway stopped by hand: half-way) and 110 (its guest agent down). The fleet: each
 * node's canary first, never more than 2 in flight, the gate closed fleet-wide by 107's failure on one node holding
 * 106's Docker removal on the other, the worker killed in the middle and started again, the gate reopened, and the
 * fleet finished, each VM's ledger row on its own node.
 */
describe('migrateFleet', () => {
  // three real migrations, one after its node's canary, beside another test file on 2 cores: bounds, not speed checks
  jest.setTimeout(1_800_000);
  let env: TestWorkflowEnvironment;
  let lab: Lab;
  /** the inventory discover wrote, the fleet's */
  let inventory: Inventory;
  const discoveredPath = join(mkdtempSync(join(tmpdir(), 'discovered-')), 'fleet.yaml');
  let workers: WorkerProcesses;
  const taskQueue = `fleet-${randomUUID()}`;

  beforeAll(async () => {
    ({ env, lab } = await startServerAndLab({
      guests: 7,
      nodes: 2,
      faults: [
        { vmid: 107, kind: 'gateway-500' },
        { vmid: 110, kind: 'agent-down' },
      ],
      dockerEraOf: { '106': '2026.9.6' },
      notOpenClaw: [109, 110],
      stopped: [111],
    }));
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

  const onNode = (script: string, node = 'pve-lab-1') => {
    const result = nodeSsh(lab, ['/bin/bash', '-c', script], undefined, node);
    if (result.status !== 0) throw new Error(`on node ${node}, ${script}: ${result.stderr}`);
    return result.stdout;
  };
  const source = () => DiscoverySourceSchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
  const discovered = (): Promise<DiscoveryReport> =>
    env.client.workflow.execute(discover, {
      taskQueue,
      workflowId: `discover-${randomUUID()}`,
      args: [{ nodes: source().nodes }],
    });
  /** Each VM's node and state, as discover classified it. */
  const states = (report: DiscoveryReport) =>
    report.nodes.flatMap((node) => node.vms.map((vm) => [node.name, vm.vmid, vm.state]));
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
      // each read is a query the worker answers from the fleet's whole table, for minutes
      500,
    );
  const vmIn = (status: FleetStatus, vmid: number) => status.vms.find((v) => v.vmid === vmid)!;
  const at = (vmid: number, phase: MigrationPhase) => (status: FleetStatus) => vmIn(status, vmid).phase === phase;
  const approve = (vmid: number) =>
    env.client.workflow
      .getHandle(migrationId(vmid))
      .executeUpdate(approveUpdate, { args: [{ by: 'fleet-test', reason: 'checked by the test' }] });

  it('discovers each VM by what it runs and writes the same inventory twice, reading only', async () => {
    inGuest(108, 'docker stop openclaw-gateway >/dev/null');
    const report = await discovered();
    expect(states(report)).toEqual([
      ['pve-lab-1', 105, 'docker-era'],
      ['pve-lab-1', 107, 'docker-era'],
      ['pve-lab-1', 109, 'not-openclaw'],
      ['pve-lab-1', 111, 'stopped'],
      ['pve-lab-2', 106, 'docker-era'],
      ['pve-lab-2', 108, 'half-way'],
      ['pve-lab-2', 110, 'agent-down'],
    ]);
    const vm = (vmid: number) => report.nodes.flatMap((node) => node.vms).find((v) => v.vmid === vmid)!;
    // the address from the guest's agent, the release from its Docker-era bot
    expect(vm(105).ip).toBe(source().vms.find((v) => v.vmid === 105)?.ip);
    expect([vm(105).release, vm(106).release]).toEqual(['2026.2.19', '2026.9.6']);
    expect(vm(108).why).toMatch(
      /^the Docker-era gateway stopped, and no direct gateway running \(.*container openclaw-gateway exited/,
    );
    const written = renderInventory(source(), report);
    writeFileSync(discoveredPath, written);
    inventory = readInventoryFile(discoveredPath);
    expect(inventory.vms.map((v) => [v.vmid, v.node])).toEqual([
      [105, 'pve-lab-1'],
      [107, 'pve-lab-1'],
      [106, 'pve-lab-2'],
    ]);
    expect(written).toMatch(/^# {3}pve-lab-2 vm 108 \(vm-lab-0004\): half-way: /m);
    expect(renderInventory(source(), await discovered())).toBe(written);
    // read-only: the Docker-era gateways still run, the stopped one is still stopped
    expect(inGuest(105, "docker inspect -f '{{.State.Status}}' openclaw-gateway")).toBe('running');
    expect(inGuest(108, "docker inspect -f '{{.State.Status}}' openclaw-gateway")).toBe('exited');
  });

  it('keeps to its concurrency, closes the gate on a failed acceptance, survives a worker crash, and finishes', async () => {
    const ledgerBefore = {
      'pve-lab-1': onNode(`cat ${DEFAULT_LEDGER_PATH}`),
      'pve-lab-2': onNode(`cat ${DEFAULT_LEDGER_PATH}`, 'pve-lab-2'),
    };
    const handle = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `migrate-fleet-test-${randomUUID()}`,
      args: [{ inventory, concurrency: 2, canary: 1, failureBudget: 2 }],
    });

    // Each node's canary first: 105 and 106; 107 starts once its node's canary has completed.
    await untilFleet(handle, 'the canary awaiting approval', at(105, 'awaiting-approval'));
    const whileCanary = (await fleetStatus(handle))!;
    expect(whileCanary.inFlight).toBe(2);
    expect(vmIn(whileCanary, 106).state).toBe('running');
    expect(vmIn(whileCanary, 107)).toMatchObject({
      state: 'queued',
      waitingFor: 'the canary of node pve-lab-1 to complete',
    });
    // the canary's outage reached the fleet with its progress
    expect(vmIn(whileCanary, 105).outageMs).toBeGreaterThan(0);
    expect((await approve(105)).accepted).toBe(true);
    await untilFleet(handle, 'the canary completed', (s) => vmIn(s, 105).state === 'completed');

    // 107 beside 106 (left awaiting its approval). The worker dies while they migrate, and a new one takes over.
    const migrating: MigrationPhase[] = ['backup', 'stop-docker', 'install', 'migrate-data', 'deploy-panel'];
    await untilFleet(handle, 'both migrating', (s) => s.inFlight === 2 && migrating.includes(vmIn(s, 107).phase!));
    await workers.crashAndRestart();

    // 107's acceptance fails: it rolls back, and the gate closes for every VM, on both nodes.
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

    const outcome = (v: FleetVm) => [v.vmid, v.node, v.state];
    expect(report.vms.map(outcome)).toEqual([
      [105, 'pve-lab-1', 'completed'],
      [107, 'pve-lab-1', 'rolled-back'],
      [106, 'pve-lab-2', 'completed'],
    ]);
    const reported = (vmid: number) => report.vms.find((v) => v.vmid === vmid)!;
    expect(report.counts).toEqual({ completed: 2, 'rolled-back': 1 });
    expect(reported(105).recordPath).toMatch(/^\/root\/\d{4}-\d\d-\d\d_105_去Docker直装迁移记录\.md$/);
    expect(reported(107).error).toMatch(/vm 107 is back on Docker/);
    // Each VM's outage as its run measured it, consistent with its phases: 107's, whose acceptance failed, until its
    // rollback had Docker answer again.
    for (const vmid of [105, 106, 107]) {
      const status = await env.client.workflow.getHandle<typeof migrateVm>(migrationId(vmid)).query(statusQuery);
      // the fleet mixed releases: each run's scan read its own from the Docker-era bot
      expect(status.results.scan!.bot!.version).toContain(vmid === 106 ? '2026.9.6' : '2026.2.19');
      expectOutageWithinPhases(status, reported(vmid).outageMs);
      expect(reported(vmid).outageMs).toBe(status.outage!.ms);
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
    // the canaries ran together, one a node; 107 started after its node's canary had closed
    const [span105, span106, span107] = spans;
    expect(span106.start).toBeLessThan(span105.close);
    expect(span105.close).toBeLessThanOrEqual(span107.start);
    // the fleet's worker was really replaced in the middle
    expect(workers.generations).toHaveLength(2);

    // On the guests: 105 and 106 direct, Docker gone; 107 back on Docker, answering on its gateway port.
    for (const vmid of [105, 106]) {
      expect(inGuest(vmid, 'systemctl is-active openclaw-gateway openclaw-panel')).toBe('active\nactive');
      expect(inGuest(vmid, 'docker ps -a --format "{{.Names}}"')).toBe('');
    }
    expect(inGuest(107, 'docker ps --format "{{.Names}}" | sort')).toBe('openclaw-gateway\nopenclaw-panel');
    expect(inGuest(107, 'systemctl is-active openclaw-gateway || true')).not.toBe('active');

    // Each node's ledger holds its own VMs only: the migrated ones direct, with their NAT block; 107's row as it was.
    const rows = (text: string) =>
      new Map(
        text
          .trim()
          .split('\n')
          .slice(1)
          .map((r) => [r.split('\t')[0], r]),
      );
    const after = {
      'pve-lab-1': rows(onNode(`cat ${DEFAULT_LEDGER_PATH}`)),
      'pve-lab-2': rows(onNode(`cat ${DEFAULT_LEDGER_PATH}`, 'pve-lab-2')),
    };
    expect([...after['pve-lab-1'].keys()]).toEqual(['105', '107', '109', '111']);
    expect([...after['pve-lab-2'].keys()]).toEqual(['106', '108', '110']);
    expect(after['pve-lab-1'].get('105')).toMatch(/^105\t10\.10\.10\.14\t10200\t10200\t10201\t10202\tdirect\t\d{4}-/);
    expect(after['pve-lab-2'].get('106')).toMatch(/^106\t10\.10\.10\.15\t10200\t10200\t10201\t10202\tdirect\t/);
    expect(after['pve-lab-1'].get('107')).toBe(rows(ledgerBefore['pve-lab-1']).get('107'));
    expect(after['pve-lab-2'].get('108')).toBe(rows(ledgerBefore['pve-lab-2']).get('108'));

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

    // Discovered again, every state: the migrated VMs are direct; 107 is back on Docker (its direct units left
    // disabled by the rollback, as the SOP's rollback leaves them), to be migrated again; the others as they were.
    const rediscovered = await discovered();
    expect(rediscovered.nodes[0].vms.find((v) => v.vmid === 107)?.why).toMatch(
      /unit openclaw-gateway inactive disabled/,
    );
    expect(states(rediscovered)).toEqual([
      ['pve-lab-1', 105, 'direct'],
      ['pve-lab-1', 107, 'docker-era'],
      ['pve-lab-1', 109, 'not-openclaw'],
      ['pve-lab-1', 111, 'stopped'],
      ['pve-lab-2', 106, 'direct'],
      ['pve-lab-2', 108, 'half-way'],
      ['pve-lab-2', 110, 'agent-down'],
    ]);
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
              node: nodeEndpoint(source().nodes['pve-lab-1']),
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
