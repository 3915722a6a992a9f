import { readFileSync } from 'node:fs';
import { guestExec } from '../../lab/lab';
import { prepareGuestImage } from '../../lab/guest-image';
import type { OpenClawRelease } from '../../lab/openclaw-cache';
import {
  composeEnv,
  customerToken,
  dockerEraBot,
  gatewayCall,
  memoryTurn,
  MEMORY_MARKER,
  pairedDevices,
  sessionKeys,
} from '../support/bot';
import { startLab, stopLab, type Lab } from '../support/lab';

/**
 * The Docker-era VM as customers have it, asked through the bot's own CLI in its container: one guest of the
 * record's release (2026.2.19) and one of today's (2026.9.6), each with the state its real gateway wrote.
 */
const GUESTS: Record<number, OpenClawRelease> = { 105: '2026.2.19', 106: '2026.9.6' };
let lab: Lab;

const inGuest = (vmid: number, script: string, ...args: string[]) =>
  guestExec(lab, vmid, ['/bin/bash', '-c', script, 'docker-era-test', ...args]);
const botCli = (vmid: number, ...args: string[]) => dockerEraBot(lab, vmid, ...args);
const PAIRED_CLIENTS: Record<OpenClawRelease, string[]> = { '2026.2.19': ['cli'], '2026.9.6': [] };
/** The gateway listens on 18789 in its container. */
const GATEWAY_PORT = 18789;

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
      expect(composeEnv(lab, vmid, 'OPENCLAW_IMAGE')).toBe(`ghcr.io/openclaw/openclaw:${release}`);
      expect(inGuest(vmid, 'stat -c "%a %U" /opt/openclaw/.env').stdout.trim()).toBe('600 root');
      const token = customerToken(lab, vmid);
      expect(token).toMatch(/^[0-9a-f]{48}$/);
      expect(inGuest(vmid, 'grep -rlF "$1" /data/openclaw /opt/openclaw/docker-compose.yml', token).stdout).toBe('');
      const command = inGuest(vmid, "docker inspect -f '{{json .Config.Cmd}} {{.Config.User}}' openclaw-gateway");
      expect(command.stdout.trim()).toBe('["node","dist/index.js","gateway","--bind","lan","--port","18789"] node');
      expect(inGuest(vmid, 'find /data/openclaw ! -uid 1000 | head -n 3').stdout).toBe('');
    });

    it("lists, with the bot's own CLI, the sessions its real gateway wrote (a channel-style key among them)", async () => {
      const listed = botCli(vmid, 'sessions', '--json').stdout;
      const image = await prepareGuestImage();
      const seeded = readFileSync(`${image.stateTgz[release]}.sessions.json`, 'utf8');
      // every one the seeding left, and what the live bot made since (its cron job's runs are sessions too)
      expect(sessionKeys(listed)).toEqual(expect.arrayContaining(sessionKeys(seeded)));
      expect(sessionKeys(listed)).toEqual(
        expect.arrayContaining(['agent:main:main', 'agent:main:telegram:direct:4242', 'agent:main:ops-review']),
      );
      // 2026.9.6 keeps its cron jobs in its own store, no longer in cron/jobs.json: the bot is asked, through its
      // gateway by loopback (its config binds lan, and its CLI refuses plaintext ws:// to the LAN address)
      const token = customerToken(lab, vmid);
      const gateway = ['--url', `ws://127.0.0.1:${GATEWAY_PORT}`, '--token', token];
      expect(botCli(vmid, 'cron', 'list', '--all', '--json', ...gateway).stdout).toContain('daily backup reminder');
      // the devices the seeding left paired, as the bot lists them: 2026.2.19 paired the seeding's CLI; 2026.9.6
      // let it in by its token on loopback and lists none
      const paired = pairedDevices(dockerEraBot, lab, vmid, GATEWAY_PORT, token);
      expect(paired.map((device) => device.clientId)).toEqual(PAIRED_CLIENTS[release]);
    });

    it("accepts the token in .env, and no other; an agent turn reads the user's MEMORY.md", () => {
      const token = customerToken(lab, vmid);
      const health = gatewayCall(dockerEraBot, lab, vmid, GATEWAY_PORT, token, 'health');
      expect(health.stderr).not.toMatch(/unauthorized|mismatch/i);
      expect(health.status).toBe(0);
      const wrong = gatewayCall(dockerEraBot, lab, vmid, GATEWAY_PORT, 'not-the-customers-token', 'health');
      expect(wrong.status).not.toBe(0);
      expect(wrong.stdout + wrong.stderr).toMatch(/unauthorized|mismatch/i);

      const { turn, sent, paths } = memoryTurn(dockerEraBot, lab, vmid, GATEWAY_PORT, token, 'test-1');
      expect(turn.status).toBe(0);
      expect(paths).toContain('/v1/chat/completions');
      // the user's MEMORY.md, as the Docker-era bot read it from its workspace and put it in front of its model
      expect(sent).toContain(MEMORY_MARKER);
    }, 300_000);
  },
);
