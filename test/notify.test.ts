import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricMeter } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { notifyWith } from '../src/activities/notify';
import { webhookConfig } from '../src/config';
import type { Webhook } from '../src/notify/config';
import { acceptanceEvidence, messageOf, NotifyEventSchema, type NotifyEvent } from '../src/notify/events';
import { refusalOf, requestFor } from '../src/notify/formats';

/** What stands for a webhook's credential in these tests: no message may quote it. */
const SECRET = 'tok3nTOK3Ntok3n';
const hook = (over: Record<string, unknown>) => ({
  name: 'ops',
  format: 'json',
  url: `https://h.example/${SECRET}`,
  ...over,
});
const refusal = (env: NodeJS.ProcessEnv) => {
  try {
    webhookConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('not refused');
};
const inline = (...hooks: Record<string, unknown>[]) => ({ OPENCLAW_WEBHOOKS: JSON.stringify(hooks) });

describe('webhook settings', () => {
  it('are none when neither OPENCLAW_WEBHOOKS nor OPENCLAW_WEBHOOKS_FILE is set', () => {
    expect(webhookConfig({})).toEqual([]);
  });

  it('take each webhook with its URL in canonical form and the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openclaw-webhooks-'));
    const file = join(dir, 'webhooks.yaml');
    writeFileSync(
      file,
      [
        '- name: ops-feishu',
        '  format: feishu',
        `  url: HTTPS://Open.Feishu.CN:443/open-apis/bot/v2/hook/${SECRET}`,
        `  secret: ${SECRET}`,
        '  events: [awaiting-approval, gate-closed]',
        '- name: ops-slack',
        '  format: slack',
        `  url: https://hooks.slack.com/services/T0/B0/${SECRET}`,
        '  timeoutMs: 3000',
      ].join('\n'),
    );
    expect(webhookConfig({ OPENCLAW_WEBHOOKS_FILE: file })).toEqual([
      {
        name: 'ops-feishu',
        format: 'feishu',
        url: `https://open.feishu.cn/open-apis/bot/v2/hook/${SECRET}`,
        secret: SECRET,
        events: ['awaiting-approval', 'gate-closed'],
        timeoutMs: 10_000,
      },
      { name: 'ops-slack', format: 'slack', url: `https://hooks.slack.com/services/T0/B0/${SECRET}`, timeoutMs: 3000 },
    ]);
  });

  it.each([
    ['an unknown format', hook({ format: 'teams' }), /^ {2}\[0\] \(ops\)\.format: Invalid option/m],
    ['a URL not http(s)', hook({ url: `ftp://h.example/${SECRET}` }), /\[0\] \(ops\)\.url: must be an http\(s\) URL/],
    ['a URL with user:password@', hook({ url: `https://u:${SECRET}@h.example/` }), /\(ops\)\.url: must be/],
    ['no URL', hook({ url: undefined }), /\(ops\)\.url: Invalid input/],
    ['a secret on a format that does not sign', hook({ format: 'wecom', secret: SECRET }), /\.secret: only feishu/],
    ['an unknown event', hook({ events: ['vm-exploded'] }), /\(ops\)\.events\.0: Invalid option/],
    ['an unknown key', hook({ token: SECRET }), /\(ops\): Unrecognized key: "token"/],
    ['a timeout out of bounds', hook({ timeoutMs: 60_000 }), /\(ops\)\.timeoutMs: Too big/],
    ['a bad name', hook({ name: 'ops hook' }), /\[0\]\.name: 1–64 letters/],
  ])('refuse %s, naming the field and never the URL or secret', (_, bad, message) => {
    const said = refusal(inline(bad));
    expect(said).toMatch(/^Bad webhook settings in OPENCLAW_WEBHOOKS:/);
    expect(said).toMatch(message);
    expect(said).not.toContain(SECRET);
  });

  it('refuse two webhooks of one name, both sources at once, and a file that is not YAML without quoting it', () => {
    expect(refusal(inline(hook({}), hook({})))).toMatch(/\[1\] \(ops\)\.name: name 'ops' is given twice/);
    expect(refusal({ ...inline(hook({})), OPENCLAW_WEBHOOKS_FILE: '/x' })).toMatch(/not both/);
    const said = refusal({ OPENCLAW_WEBHOOKS: `- name: ops\n  url: "https://h.example/${SECRET}\n  format: [json` });
    expect(said).toMatch(/^Bad webhook settings in OPENCLAW_WEBHOOKS: not YAML or JSON at line \d+, column \d+$/);
    expect(said).not.toContain(SECRET);
  });
});

