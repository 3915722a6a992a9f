import { readFileSync } from 'node:fs';
import { guestExec, guestModelRequests } from '../../lab/lab';
import { prepareGuestImage } from '../../lab/guest-image';
import type { OpenClawRelease } from '../../lab/openclaw-cache';
import { startLab, stopLab, type Lab } from '../support/lab';

/**
 * The Docker-era VM as customers have it, asked through the bot's own CLI in its container: one guest of the
 * record's release (2026.2.19) and one of today's (2026.9.6), each with the state its real gateway wrote.
 */
const GUESTS: Record<number, OpenClawRelease> = { 105: '2026.2.19', 106: '2026.9.6' };
let lab: Lab;

const inGuest = (vmid: number, script: string, ...args: string[]) =>
  guestExec(lab, vmid, ['/bin/bash', '-c', script, 'docker-era-test', ...args]);
/** The bot's CLI in its container, as the panel's compose runs the gateway (`node dist/index.js` in /app). */
const botCli = (vmid: number, ...args: string[]) =>
  inGuest(vmid, 'docker exec -w /app openclaw-gateway node dist/index.js "$@"', ...args);
const envValue = (vmid: number, key: string) =>
  (/^(\w+)=(.*)$/m.exec(inGuest(vmid, 'grep "^$1=" /opt/openclaw/.env', key).stdout) ?? [])[2];

interface SessionListing {
  sessions: Array<{ key: string; sessionId: string }>;
}
const sessionKeys = (listing: SessionListing) => listing.sessions.map((s) => s.key).sort();

beforeAll(async () => {
  const started = Date.now();
  lab = await startLab({ guests: 2, dockerEraOf: { '105': GUESTS[105], '106': GUESTS[106] } });
  console.log(`lab up, 2 guests (2026.2.19 and 2026.9.6): ${((Date.now() - started) / 1000).toFixed(0)} s`);
}, 1_800_000);
afterAll(() => stopLab(lab), 120_000);

describe.each(Object.entries(GUESTS).map(([vmid, release]) => [Number(vmid), release] as const))(
  'guest %d, Docker-era OpenClaw %s',
  (vmid, release) => {
    it('runs the release from the compose project in the panel shape, its token in .env only', () => {
      expect(botCli(vmid, '--version').stdout).toContain(release);
      expect(envValue(vmid, 'OPENCLAW_IMAGE')).toBe(`ghcr.io/openclaw/openclaw:${release}`);
      expect(inGuest(vmid, 'stat -c "%a %U" /opt/openclaw/.env').stdout.trim()).toBe('600 root');
      const token = envValue(vmid, 'OPENCLAW_GATEWAY_TOKEN');
      expect(token).toMatch(/^[0-9a-f]{48}$/);
      expect(inGuest(vmid, 'grep -rlF "$1" /data/openclaw /opt/openclaw/docker-compose.yml', token).stdout).toBe('');
      const command = inGuest(vmid, "docker inspect -f '{{json .Config.Cmd}} {{.Config.User}}' openclaw-gateway");
      expect(command.stdout.trim()).toBe('["node","dist/index.js","gateway","--bind","lan","--port","18789"] node');
      expect(inGuest(vmid, 'find /data/openclaw ! -uid 1000 | head -n 3').stdout).toBe('');
    });

    it("lists, with the bot's own CLI, the sessions its real gateway wrote (a channel-style key among them)", async () => {
      const listed = JSON.parse(botCli(vmid, 'sessions', '--json').stdout) as SessionListing;
      const image = await prepareGuestImage();
      const seeded = JSON.parse(readFileSync(`${image.stateTgz[release]}.sessions.json`, 'utf8')) as SessionListing;
      expect(sessionKeys(listed)).toEqual(sessionKeys(seeded));
      expect(sessionKeys(listed)).toEqual(
        expect.arrayContaining(['agent:main:main', 'agent:main:telegram:direct:4242', 'agent:main:ops-review']),
      );
      // 2026.9.6 keeps its cron jobs in its own store, no longer in cron/jobs.json: the bot is asked
      expect(botCli(vmid, 'cron', 'list', '--all', '--json').stdout).toContain('daily backup reminder');
      expect(inGuest(vmid, 'cat /data/openclaw/devices/paired.json').stdout).toContain('"clientId": "cli"');
    });

    it("accepts the token in .env, and no other; an agent turn reaches the guest's model endpoint", () => {
      const token = envValue(vmid, 'OPENCLAW_GATEWAY_TOKEN') as string;
      const call = (withToken: string, method: string, params = '{}') =>
        botCli(
          vmid,
          'gateway',
          'call',
          method,
          '--url',
          'ws://127.0.0.1:18789',
          '--token',
          withToken,
          '--params',
          params,
          '--json',
        );
      const health = call(token, 'health');
      expect(health.stderr).not.toMatch(/unauthorized|mismatch/i);
      expect(health.status).toBe(0);
      const wrong = call('not-the-customers-token', 'health');
      expect(wrong.status).not.toBe(0);
      expect(wrong.stdout + wrong.stderr).toMatch(/unauthorized|mismatch/i);

      const before = guestModelRequests(lab, vmid).length;
      const turn = botCli(
        vmid,
        'gateway',
        'call',
        'agent',
        '--url',
        'ws://127.0.0.1:18789',
        '--token',
        token,
        '--expect-final',
        '--timeout',
        '180000',
        '--params',
        JSON.stringify({
          message: 'Read your MEMORY.md and tell me what it says.',
          sessionKey: 'agent:main:main',
          idempotencyKey: 'test-1',
        }),
        '--json',
      );
      expect(turn.status).toBe(0);
      const sent = guestModelRequests(lab, vmid).slice(before);
      expect(sent.map((r) => r.path)).toContain('/v1/chat/completions');
      // the user's MEMORY.md, as the Docker-era bot read it from its workspace and put it in front of its model
      expect(JSON.stringify(sent.map((r) => r.body))).toContain('the teal lighthouse keeps the backups');
    }, 300_000);
  },
);
