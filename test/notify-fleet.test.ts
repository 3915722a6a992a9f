import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetStatusQuery, setFleetGateUpdate } from '../src/fleet/messages';
import { failure } from '../src/failures';
import { notifyWith } from '../src/activities/notify';
import { migrateVmInputFor } from '../src/migration/from-inventory';
import { approveUpdate, migrationId } from '../src/migration/messages';
import type { Webhook } from '../src/notify/config';
import { NotifyEventSchema, type NotifyEvent } from '../src/notify/events';
import { migrateFleet, migrateVm } from '../src/workflows';
import { approveAsTheyArrive, standInInventory } from './support/fleet';
import { standInActivities } from './support/stand-in-activities';
import { runWorker, startDevServer } from './support/temporal';
import { historyText } from './support/history';
import { waitFor } from './support/wait';

/** What a loopback webhook receiver was sent. */
interface Received {
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
}

/**
 * A loopback webhook receiver (127.0.0.1, a free port): keeps every request and answers each as its service does, by
 * the first path segment (`/feishu/…` as Feishu). `/flaky/…` answers 500 to the first request of each event, then as
 * the generic receiver; `/hang/…` never answers.
 */
async function receiver(): Promise<{ base: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const failedOnce = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://127.0.0.1');
      const body = JSON.parse(data) as Record<string, unknown>;
      const service = url.pathname.split('/')[1];
      if (service === 'hang') return;
      received.push({ path: url.pathname, query: url.searchParams, body });
      if (service === 'flaky' && !failedOnce.has(String(body.text))) {
        failedOnce.add(String(body.text));
        return void res.writeHead(500).end('planted');
      }
      const answers: Record<string, string> = {
        feishu: '{"code":0,"msg":"success","data":{}}',
        dingtalk: '{"errcode":0,"errmsg":"ok"}',
        wecom: '{"errcode":0,"errmsg":"ok"}',
        slack: 'ok',
      };
      res.writeHead(service in answers ? 200 : 204).end(answers[service] ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}

/**
 * Notifications from a fleet, sent by the `notify` activity to loopback webhooks: the real dev server, workflows and
 * worker, each phase a 100 ms stand-in.
 */
describe('notifications', () => {
  jest.setTimeout(120_000);
  let env: TestWorkflowEnvironment;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  const stops: (() => Promise<void>)[] = [];
  const TOKEN = 'tok3nTOK3Ntok3n';
  /** VM 2001 fails its acceptance checks and rolls back; 2002's scan is refused: its run fails */
  const [OK, ROLLS_BACK, FAILS] = [2000, 2001, 2002];

  beforeAll(async () => {
    env = await startDevServer();
    hooks = await receiver();
  }, 120_000);
  afterAll(async () => {
    for (const stop of stops) await stop();
    hooks?.server.closeAllConnections();
    hooks?.server.close();
    await env?.teardown();
  });

  /** A worker whose `notify` tells `webhooks`, on a task queue of its own. */
  async function workerWith(webhooks: Omit<Webhook, 'timeoutMs'>[], timeoutMs = 5000) {
    const activities = standInActivities({
      phaseMs: 100,
      failAcceptance: [ROLLS_BACK],
      fail: { scan: ({ vmid }) => (vmid === FAILS ? failure('PreflightRefused', 'planted: no docker') : undefined) },
    });
    const configured = webhooks.map((hook) => ({ ...hook, timeoutMs }));
    const { taskQueue, stop } = await runWorker(env, { ...activities, notify: notifyWith(() => configured) });
    stops.push(stop);
    return taskQueue;
  }

  it('tells each webhook each event once, in its format, and counts them in the fleet status', async () => {
    const url = (service: string) => `${hooks.base}/${service}/hook/${TOKEN}?access_token=${TOKEN}`;
    const taskQueue = await workerWith([
      { name: 'generic', format: 'json', url: url('json') },
      { name: 'feishu', format: 'feishu', url: url('feishu'), secret: 'fs-secret' },
      { name: 'dingtalk', format: 'dingtalk', url: url('dingtalk'), secret: 'SECdt' },
      { name: 'wecom', format: 'wecom', url: url('wecom') },
      { name: 'slack', format: 'slack', url: url('slack') },
      // fails every event once: the retry posts to it alone, not again to those that took it
      { name: 'flaky', format: 'json', url: url('flaky') },
      { name: 'gate-only', format: 'json', url: url('gate'), events: ['gate-closed', 'gate-opened'] },
    ]);
    const inventory = standInInventory(3);
    inventory.vms.forEach((vm, i) => Object.assign(vm, { vmid: OK + i, name: `customer-${i}` }));
    // all three at once (no canary): the first waits for its approval, which holds the fleet open while the others'
    // rollback and failure close its gate and the operator opens it again
    const handle = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `notify-${randomUUID()}`,
      args: [{ inventory, concurrency: 3, canary: 0, failureBudget: 3 }],
    });
    await waitFor(
      'the rollback and the failure, the first awaiting approval',
      async () => {
        const { vms } = await handle.query(fleetStatusQuery);
        return vms[0].phase === 'awaiting-approval' && vms[1].state === 'rolled-back' && vms[2].state === 'failed';
      },
      60_000,
    );
    await handle.executeUpdate(setFleetGateUpdate, { args: [{ open: true, by: 'Alice', reason: 'understood' }] });
    const stopApproving = approveAsTheyArrive(env.client, handle);
    const report = await handle.result().finally(stopApproving);
    expect(report.counts).toEqual({ completed: 1, 'rolled-back': 1, failed: 1 });

    const events = hooks.received
      .filter((r) => r.path.startsWith('/json/'))
      .map((r) => NotifyEventSchema.parse(r.body.details));
    const of = (kind: NotifyEvent['kind']) => events.filter((e) => e.kind === kind);
    const key = (e: NotifyEvent) => `${e.kind} ${'vmid' in e ? e.vmid : e.fleetId}`;
    expect(events.map(key).sort()).toEqual(
      [
        `awaiting-approval ${OK}`,
        `gate-closed ${handle.workflowId}`, // by the rollback
        `gate-closed ${handle.workflowId}`, // by the failure
        `gate-opened ${handle.workflowId}`,
        `rollback-started ${ROLLS_BACK}`,
        `rollback-ended ${ROLLS_BACK}`,
        `run-failed ${FAILS}`,
        `fleet-finished ${handle.workflowId}`,
      ].sort(),
    );
    // each event about one VM names its node: the one-node inventory's, named by its host
    const aboutOneVm = events.filter((e) => 'vmid' in e);
    expect(aboutOneVm.map((e) => 'vmid' in e && [e.vmid, e.node])).toEqual(
      aboutOneVm.map((e) => 'vmid' in e && [e.vmid, '127.0.0.1']),
    );
    expect(of('awaiting-approval')[0]).toMatchObject({
      name: 'customer-0',
      workflowId: migrationId(OK),
      evidence: expect.stringMatching(/^acceptance passed; outage \d+\.\d s$/),
      approve: `npm run starter -- approve ${OK} --reason '…'`,
    });
    expect(of('gate-closed').map((e) => 'by' in e && [e.by, e.reason])).toEqual(
      expect.arrayContaining([
        ['migrateFleet', expect.stringMatching(new RegExp(`^vm ${ROLLS_BACK} is roll(ing|ed)-back: `))],
        ['migrateFleet', expect.stringMatching(new RegExp(`^vm ${FAILS} failed: `))],
      ]),
    );
    expect(of('gate-opened')).toEqual([
      { kind: 'gate-opened', fleetId: handle.workflowId, by: 'alice', reason: 'understood' },
    ]);
    expect(of('rollback-ended')[0]).toMatchObject({ ended: 'done', detail: expect.stringMatching(/^rolled-back: /) });
    expect(of('run-failed')[0]).toMatchObject({ error: expect.stringMatching(/^in scan: /) });
    expect(of('fleet-finished')[0]).toMatchObject({
      counts: { completed: 1, 'rolled-back': 1, failed: 1 },
      outage: { vms: 1, medianMs: expect.any(Number), maxMs: expect.any(Number) },
    });

    // every format got the same events, each once, in its service's shape
    const titles = hooks.received
      .filter((r) => r.path.startsWith('/json/'))
      .map((r) => r.body.title)
      .sort();
    const vmTitles = titles.filter((t) => /^VM /.test(String(t)));
    expect(vmTitles).toHaveLength(4);
    for (const t of vmTitles) expect(t).toMatch(/^VM \d+ \(customer-\d\) on node 127\.0\.0\.1\b/);
    const bodies = (service: string) => hooks.received.filter((r) => r.path.startsWith(`/${service}/`));
    const shapes: Record<string, (body: Record<string, unknown>) => unknown> = {
      feishu: (b) => (
        expect(b).toEqual({
          timestamp: expect.any(String),
          sign: expect.any(String),
          msg_type: 'text',
          content: { text: expect.any(String) },
        }),
        (b.content as { text: string }).text.split('\n')[0]
      ),
      dingtalk: (b) => (
        expect(b).toEqual({
          msgtype: 'markdown',
          markdown: { title: expect.any(String), text: expect.stringMatching(/^#### /) },
        }),
        (b.markdown as { title: string }).title
      ),
      wecom: (b) => (
        expect(b).toEqual({ msgtype: 'markdown', markdown: { content: expect.stringMatching(/^\*\*.+\*\*\n> /) } }),
        (b.markdown as { content: string }).content.split('\n')[0].slice(2, -2)
      ),
      slack: (b) => (
        expect(b).toEqual({
          text: expect.any(String),
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: expect.any(String) } },
            { type: 'section', text: { type: 'mrkdwn', text: expect.any(String) } },
          ],
        }),
        (b.blocks as { text: { text: string } }[])[0].text.text
      ),
    };
    for (const [service, titleOf] of Object.entries(shapes))
      expect([
        service,
        bodies(service)
          .map((r) => titleOf(r.body))
          .sort(),
      ]).toEqual([service, titles]);
    // signed as each service verifies: Feishu in the body, DingTalk on the URL beside its access_token
    for (const { body } of bodies('feishu'))
      expect(body.sign).toBe(createHmac('sha256', `${body.timestamp}\nfs-secret`).digest('base64'));
    for (const { query } of bodies('dingtalk')) {
      expect(query.get('access_token')).toBe(TOKEN);
      expect(query.get('sign')).toBe(
        createHmac('sha256', 'SECdt')
          .update(`${query.get('timestamp')}\nSECdt`)
          .digest('base64'),
      );
    }
    // the flaky webhook got each event twice (refused, then taken); one filtered to the gate got the gate alone
    expect(bodies('flaky').length).toBe(2 * events.length);
    expect(
      bodies('gate')
        .map((r) => r.body.event)
        .sort(),
    ).toEqual(['gate-closed', 'gate-closed', 'gate-opened']);
    expect(report.notifications).toEqual({ sent: events.length, undelivered: 0 });
  });

  it("tells a lone run's events of its own, reminders included; a fleet's child tells its reminders only", async () => {
    const taskQueue = await workerWith([{ name: 'lone', format: 'json', url: `${hooks.base}/lone/hook` }]);
    const inventory = standInInventory(3);
    inventory.vms.forEach((vm, i) => Object.assign(vm, { vmid: OK + i }));
    const timeouts = { approvalReminderMs: 300 };
    const start = (vmid: number) =>
      env.client.workflow.start(migrateVm, {
        taskQueue,
        workflowId: `lone-${vmid}-${randomUUID()}`,
        args: [migrateVmInputFor(inventory, vmid, { timeouts })],
      });
    const [ok, rollsBack, fails] = await Promise.all([OK, ROLLS_BACK, FAILS].map(start));
    const told = (workflowId: string) =>
      hooks.received
        .filter((r) => r.path.startsWith('/lone/'))
        .map((r) => NotifyEventSchema.parse(r.body.details))
        .filter((e) => 'workflowId' in e && e.workflowId === workflowId);
    await waitFor('two reminders', async () => told(ok.workflowId).length >= 3, 30_000);
    await ok.executeUpdate(approveUpdate, { args: [{ by: 'alice', reason: 'checked' }] });
    expect((await ok.result()).outcome).toBe('completed');
    await expect(rollsBack.result()).rejects.toThrow();
    await expect(fails.result()).rejects.toThrow();
    const kinds = (workflowId: string) => told(workflowId).map((e) => e.kind);
    const okKinds = kinds(ok.workflowId);
    expect(okKinds[0]).toBe('awaiting-approval');
    expect(okKinds.slice(1)).toEqual(okKinds.slice(1).map(() => 'approval-reminder'));
    expect(told(ok.workflowId)[1]).toMatchObject({
      reminders: 1,
      node: '127.0.0.1',
      approve: `npm run starter -- approve ${OK} --reason '…'`,
    });
    // each told before its run ended: a lone run waits for what it sent
    expect(kinds(rollsBack.workflowId)).toEqual(['rollback-started', 'rollback-ended']);
    expect(kinds(fails.workflowId)).toEqual(['run-failed']);

    // in a fleet, its children tell their reminders, the fleet every other event
    const fleet = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `notify-${randomUUID()}`,
      args: [{ inventory: standInInventory(1), concurrency: 1, vmOverrides: { timeouts } }],
    });
    const childKinds = () => kinds(migrationId(1000));
    await waitFor('a reminder from the child', async () => childKinds().includes('approval-reminder'), 30_000);
    await fleet.terminate('enough');
    // awaiting approval told once, by the fleet; the reminders by the child
    expect(childKinds().filter((kind) => kind !== 'approval-reminder')).toEqual(['awaiting-approval']);
  });

  it('lets a dead webhook hold up neither the migration nor the fleet beyond its bound, and counts it', async () => {
    const dead = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const taskQueue = await workerWith(
      [
        { name: 'refused', format: 'slack', url: `http://127.0.0.1:${dead}/services/${TOKEN}` },
        { name: 'silent', format: 'wecom', url: `${hooks.base}/hang/send?key=${TOKEN}` },
      ],
      300,
    );
    const inventory = standInInventory(1);
    inventory.vms[0].vmid = 2100;
    const handle = await env.client.workflow.start(migrateFleet, {
      taskQueue,
      workflowId: `notify-dead-${randomUUID()}`,
      args: [{ inventory }],
    });
    const stopApproving = approveAsTheyArrive(env.client, handle);
    const report = await handle.result().finally(stopApproving);
    expect(report.counts).toEqual({ completed: 1 });
    // the child ended while the fleet's first notification (its approval) was still being tried: nothing awaited it
    const { events } = await handle.fetchHistory();
    const childEnded = events!.findIndex((e) => e.childWorkflowExecutionCompletedEventAttributes);
    const notifyGaveUp = events!.findIndex((e) => e.activityTaskFailedEventAttributes);
    expect([childEnded > 0, notifyGaveUp > childEnded]).toEqual([true, true]);
    // the fleet waited for its last notification's attempts (4 of 300 ms, 1 + 2 + 4 s apart) and no longer
    const [child, fleet] = [await env.client.workflow.getHandle(migrationId(2100)).describe(), await handle.describe()];
    expect(fleet.closeTime!.getTime() - child.closeTime!.getTime()).toBeLessThan(7_000 + 4 * 300 + 5_000);
    // the webhooks' URLs are the worker's: never in the history, nor in what the fleet reports
    expect(await historyText(handle)).not.toContain(TOKEN);
    expect(report.notifications).toMatchObject({
      sent: 0,
      undelivered: 2,
      lastFailure: expect.stringMatching(
        /^(awaiting-approval|fleet-finished) not delivered: webhook '(refused|silent)' .*(ECONNREFUSED|no answer within 300 ms)/,
      ),
    });
    expect(report.notifications!.lastFailure).not.toContain(TOKEN);
  });
});