describe('the formats', () => {
  const event: NotifyEvent = {
    kind: 'awaiting-approval',
    vmid: 101,
    name: 'customer-1',
    node: 'pve-b',
    workflowId: 'migrate-vm-101',
    fleetId: 'migrate-fleet-default',
    evidence: acceptanceEvidence({ checks: { gateway_direct: '200', panel_front: '200' } }, 12_400),
    approve: "npm run starter -- approve 101 --reason '…'",
  };
  const { title, lines } = messageOf(event);
  const now = new Date('2026-12-06T10:00:00Z');
  const body = (format: Webhook['format'], secret?: string) => {
    const request = requestFor(
      { name: 'h', format, url: `https://h.example/hook?access_token=${SECRET}`, timeoutMs: 1000, secret },
      event,
      now,
    );
    return { url: new URL(request.url), json: JSON.parse(request.body) };
  };

  it("say the VM's node, the evidence and the command that approves", () => {
    expect(title).toBe('VM 101 (customer-1) on node pve-b awaits approval');
    expect(lines).toEqual([
      'Evidence: 2 acceptance checks passed (gateway_direct, panel_front); outage 12 s',
      "Approve: npm run starter -- approve 101 --reason '…'",
      'Run: migrate-vm-101 (fleet migrate-fleet-default)',
    ]);
  });

  it('name the node of every event about one VM, and none of an event recorded before events named it', () => {
    const kinds: NotifyEvent[] = [
      { kind: 'approval-reminder', vmid: 7, node: 'pve-b', workflowId: 'w', reminders: 1, waitingMs: 0, approve: 'a' },
      { kind: 'rollback-started', vmid: 7, node: 'pve-b', workflowId: 'w', why: 'x' },
      { kind: 'rollback-ended', vmid: 7, node: 'pve-b', workflowId: 'w', ended: 'incomplete', detail: 'x' },
      { kind: 'run-failed', vmid: 7, node: 'pve-b', workflowId: 'w', error: 'x' },
    ];
    for (const e of kinds)
      expect([e.kind, messageOf(NotifyEventSchema.parse(e)).title]).toEqual([
        e.kind,
        expect.stringMatching(/^VM 7 on node pve-b\b/),
      ]);
    // as recorded in a history before issue 22: no node, and none said
    const recorded = { kind: 'run-failed', vmid: 7, workflowId: 'w', error: 'x' };
    expect(messageOf(NotifyEventSchema.parse(recorded)).title).toBe('VM 7: migration failed');
    // still strict: a node that is no node name, or a key it does not know, is refused
    expect(NotifyEventSchema.safeParse({ ...recorded, node: 'pve b' }).success).toBe(false);
    expect(NotifyEventSchema.safeParse({ ...recorded, host: 'pve-b' }).success).toBe(false);
  });

  it("are each service's incoming-webhook message", () => {
    const text = [title, ...lines].join('\n');
    expect(body('json').json).toEqual({ event: 'awaiting-approval', title, text, details: event });
    expect(body('json').json.details.node).toBe('pve-b');
    expect(body('feishu').json).toEqual({ msg_type: 'text', content: { text } });
    expect(body('dingtalk').json).toEqual({
      msgtype: 'markdown',
      markdown: { title, text: `#### ${title}\n${lines.map((l) => `- ${l}`).join('\n')}` },
    });
    expect(body('wecom').json).toEqual({
      msgtype: 'markdown',
      markdown: { content: `**${title}**\n${lines.map((l) => `> ${l}`).join('\n')}` },
    });
    expect(body('slack').json).toEqual({
      text,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: title } },
        { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
      ],
    });
  });

  it("sign as Feishu and DingTalk verify: the body's timestamp and sign, or the URL's", () => {
    const feishu = body('feishu', 'fs-secret').json;
    expect(feishu.timestamp).toBe(String(now.getTime() / 1000));
    expect(feishu.sign).toBe(createHmac('sha256', `${feishu.timestamp}\nfs-secret`).digest('base64'));
    const { url } = body('dingtalk', 'SECdt');
    expect(url.searchParams.get('access_token')).toBe(SECRET);
    expect(url.searchParams.get('timestamp')).toBe(String(now.getTime()));
    expect(url.searchParams.get('sign')).toBe(
      createHmac('sha256', 'SECdt').update(`${now.getTime()}\nSECdt`).digest('base64'),
    );
  });

  it("take a service's refusal for one, whatever its HTTP status", () => {
    expect(refusalOf('feishu', 200, '{"code":0,"msg":"success"}')).toBeUndefined();
    expect(refusalOf('feishu', 200, '{"code":19024,"msg":"Key Words Not Found"}')).toBe(
      'code 19024: Key Words Not Found',
    );
    expect(refusalOf('dingtalk', 200, '{"errcode":310000,"errmsg":"sign not match"}')).toBe(
      'code 310000: sign not match',
    );
    expect(refusalOf('wecom', 200, '{"errcode":0,"errmsg":"ok"}')).toBeUndefined();
    expect(refusalOf('slack', 200, 'ok')).toBeUndefined();
    expect(refusalOf('slack', 403, 'invalid_token')).toBe('HTTP 403: invalid_token');
    expect(refusalOf('json', 204, '')).toBeUndefined();
    expect(refusalOf('wecom', 200, '<html>')).toBe("answered '<html>', not JSON");
  });
});

