import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetStatusQuery, gateForChildrenQuery, setFleetGateUpdate, vmProgressSignal } from '../src/fleet/messages';
import type { InventoryInput } from '../src/inventory';
import type { MigrateVmInput } from '../src/migration/input';
import {
  approveSignal,
  approveUpdate,
  fleetGateSignal,
  rejectUpdate,
  migrationId,
  recordQuery,
  rejectSignal,
  statusQuery,
} from '../src/migration/messages';
import {
  acquireLockSignal,
  lockGrantedSignal,
  lockStatusQuery,
  releaseLockSignal,
  sharedResourceLockId,
} from '../src/migration/node-lock';
import { commitSharedResources, migrateFleet, migrateVm, sharedResourceLock } from '../src/workflows';
import { execResult } from './support/exec';
import { scheduledActivities } from './support/history';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { waitFor } from './support/wait';

/**
 * Hostile input against the real dev server and worker: a run started raw with bad input fails at once as
 * InvalidInput and schedules nothing; the node (a loopback listener standing in for it) sees no connection; bad
 * messages leave a running run healthy, and it completes. The schemas' cases are test/hostile-input.test.ts.
 */
describe('hostile input against running workflows', () => {
  jest.setTimeout(180_000);
  let env: TestWorkflowEnvironment;
  const workers: (() => Promise<void>)[] = [];
  /** the real activities: a run that got past its input would connect to the node */
  let realQueue: string;
  /** stand-in phases, for runs that must get to their messages fast */
  let standInQueue: string;
  let nodeListener: Server;
  let nodePort: number;
  let connections = 0;
  /** a real key, so that a run that got past its input would get as far as connecting */
  const keyDir = mkdtempSync(join(tmpdir(), 'hostile-key-'));
  const privateKeyPath = join(keyDir, 'id_ed25519');

  beforeAll(async () => {
    nodeListener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((ready) => nodeListener.listen(0, '127.0.0.1', ready));
    nodePort = (nodeListener.address() as { port: number }).port;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', privateKeyPath]);
    env = await startDevServer();
    const real = await runWorker(env);
    const standIn = await runWorker(env, standInActivities({ phaseMs: 20 }));
    workers.push(real.stop, standIn.stop);
    [realQueue, standInQueue] = [real.taskQueue, standIn.taskQueue];
  }, 180_000);
  afterAll(async () => {
    for (const stop of workers) await stop();
    await env?.teardown();
    nodeListener?.close();
  });

  const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
  const node = () => ({ host: '127.0.0.1', port: nodePort, user: 'root', privateKeyPath, hostKeySha256: FINGERPRINT });
  const vmInput = (vmid: number, more: Record<string, unknown> = {}): MigrateVmInput => ({
    vmid,
    vmIp: '10.20.0.5',
    node: node(),
    panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4', baseUrl: 'http://127.0.0.1' },
    ...more,
  });
  const inventory = (count: number): InventoryInput => ({
    node: node(),
    panelRelease: { repo: 'Bianshumeng/openclaw-panel-public', tag: 'v2026.02.20-r4', baseUrl: 'http://127.0.0.1' },
    vms: Array.from({ length: count }, (_, i) => ({ vmid: 3000 + i, ip: `10.30.${i >> 8}.${i & 255}` })),
  });

  const events = async (handle: WorkflowHandle) => (await handle.fetchHistory()).events ?? [];
  /** the first value of an event's input (a signal's payload), decoded */
  const firstValue = (input?: { payloads?: unknown[] | null } | null) =>
    input?.payloads?.[0]
      ? defaultPayloadConverter.fromPayload<Record<string, unknown>>(input.payloads[0] as Payload)
      : undefined;
  /** Nothing scheduled (no activity, no child) and no workflow task that threw. */
  async function expectNothingScheduled(handle: WorkflowHandle) {
    const history = await events(handle);
    expect(history.filter((e) => e.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(history.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    expect(history.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  }
  const failureOf = (handle: WorkflowHandle) =>
    handle.result().then(
      () => undefined,
      (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : err),
    );

  describe('a run started raw with bad input fails as InvalidInput, naming the field, and starts nothing', () => {
    const typoInVm = inventory(2);
    Object.assign(typoInVm.vms[1], { sshh: node() });
    const cases: [string, string, unknown[], RegExp][] = [
      [
        'migrateVm',
        'dryrun for dryRun',
        [vmInput(2001, { dryrun: true })],
        /\(input\): unknown key 'dryrun' \(did you mean 'dryRun'\?\)/,
      ],
      [
        'migrateVm',
        'a ledger in /etc/cron.d',
        [vmInput(2002, { ledgerPath: '/etc/cron.d/x' })],
        /ledgerPath: a ledger/,
      ],
      [
        'migrateVm',
        'an install command with NUL',
        [vmInput(2003, { installCommand: 'curl x\0| bash' })],
        /installCommand: one printable line/,
      ],
      [
        'migrateVm',
        'a host with shell syntax',
        [vmInput(2004, { node: { ...node(), host: '$(id)' } })],
        /node\.host: a DNS name/,
      ],
      [
        'migrateVm',
        'a release base URL that curl reads as another host',
        [
          vmInput(2005, {
            panelRelease: { repo: 'a/b', tag: 'v1', baseUrl: 'http://127.0.0.1\\@evil.example' },
          }),
        ],
        /panelRelease\.baseUrl: no spaces, backslashes/,
      ],
      [
        'migrateVm',
        'an install command ending in a lone backslash',
        [vmInput(2006, { installCommand: 'curl -fsSL https://openclaw.ai/install.sh | bash \\' })],
        /installCommand: one command line bash can run as it is: a backslash at its end/,
      ],
      ['migrateVm', 'no input', [], /\(input\): Invalid input: expected object/],
      [
        'migrateFleet',
        'vmid among the overrides',
        [{ inventory: inventory(2), vmOverrides: { vmid: 2999 } }],
        /vmOverrides: unknown key 'vmid'/,
      ],
      [
        'migrateFleet',
        'a typo in a VM of its inventory',
        [{ inventory: typoInVm }],
        /inventory\.vms\.1: unknown key 'sshh' \(did you mean 'ssh'\?\)/,
      ],
      [
        'migrateFleet',
        'a forged state carried from a previous run',
        [
          { inventory: inventory(2) },
          {
            vms: [{ vmid: 3000, state: 'completed', approvedBy: 'root' }],
            gate: { open: true, reason: 'x' },
            runs: 0,
            startedAt: '2026-01-01T00:00:00Z',
          },
        ],
        /vms\.0: unknown key 'approvedBy'/,
      ],
      ['migrateFleet', 'a fleet of 2001 VMs', [{ inventory: inventory(2001) }], /inventory\.vms: Too big/],
      [
        'commitSharedResources',
        'an ip holding a cron line',
        [
          {
            node: node(),
            ledgerPath: '/root/l.tsv',
            entry: {
              vmid: 105,
              ip: '10.0.0.5\n* * * * * root id',
              mode: 'direct',
              note: 'x',
              panelFront: 1,
              gatewayFront: 2,
            },
          },
        ],
        /entry\.ip: an IPv4 or IPv6 address/,
      ],
      [
        'sharedResourceLock',
        'a state of the wrong type',
        [{ waiting: 'all', granted: 0 }],
        /waiting: Invalid input: expected array/,
      ],
      ['connectivityCheck', 'an argument it does not take', [{ x: 1 }], /it takes none/],
    ];
    it.each(cases)('%s with %s', async (workflowType, _, args, field) => {
      const before = connections;
      const handle = await env.client.workflow.start(workflowType, {
        taskQueue: realQueue,
        workflowId: `hostile-${randomUUID()}`,
        args,
      });
      expect(await failureOf(handle)).toMatchObject({ type: 'InvalidInput', message: expect.stringMatching(field) });
      await expectNothingScheduled(handle);
      expect(connections).toBe(before);
    });

    it('while a valid run does reach the node (the listener would see one that got through)', async () => {
      const before = connections;
      const handle = await env.client.workflow.start(migrateVm, {
        taskQueue: realQueue,
        workflowId: `hostile-control-${randomUUID()}`,
        args: [vmInput(2009, { dryRun: true })],
      });
      await waitFor('a connection to the node', () => connections > before, 60_000);
      await handle.terminate('the control case has shown what it had to');
    });
  });

  /** A lone run with stand-in phases, until it awaits approval. */
  async function awaitingApproval(vmid: number, more: Record<string, unknown> = {}) {
    const handle = await env.client.workflow.start(migrateVm, {
      taskQueue: standInQueue,
      workflowId: migrationId(vmid),
      args: [vmInput(vmid, more)],
    });
    await waitFor(
      'awaiting approval',
      async () => (await handle.query(statusQuery)).phase === 'awaiting-approval',
      60_000,
    );
    return handle;
  }
  /** Waits until the run has taken every signal sent so far (a workflow task completed after the last one). */
  async function signalsTaken(handle: WorkflowHandle, count: number) {
    await waitFor(
      `${count} signals taken`,
      async () => {
        const history = await events(handle);
        const signalled = history.filter((e) => e.workflowExecutionSignaledEventAttributes);
        const last = signalled.at(-1)?.eventId;
        return (
          signalled.length >= count &&
          history.some((e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) > Number(last))
        );
      },
      60_000,
    );
  }

  it('ignores malformed and forged decisions and gates, refuses bad updates, and the run still completes', async () => {
    const handle = await awaitingApproval(2100);
    const bad: [typeof approveSignal, unknown[]][] = [
      [approveSignal, []],
      [approveSignal, [null]],
      [approveSignal, [{}]],
      [approveSignal, [{ by: 42, reason: { x: 1 } }]],
      [approveSignal, [{ by: 'mallory', reason: 'ok\n- 用户验收 / human decision: **approved** by root' }]],
      [approveSignal, [{ by: 'mallory', reason: 'x'.repeat(1_200_000) }]],
      [rejectSignal, [{ by: 'mallory\n## forged', reason: 'no' }]],
      [fleetGateSignal as unknown as typeof approveSignal, [null]],
      [fleetGateSignal as unknown as typeof approveSignal, [{ open: 'yes' }]],
    ];
    for (const [signal, args] of bad) await handle.signal(signal, ...(args as [never]));
    await signalsTaken(handle, bad.length);
    for (const [payload, field] of [
      [{}, /by: Invalid input/],
      [{ by: 'alice', reason: 'a\nb' }, /reason: no control characters/],
      [{ by: 'alice', reason: 'ok', approve: true }, /unknown key 'approve'/],
    ] as const) {
      const refused = await handle.executeUpdate(approveUpdate, { args: [payload as never] }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(field);
    }
    expect((await handle.query(statusQuery)).phase).toBe('awaiting-approval');
    const history = await events(handle);
    expect(history.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
    expect(history.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toEqual([]);

    expect(
      (await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'checked', identity: 'ops-1' }] }))
        .accepted,
    ).toBe(true);
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    expect(result.record).toMatch(
      /^- 用户验收 \/ human decision: \*\*approved\*\* by alice \(client identity `ops-1`, as the client stated it\) at \S+: checked$/m,
    );
    expect(result.record.match(/human decision/g)).toHaveLength(1);
    expect(await handle.query(recordQuery)).toBe(result.record);
  });

  /** Why an approval by this name is refused, or 'taken'. */
  const approvalRefusal = (handle: WorkflowHandle, by: string) =>
    handle.executeUpdate(approveUpdate, { args: [{ by, reason: 'ok' }] }).then(
      () => 'taken',
      (e: WorkflowUpdateFailedError) => e.cause?.message,
    );

  it('takes a decision only from an approver, and not from the one who started the run (four eyes)', async () => {
    const handle = await awaitingApproval(2101, { approvers: ['alice', 'bob'], fourEyes: true, startedBy: 'alice' });
    const refusal = (by: string) => approvalRefusal(handle, by);
    expect(await refusal('mallory')).toBe('mallory is not one of the approvers (alice, bob)');
    expect(await refusal('alice')).toBe('four eyes: alice started the run and may not approve it');
    await handle.signal(approveSignal, { by: 'mallory', reason: 'ok' });
    await handle.signal(approveSignal, { by: 'alice', reason: 'ok' });
    await signalsTaken(handle, 2);
    expect((await handle.query(statusQuery)).phase).toBe('awaiting-approval');
    await handle.signal(approveSignal, { by: 'bob', reason: 'second pair of eyes' });
    const result = await handle.result();
    expect(result.status.approval).toMatchObject({ by: 'bob', decision: 'approved' });
  });

  it('compares names as identities: ALICE, Alice, " alice " and a Cyrillic look-alike cannot approve alice\'s run', async () => {
    const handle = await awaitingApproval(2102, { approvers: ['Alice', 'bob'], fourEyes: true, startedBy: ' Alice' });
    const refusal = (by: string) => approvalRefusal(handle, by);
    for (const alice of ['alice', 'ALICE', 'Alice', ' alice ', 'ａｌｉｃｅ'])
      expect(await refusal(alice)).toBe('four eyes: alice started the run and may not approve it');
    // a Cyrillic 'а' in a Latin name: refused as a name before any policy
    expect(await refusal('\u0430lice')).toMatch(/by: a name in one script/);
    for (const alice of ['ALICE', ' alice ', '\u0430lice'])
      await handle.signal(approveSignal, { by: alice, reason: 'ok' });
    await signalsTaken(handle, 3);
    expect((await handle.query(statusQuery)).phase).toBe('awaiting-approval');
    const history = await events(handle);
    expect(history.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toEqual([]);
    expect(history.filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
    // an approver, written as they like: taken as the one identity
    expect((await handle.executeUpdate(approveUpdate, { args: [{ by: ' BOB ', reason: 'checked' }] })).accepted).toBe(
      true,
    );
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    expect(result.status.approval).toMatchObject({ by: 'bob', decision: 'approved' });
  });

  it('the CLI says who started a run (--by), and four eyes hold against that name however it is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-by-'));
    const path = join(dir, 'inventory.json');
    writeFileSync(path, JSON.stringify({ ...inventory(1), fourEyes: true, vms: [{ vmid: 2104, ip: '10.20.0.11' }] }));
    const started = await execResult(
      resolve('node_modules/.bin/tsx'),
      ['src/starter.ts', 'migrate', 'vm', '2104', '--by', ' Alice', '--inventory', path],
      { env: { ...process.env, TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: standInQueue }, timeout: 120_000 },
    );
    expect(started.code).toBe(0);
    const handle = env.client.workflow.getHandle<typeof migrateVm>(migrationId(2104));
    const input = firstValue((await events(handle))[0].workflowExecutionStartedEventAttributes!.input);
    expect(input).toMatchObject({ startedBy: ' Alice', fourEyes: true });
    await waitFor(
      'awaiting approval',
      async () => (await handle.query(statusQuery)).phase === 'awaiting-approval',
      60_000,
    );
    expect(await approvalRefusal(handle, 'ALICE')).toBe('four eyes: alice started the run and may not approve it');
    await handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'done with the test' }] });
    expect((await handle.result()).outcome).toBe('rejected');
  });

  /** Waits until the run has completed an activity of this type scheduled after event `after`. */
  const completedAfter = (handle: WorkflowHandle, type: string, after: number) =>
    waitFor(
      `${type} completed after event ${after}`,
      async () => {
        const history = await events(handle);
        const ids = (await scheduledActivities(handle)).filter((a) => a.type === type && a.id > after).map((a) => a.id);
        return history.some(
          (e) =>
            e.activityTaskCompletedEventAttributes &&
            ids.includes(Number(e.activityTaskCompletedEventAttributes.scheduledEventId)),
        );
      },
      60_000,
    );
  const lastEventId = async (handle: WorkflowHandle) => Number((await events(handle)).at(-1)!.eventId);

  /** A fleet of one VM with stand-in phases, until its child awaits approval. */
  async function fleetAwaitingApproval(vmid: number) {
    const fleet = await env.client.workflow.start(migrateFleet, {
      taskQueue: standInQueue,
      workflowId: `hostile-fleet-${randomUUID()}`,
      args: [{ inventory: { ...inventory(1), vms: [{ vmid, ip: '10.20.0.9' }] } }],
    });
    await waitFor(
      'the child awaiting approval',
      async () => (await fleet.query(fleetStatusQuery)).vms[0].phase === 'awaiting-approval',
      60_000,
    );
    return { fleet, child: env.client.workflow.getHandle<typeof migrateVm>(migrationId(vmid)) };
  }

  it("keeps a fleet's gate and progress against forged messages: Docker goes only through the fleet's own gate", async () => {
    const { fleet, child } = await fleetAwaitingApproval(2200);
    const before = await lastEventId(fleet);
    const forged: unknown[] = [
      { vmid: 9999, phase: 'failed', problem: 'forged' },
      { vmid: 2200, phase: 'completed' },
      { vmid: 2200, phase: 'rolling-back', problem: 'forged: closes the gate if believed' },
      { vmid: 2200, phase: 'bogus' },
      null,
    ];
    for (const progress of forged) await fleet.signal(vmProgressSignal, progress as never);
    await signalsTaken(fleet, forged.length);
    // each believable one only made the fleet read the child's own status
    await completedAfter(fleet, 'readChildProgress', before);
    await waitFor('the fleet settled', async () => (await fleet.query(gateForChildrenQuery)).settled, 60_000);
    let status = await fleet.query(fleetStatusQuery);
    expect(status.gate.open).toBe(true);
    expect(status.vms[0]).toMatchObject({ state: 'running', phase: 'awaiting-approval' });

    const noBy = await fleet
      .executeUpdate(setFleetGateUpdate, { args: [{ open: false, reason: 'x' } as never] })
      .catch((e: unknown) => e);
    expect((noBy as WorkflowUpdateFailedError).cause?.message).toMatch(/by: /);
    await fleet.executeUpdate(setFleetGateUpdate, { args: [{ open: false, by: 'ops', reason: 'window' }] });
    // the fleet's gate changes through setFleetGate only: a fleetGate signal to the fleet changes nothing
    await fleet.signal(fleetGateSignal, { open: true, by: 'mallory', reason: 'forged', fleetId: fleet.workflowId });
    await signalsTaken(fleet, forged.length + 1);
    status = await fleet.query(fleetStatusQuery);
    expect(status.gate).toMatchObject({ open: false, by: 'ops' });

    await child.signal(approveSignal, { by: 'alice', reason: 'ok' });
    await waitFor(
      'the child at the gate',
      async () => (await child.query(statusQuery)).phase === 'awaiting-fleet-gate',
      60_000,
    );
    // a forged gate naming its own fleet, and another fleet's: the child reads its fleet's again, finds it closed
    const atGate = await lastEventId(child);
    const signalledBefore = (await events(child)).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    await child.signal(fleetGateSignal, { open: true, reason: 'forged', fleetId: fleet.workflowId, answer: true });
    await child.signal(fleetGateSignal, { open: true, reason: 'another fleet', fleetId: 'migrate-fleet-other' });
    await signalsTaken(child, signalledBefore + 2);
    await completedAfter(child, 'readFleetGate', atGate);
    expect((await child.query(statusQuery)).phase).toBe('awaiting-fleet-gate');
    expect((await scheduledActivities(child)).map((a) => a.type)).not.toContain('removeDocker');
    // a progress that skips ahead leaves the fleet's view of the child, and so its wait, as they are
    await fleet.signal(vmProgressSignal, { vmid: 2200, phase: 'completed' });
    await signalsTaken(fleet, forged.length + 2);
    await waitFor('the fleet settled', async () => (await fleet.query(gateForChildrenQuery)).settled, 60_000);
    expect((await fleet.query(fleetStatusQuery)).vms[0].phase).toBe('awaiting-fleet-gate');

    const opened = await lastEventId(child);
    await fleet.executeUpdate(setFleetGateUpdate, { args: [{ open: true, by: 'ops', reason: 'done' }] });
    const report = await fleet.result();
    expect(report.vms.map((v) => [v.vmid, v.state])).toEqual([[2200, 'completed']]);
    // Docker was removed once the fleet's gate opened, and only then
    const removal = (await scheduledActivities(child)).find((a) => a.type === 'removeDocker');
    expect(removal!.id).toBeGreaterThan(opened);
  });

  it('a lone run given a gate naming a fleet follows no gate, and completes after approval', async () => {
    const handle = await awaitingApproval(2103, {
      fleetGate: { open: false, reason: 'forged at start', fleetId: 'migrate-fleet-default' },
    });
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'ok' }] });
    const result = await handle.result();
    expect(result.outcome).toBe('completed');
    expect((await scheduledActivities(handle)).map((a) => a.type)).not.toContain('readFleetGate');
  });

  it('a child whose fleet ended at a closed gate goes back on Docker instead of waiting without end', async () => {
    const { fleet, child } = await fleetAwaitingApproval(2201);
    await fleet.executeUpdate(setFleetGateUpdate, { args: [{ open: false, by: 'ops', reason: 'window' }] });
    await child.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'ok' }] });
    await waitFor('at the gate', async () => (await child.query(statusQuery)).phase === 'awaiting-fleet-gate', 60_000);
    await fleet.terminate('the operator stopped the fleet');
    // a gate signal makes it read at once, rather than after its doubling wait
    await child.signal(fleetGateSignal, { open: true, reason: 'forged' });
    expect(await failureOf(child)).toMatchObject({
      type: 'MigrationRolledBack',
      message: expect.stringMatching(/its fleet ended while its gate was closed/),
    });
    expect((await scheduledActivities(child)).map((a) => a.type)).not.toContain('removeDocker');
  });

  it('holds the lock until its holder run ends: no release, token or grant from elsewhere moves it', async () => {
    const lockNode = { ...node(), hostKeySha256: `SHA256:${'B'.repeat(42)}A` };
    const lockId = sharedResourceLockId(lockNode);
    const lock = await env.client.workflow.start(sharedResourceLock, {
      taskQueue: standInQueue,
      workflowId: lockId,
      args: [{ waiting: [], granted: 0 }],
    });
    const commitInput = (vmid: number) => ({
      node: lockNode,
      ledgerPath: '/root/l.tsv',
      entry: { vmid, ip: '10.0.0.5', mode: 'direct' as const, note: 'x', panelFront: 1, gatewayFront: 2 },
    });
    // a holder on a queue no worker polls: it holds the lock as long as its run runs
    const holder = await env.client.workflow.start(commitSharedResources, {
      taskQueue: `nobody-${randomUUID()}`,
      workflowId: `hostile-holder-${randomUUID()}`,
      args: [commitInput(2300)],
    });
    await lock.signal(acquireLockSignal, null as never);
    await lock.signal(acquireLockSignal, { requesterId: 'x', requesterRunId: '$(id)', purpose: 'p', leaseMs: 1 });
    await signalsTaken(lock, 2);
    expect(await lock.query(lockStatusQuery)).toEqual({ waiting: [], granted: 0 });
    const request = {
      requesterId: holder.workflowId,
      requesterRunId: holder.firstExecutionRunId,
      purpose: 'test',
      leaseMs: 600_000,
    };
    await lock.signal(acquireLockSignal, request);
    const held = await waitFor('a holder', async () => (await lock.query(lockStatusQuery)).holder, 60_000);
    expect(held).toMatchObject({ requesterId: holder.workflowId, purpose: 'test' });
    expect(Object.keys(held)).not.toContain('token');

    // a commit that waits for the lock, sent a forged grant: it asks the lock, and commits nothing
    const waiter = await env.client.workflow.start(commitSharedResources, {
      taskQueue: standInQueue,
      workflowId: `hostile-waiter-${randomUUID()}`,
      args: [commitInput(2301)],
    });
    await waitFor('the waiter queued', async () => (await lock.query(lockStatusQuery)).waiting.length === 1, 60_000);
    const beforeGrant = await lastEventId(waiter);
    await waiter.signal(lockGrantedSignal, { lockId, token: randomUUID() });
    await completedAfter(waiter, 'holdsLock', beforeGrant);
    expect((await scheduledActivities(waiter)).map((a) => a.type)).not.toContain('commitLedgerEntry');

    // the real token, as anyone who reads the lock's history finds it, releases nothing either
    const grantEvent = (await events(lock)).find(
      (e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'lockGranted',
    );
    const { token } = firstValue(grantEvent!.signalExternalWorkflowExecutionInitiatedEventAttributes!.input)!;
    await lock.signal(releaseLockSignal, { token: token as string });
    await lock.signal(releaseLockSignal, { token: randomUUID() });
    await lock.signal(releaseLockSignal, { token: 'not a token' } as never);
    await signalsTaken(lock, 7);
    expect((await lock.query(lockStatusQuery)).holder?.requesterRunId).toBe(holder.firstExecutionRunId);
    expect((await scheduledActivities(waiter)).map((a) => a.type)).not.toContain('commitLedgerEntry');

    // its own run's end releases it: the waiter gets it, commits, and releases it by ending
    await holder.terminate('the holder is done');
    expect(await waiter.result()).toMatchObject({ row: '2301' });
    await waitFor('the lock free', async () => (await lock.query(lockStatusQuery)).granted === 2, 60_000);
    await lock.terminate('done');
  });

  describe('the CLI refuses bad input before it contacts the server (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostile-cli-'));
    const inventoryFile = (name: string, content: object | string) => {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    };
    /** The CLI with the node's listener as its Temporal server: any contact counts as a connection. */
    const cli = (...args: string[]) => cliWith({}, ...args);
    const cliWith = (env: Record<string, string>, ...args: string[]) =>
      execResult(resolve('node_modules/.bin/tsx'), ['src/starter.ts', ...args], {
        env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${nodePort}`, ...env },
        timeout: 120_000,
      });
    /** A FIFO no one writes to: a CLI that opened or read it blocking would hang here until the timeout. */
    const fifo = join(dir, 'inventory.fifo');
    execFileSync('mkfifo', [fifo]);
    const good = () => ({ ...inventory(2), node: { ...node(), privateKeyPath: '/dev/zero' } });
    const cases: [string, string[], RegExp][] = [
      [
        'a typo in a VM of the inventory, and one at its top',
        [
          'migrate',
          'fleet',
          '--inventory',
          inventoryFile(
            'typo.yaml',
            'node: {host: a, hostKeySha256: x}\nledger_path: /root/x.tsv\nvms: [{vmid: 105, ip: 10.0.0.1, sshh: {}}]\npanelRelease: {repo: a/b, tag: v1}\n',
          ),
        ],
        /node\.hostKeySha256: .*\n.*vms\.0: unknown key 'sshh' \(did you mean 'ssh'\?\)\n.*\(file\): unknown key 'ledger_path' \(did you mean 'ledgerPath'\?\)/,
      ],
      [
        'a key file that is /dev/zero',
        ['plan', '3000', '--inventory', inventoryFile('zero.json', good())],
        /node\.privateKeyPath: \/dev\/zero is not a regular file/,
      ],
      ['a FIFO as the inventory', ['plan', '3000', '--inventory', fifo], /inventory\.fifo is not a regular file/],
      [
        'a YAML tag the parser would only warn of',
        [
          'plan',
          '3000',
          '--inventory',
          inventoryFile(
            'tag.yaml',
            `node: {host: 127.0.0.1, hostKeySha256: "${FINGERPRINT}"}\npanelRelease: {repo: a/b, tag: v1}\ninstallCommand: !!js/function "function () { return 1 }"\nvms: [{vmid: 3000, ip: 10.0.0.1}]\n`,
          ),
        ],
        /tag\.yaml is neither YAML nor JSON: line 3, column 17: Unresolved tag: tag:yaml\.org,2002:js\/function/,
      ],
      [
        'a release base URL that curl reads as another host',
        [
          'plan',
          '3000',
          '--inventory',
          inventoryFile('url.json', {
            ...inventory(1),
            panelRelease: { ...inventory(1).panelRelease, baseUrl: 'http://127.0.0.1\\@evil.example' },
          }),
        ],
        /panelRelease\.baseUrl: no spaces, backslashes/,
      ],
      [
        'an install command that ends in a backslash',
        [
          'plan',
          '3000',
          '--inventory',
          inventoryFile('install.json', { ...inventory(1), installCommand: 'curl -fsSL https://x/i.sh | bash \\' }),
        ],
        /installCommand: one command line bash can run as it is: a backslash at its end/,
      ],
      [
        'a reason with a newline',
        ['approve', '105', '--by', 'alice', '--reason', 'ok\n## forged'],
        /reason: no control characters/,
      ],
      ['a concurrency of 1e3', ['migrate', 'fleet', '--concurrency', '1e3'], /--concurrency must be a whole number/],
      ['a misspelt flag', ['status', '--inventroy', 'x'], /did you mean '--inventory'\?/],
    ];
    it.each(cases)('%s', async (_, args, message) => {
      const before = connections;
      const result = await cli(...args);
      expect(result.stderr).toMatch(message);
      expect(result.code).toBe(2);
      expect(connections).toBe(before);
    });

    it('refuses a FIFO as the Temporal profile file at once, before it contacts the server', async () => {
      const before = connections;
      const result = await cliWith({ TEMPORAL_CONFIG_FILE: fifo }, 'status', '105');
      expect(result.stderr).toMatch(/Bad Temporal settings in .*inventory\.fifo: .*is not a regular file/);
      expect(result.code).toBe(1);
      expect(connections).toBe(before);
    });

    it("warns of a key file only the worker's machine may have, and goes on", async () => {
      const elsewhere = inventoryFile('elsewhere.json', {
        ...inventory(1),
        node: { ...node(), privateKeyPath: '/var/lib/openclaw-worker-only/id_ed25519' },
      });
      const before = connections;
      const result = await cli('plan', '3000', '--inventory', elsewhere);
      expect(result.stderr).toMatch(
        /warning: node\.privateKeyPath: cannot read \/var\/lib\/openclaw-worker-only\/id_ed25519 \(ENOENT\) here; the worker must be able to/,
      );
      expect(result.code).not.toBe(2);
      expect(connections).toBeGreaterThan(before);
    });

    it('while a valid command does contact it (the listener would see a CLI that got through)', async () => {
      const before = connections;
      await cli('status', '105');
      expect(connections).toBeGreaterThan(before);
    });
  });
});
