import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetTable } from '../src/cli/fleet';
import { fleetStatusQuery, setFleetGateUpdate, type FleetReport, type FleetVm } from '../src/fleet/messages';
import type { MigrateFleetInput } from '../src/fleet/input';
import { InventorySchema, type InventoryInput } from '../src/inventory';
import { approveUpdate, migrationId, statusQuery } from '../src/migration/messages';
import { sharedResourceLockId } from '../src/migration/node-lock';
import { fleetDetails } from '../src/migration/ui-metadata';
import { VmIdAttribute } from '../src/search-attributes';
import { phaseNamed } from '../src/migration/phases';
import { migrateFleet, type migrateVm } from '../src/workflows';
import { approveAsTheyArrive } from './support/fleet';
import { historyText, scheduledActivities } from './support/history';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

/**
 * One fleet over two nodes (issue 22), fast: the real dev server, workflows, locks and worker, each phase a 20 ms
 * stand-in. Node pve-a's VMs are 2x00–2x09, pve-b's 2x10–2x19.
 */
describe('a fleet across two nodes', () => {
  jest.setTimeout(120_000);
  let env: TestWorkflowEnvironment;
  let stopWorker: (() => Promise<void>) | undefined;
  let taskQueue: string;
  /** on node pve-a: fails its acceptance checks */
  const FAILING = 2101;

  beforeAll(async () => {
    env = await startDevServer();
    ({ taskQueue, stop: stopWorker } = await runWorker(
      env,
      standInActivities({ phaseMs: 20, failAcceptance: [FAILING] }),
    ));
  }, 120_000);
  afterAll(async () => {
    await stopWorker?.();
    await env?.teardown();
  });

  // the last of 43 base64 characters carries 4 bits of the 32 bytes: A is one it may be
  const key = (c: string) => `SHA256:${c.repeat(42)}A`;
  /** Two nodes, each with its own host key and ledger, `a` VMs on pve-a and `b` on pve-b from `first` on. */
  function twoNodes(first: number, a: number, b: number, concurrency: { a?: number; b?: number }): InventoryInput {
    const vms = (count: number, from: number, node: string) =>
      Array.from({ length: count }, (_, i) => ({ vmid: from + i, ip: `10.${from % 250}.0.${i + 1}`, node }));
    return {
      nodes: {
        'pve-a': {
          host: '127.0.0.1',
          hostKeySha256: key(String.fromCharCode(65 + (first % 26))),
          ledgerPath: '/root/ledger-a.tsv',
          ...(concurrency.a && { concurrency: concurrency.a }),
        },
        'pve-b': {
          host: '127.0.0.2',
          hostKeySha256: key(String.fromCharCode(97 + (first % 26))),
          ledgerPath: '/root/ledger-b.tsv',
          ...(concurrency.b && { concurrency: concurrency.b }),
        },
      },
      panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4', baseUrl: 'http://127.0.0.1' },
      vms: [...vms(a, first, 'pve-a'), ...vms(b, first + 10, 'pve-b')],
    };
  }

  const start = (input: MigrateFleetInput) =>
    env.client.workflow.start(migrateFleet, { taskQueue, workflowId: `fleet-nodes-${randomUUID()}`, args: [input] });
  const outcomes = (report: FleetReport) => report.vms.map((v) => [v.vmid, v.node, v.state]);
  /** The most VMs in flight at once among `vms`, by the fleet's own start and end times ([start, end)). */
  const mostAtOnce = (vms: FleetVm[]) =>
    Math.max(
      ...vms.map(
        (at) =>
          vms.filter(
            (v) =>
              Date.parse(v.startedAt!) <= Date.parse(at.startedAt!) &&
              Date.parse(at.startedAt!) < Date.parse(v.endedAt!),
          ).length,
      ),
    );

  it("starts each node's canary first, keeps each node within its concurrency, and uses each node's lock and ledger", async () => {
    const inventory = twoNodes(2000, 4, 4, { a: 1, b: 2 });
    const handle = await start({ inventory, concurrency: 3, canary: 1 });
    const stopApproving = approveAsTheyArrive(env.client, handle);
    const report = await handle.result().finally(stopApproving);
    expect(report.counts).toEqual({ completed: 8 });
    expect(report.nodes).toEqual([
      { name: 'pve-a', concurrency: 1, inFlight: 0, vms: 4, canaryDone: true },
      { name: 'pve-b', concurrency: 2, inFlight: 0, vms: 4, canaryDone: true },
    ]);
    const onNode = (node: string) => report.vms.filter((v) => v.node === node);
    for (const [node, canary, limit] of [
      ['pve-a', 2000, 1],
      ['pve-b', 2010, 2],
    ] as const) {
      const vms = onNode(node);
      const ended = Date.parse(vms.find((v) => v.vmid === canary)!.endedAt!);
      // the canary completed before any other VM of its node started
      expect(vms.filter((v) => v.vmid !== canary && Date.parse(v.startedAt!) < ended)).toEqual([]);
      expect(mostAtOnce(vms)).toBeLessThanOrEqual(limit);
    }
    // pve-b fanned out to its two: both its VMs after the canary start together, each awaiting approval
    expect(mostAtOnce(onNode('pve-b'))).toBe(2);
    expect(mostAtOnce(report.vms)).toBeLessThanOrEqual(3);
    // pve-b's canary did not wait for pve-a's VMs: it started before pve-a's second VM
    const startOf = (vmid: number) => Date.parse(report.vms.find((v) => v.vmid === vmid)!.startedAt!);
    expect(startOf(2010)).toBeLessThan(startOf(2001));

    // each VM's ledger row went to its own node's ledger under its own node's lock
    for (const vm of report.vms) {
      const commit = await historyText(env.client.workflow.getHandle(`${migrationId(vm.vmid)}-shared-resources`));
      const node = InventorySchema.parse(inventory).nodes[vm.node!];
      expect([vm.vmid, commit]).toEqual([vm.vmid, expect.stringContaining(`"ledgerPath":"${node.ledgerPath}"`)]);
      expect(commit).toContain(`"hostKeySha256":"${node.hostKeySha256}"`);
    }
    for (const node of ['pve-a', 'pve-b']) {
      const lock = await historyText(
        env.client.workflow.getHandle(sharedResourceLockId(InventorySchema.parse(inventory).nodes[node])),
      );
      const granted = report.vms.filter((vm) =>
        lock.includes(`"requesterId":"${migrationId(vm.vmid)}-shared-resources"`),
      );
      expect(granted.map((vm) => vm.node)).toEqual(Array(4).fill(node));
    }

    // the server's list finds each node's migrations by their NodeName search attribute, and no other node's
    for (const node of ['pve-a', 'pve-b']) {
      const query = `FleetId = "${handle.workflowId}" AND NodeName = "${node}"`;
      const listed = async () => {
        const found: number[] = [];
        for await (const run of env.client.workflow.list({ query }))
          found.push(Number(run.typedSearchAttributes.get(VmIdAttribute)));
        return found.sort((a, b) => a - b);
      };
      const expected = onNode(node).map((vm) => vm.vmid);
      const found = await waitFor(
        `${node}'s 4 runs listed`,
        async () => {
          const now = await listed();
          return now.length >= 4 && now;
        },
        30_000,
      );
      expect([node, found]).toEqual([node, expected]);
    }
  });

  it('holds Docker removal on node B after a failed acceptance on node A, under one failure budget', async () => {
    const handle = await start({
      inventory: twoNodes(2100, 2, 3, { b: 1 }),
      concurrency: 3,
      canary: 1,
      failureBudget: 1,
    });
    const approve = (vmid: number) =>
      env.client.workflow
        .getHandle(migrationId(vmid))
        .executeUpdate(approveUpdate, { args: [{ by: 'test', reason: 'ok' }] });
    const vmIn = async (vmid: number) => (await handle.query(fleetStatusQuery)).vms.find((v) => v.vmid === vmid)!;
    // both canaries at once, one a node
    await waitFor(
      'both canaries awaiting approval',
      async () => (await vmIn(2100)).phase === 'awaiting-approval' && (await vmIn(2110)).phase === 'awaiting-approval',
      60_000,
    );
    expect(await vmIn(2111)).toMatchObject({ state: 'queued', waitingFor: 'the canary of node pve-b to complete' });
    await approve(2100);
    await approve(2110);
    // 2101 (pve-a) fails its acceptance while 2111 (pve-b) passes its own: 2112 waits for pve-b's one slot
    const closed = await waitFor(
      'the gate closed by 2101 and 2111 awaiting approval',
      async () => {
        const status = await handle.query(fleetStatusQuery);
        const vm = status.vms.find((v) => v.vmid === 2111)!;
        return !status.gate.open && vm.phase === 'awaiting-approval' && status;
      },
      60_000,
    );
    expect(closed.gate.reason).toMatch(/^vm 2101 is (rolling|rolled)-back: /);
    expect((await approve(2111)).accepted).toBe(true);
    const held = await waitFor(
      '2111 at the gate, 2101 rolled back',
      async () => {
        const status = await handle.query(fleetStatusQuery);
        const vm = status.vms.find((v) => v.vmid === 2111)!;
        const rolledBack = status.vms.find((v) => v.vmid === 2101)!.state === 'rolled-back';
        return rolledBack && /^the fleet gate to open/.test(vm.waitingFor ?? '') && status;
      },
      60_000,
    );
    expect(held.stoppedStarting).toMatch(/failure budget \(1\) is spent/);
    expect(held.vms.find((v) => v.vmid === 2112)!.waitingFor).toMatch(/^nothing: it will not start/);
    // Docker on pve-b is not removed while the gate is closed: its run never scheduled the removal
    const child = env.client.workflow.getHandle<typeof migrateVm>(migrationId(2111));
    expect((await child.query(statusQuery)).phases.map((p) => p.name)).not.toContain('remove-docker');
    expect((await scheduledActivities(child)).map((a) => a.type)).not.toContain(phaseNamed('remove-docker').activity);

    // the table, the status and the UI name each VM's node
    const table = fleetTable(held).split('\n');
    expect(table).toContainEqual(
      expect.stringMatching(/^nodes: pve-a 0 of 3 in flight, 2 VMs, canary done; pve-b 1 of 1/),
    );
    expect(table).toContainEqual(expect.stringMatching(/^vmid +name +node +state/));
    expect(table).toContainEqual(expect.stringMatching(/^2101 +pve-a +rolled-back /));
    expect(table).toContainEqual(expect.stringMatching(/^2111 +pve-b +running +awaiting-fleet-gate /));
    expect(fleetDetails(held)).toContain('**Nodes:** pve-a 0 of 3 in flight, 2 VMs, canary done; pve-b 1 of 1');
    const summary = await (await child.describe()).staticSummary();
    expect(summary).toBe(
      `Migration of VM 2111 on node pve-b from Docker to the direct install, fleet ${handle.workflowId}`,
    );

    await handle.executeUpdate(setFleetGateUpdate, { args: [{ open: true, by: 'test', reason: 'understood' }] });
    const report = await handle.result();
    expect(outcomes(report)).toEqual([
      [2100, 'pve-a', 'completed'],
      [2101, 'pve-a', 'rolled-back'],
      [2110, 'pve-b', 'completed'],
      [2111, 'pve-b', 'completed'],
      [2112, 'pve-b', 'skipped'],
    ]);
    // the record names the node it went through
    const { record } = await child.result();
    expect(record).toContain('- 执行入口 / via: node pve-b (root@127.0.0.2:22), `qm guest exec 2111`');
  });
});