describe('the notify activity', () => {
  let server: Server;
  let base: string;
  const posted: string[] = [];
  beforeAll(async () => {
    // `/echo/…` refuses, quoting the URL it was posted to, as a careless receiver might
    server = createServer((req, res) => {
      posted.push(req.url!);
      req.resume();
      if (req.url!.startsWith('/echo/')) res.writeHead(403).end(`no hook at ${req.url}`);
      else res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const event: NotifyEvent = { kind: 'gate-opened', fleetId: 'migrate-fleet-default', by: 'alice', reason: 'ok' };
  /** A port nothing listens on: the connection is refused. */
  const refused = async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    return port;
  };
  /** Runs `notify` as one attempt would, with the heartbeat of the attempt before; answers what it did. */
  async function attempt(webhooks: Webhook[], before?: { delivered: string[] }) {
    const counted: Record<string, string>[] = [];
    const meter = { createCounter: () => ({ add: (_: number, tags: Record<string, string>) => counted.push(tags) }) };
    const env = new MockActivityEnvironment(
      { heartbeatDetails: before },
      { metricMeter: meter as unknown as MetricMeter },
    );
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    const outcome = await env
      .run(
        notifyWith(() => webhooks),
        event,
      )
      .then(
        (result) => ({ result }),
        (err: Error) => ({ error: err.message }),
      );
    return { outcome, counted, heartbeats };
  }

  it('posts to each webhook configured for the event, fails naming the one that did not take it, and counts', async () => {
    posted.length = 0;
    const hooks: Webhook[] = [
      { name: 'up', format: 'json', url: `${base}/up/${SECRET}`, timeoutMs: 2000 },
      { name: 'down', format: 'json', url: `http://127.0.0.1:${await refused()}/${SECRET}`, timeoutMs: 2000 },
      { name: 'elsewhere', format: 'json', url: `${base}/elsewhere`, timeoutMs: 2000, events: ['run-failed'] },
    ];
    const first = await attempt(hooks);
    expect(first.outcome).toEqual({
      error: "gate-opened not delivered: webhook 'down' (json): ECONNREFUSED",
    });
    expect(posted).toEqual([`/up/${SECRET}`]);
    expect(first.heartbeats).toEqual([{ delivered: ['up'] }]);
    expect(first.counted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ webhook: 'up', event: 'gate-opened', outcome: 'delivered' }),
        expect.objectContaining({ webhook: 'down', event: 'gate-opened', outcome: 'failed' }),
      ]),
    );
    // the retry, its heartbeat before it: only the webhook that failed is tried again
    const second = await attempt(hooks, { delivered: ['up'] });
    expect(posted).toEqual([`/up/${SECRET}`]);
    expect(second.counted).toEqual([expect.objectContaining({ webhook: 'down', outcome: 'failed' })]);
    // once it answers, the event is delivered to both
    hooks[1] = { ...hooks[1], url: `${base}/down` };
    expect((await attempt(hooks, { delivered: ['up'] })).outcome).toEqual({ result: { delivered: ['up', 'down'] } });
    expect(posted).toEqual([`/up/${SECRET}`, '/down']);
  });

  it("withholds the webhook's credentials from a refusal that quotes them", async () => {
    const url = `${base}/echo/${SECRET}?access_token=${SECRET}x`;
    const { outcome } = await attempt([{ name: 'echo', format: 'json', url, timeoutMs: 2000 }]);
    expect(outcome).toEqual({
      error:
        "gate-opened not delivered: webhook 'echo' (json): HTTP 403: no hook at /echo/[withheld]?access_token=[withheld]",
    });
  });

  it('sends nothing without webhooks, and refuses an event that is not one', async () => {
    expect((await attempt([])).outcome).toEqual({ result: { delivered: [] } });
    const env = new MockActivityEnvironment();
    await expect(
      env.run(
        notifyWith(() => []),
        { kind: 'vm-exploded' } as unknown as NotifyEvent,
      ),
    ).rejects.toThrow(/^notify: /);
  });
});
