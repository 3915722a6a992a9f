import type { SpawnSyncReturns } from 'node:child_process';
import { guestExec, guestModelRequests } from '../../lab/lab';
import type { DoctorReport } from '../../src/migration/contracts';
import type { Lab } from './lab';

/**
 * The user's bot asked through its own CLI in a lab guest: the Docker-era one in its container as the panel's compose
 * runs it (`node dist/index.js` in /app), the direct install's as its run-as user (root in the lab) would.
 */
export const dockerEraBot = (lab: Lab, vmid: number, ...args: string[]): SpawnSyncReturns<string> =>
  guestExec(lab, vmid, ['docker', 'exec', '-w', '/app', 'openclaw-gateway', 'node', 'dist/index.js', ...args]);
export const directBot = (lab: Lab, vmid: number, ...args: string[]): SpawnSyncReturns<string> =>
  guestExec(lab, vmid, ['env', 'HOME=/root', 'openclaw', ...args]);

/** A value of the compose project's .env (the gateway token lives there only). */
export const composeEnv = (lab: Lab, vmid: number, key: string): string | undefined =>
  (/^(\w+)=(.*)$/m.exec(guestExec(lab, vmid, ['grep', `^${key}=`, '/opt/openclaw/.env']).stdout) ?? [])[2];
export const customerToken = (lab: Lab, vmid: number): string => composeEnv(lab, vmid, 'OPENCLAW_GATEWAY_TOKEN') ?? '';

export interface SessionListing {
  sessions: Array<{ key: string; sessionId: string }>;
}
export const sessionKeys = (stdout: string): string[] =>
  (JSON.parse(stdout) as SessionListing).sessions.map((s) => s.key).sort();

type Bot = typeof dockerEraBot;
/** A gateway RPC with the given token, on the gateway's own port in the guest (18789 in Docker, 28789 direct). */
export const gatewayCall = (bot: Bot, lab: Lab, vmid: number, port: number, token: string, ...args: string[]) =>
  bot(lab, vmid, 'gateway', 'call', ...args, '--url', `ws://127.0.0.1:${port}`, '--token', token, '--json');

/**
 * The Docker-era bot answers its customer's token (as before a migration, or after a rollback), asked through its own
 * CLI on its container port: 2026.2.19 has no /health route (its Control UI answers there), so no release's HTTP
 * shape is assumed. The RPC's exit status: 0 when it answered.
 */
export const dockerEraAnswers = (lab: Lab, vmid: number): number | null =>
  gatewayCall(dockerEraBot, lab, vmid, 18789, customerToken(lab, vmid), 'health').status;

/** The devices a gateway lists as paired (`devices list --json`, both releases), asked with the given token. */
export function pairedDevices(bot: Bot, lab: Lab, vmid: number, port: number, token: string) {
  const listed = bot(lab, vmid, 'devices', 'list', '--json', '--url', `ws://127.0.0.1:${port}`, '--token', token);
  expect(listed.status).toBe(0);
  return (JSON.parse(listed.stdout) as { paired?: Array<{ deviceId: string; clientId?: string }> }).paired ?? [];
}

/** The sentence lab/guest/seed-state.sh wrote into the user's MEMORY.md. */
export const MEMORY_MARKER = 'the teal lighthouse keeps the backups';

/**
 * One agent turn in the user's main session asking the bot to read its MEMORY.md (the lab's model answers with a call
 * of the bot's `read` tool, lab/model-stub.ts); returns the CLI's answer and what the bot sent its model meanwhile.
 */
export function memoryTurn(bot: Bot, lab: Lab, vmid: number, port: number, token: string, idempotencyKey: string) {
  const before = guestModelRequests(lab, vmid).length;
  const params = {
    message: 'Read your MEMORY.md and tell me what it says.',
    sessionKey: 'agent:main:main',
    idempotencyKey,
  };
  const turn = gatewayCall(
    bot,
    lab,
    vmid,
    port,
    token,
    'agent',
    '--expect-final',
    '--timeout',
    '180000',
    '--params',
    JSON.stringify(params),
  );
  const sent = guestModelRequests(lab, vmid).slice(before);
  return { turn, sent: JSON.stringify(sent.map((r) => r.body)), paths: sent.map((r) => r.path) };
}

const inGuest = (lab: Lab, vmid: number, script: string) =>
  guestExec(lab, vmid, ['/bin/bash', '-c', script]).stdout.trim();

/** `path mode type link-target hardlinks`, then `sha256  ./path`, for every entry below a directory in a guest. */
export const treeOf = (lab: Lab, vmid: number, dir: string) =>
  inGuest(
    lab,
    vmid,
    `cd '${dir}' && find . -printf '%P %m %y %l %n\\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum`,
  );

/**
 * The migrated workspace is the Docker-era one as it was, but for what the installed release's doctor moved or
 * edited (phase E's result lists each; what it moved is checked byte for byte where it went).
 */
export function expectWorkspaceKept(lab: Lab, vmid: number, doctor: DoctorReport | undefined): void {
  const moves = (doctor?.moved ?? []).map((move) => move.split(' -> '));
  const touched = [...(doctor?.edited ?? []), ...moves.flat()]
    .filter((path) => path.startsWith('workspace/'))
    .map((path) => path.slice('workspace/'.length));
  const untouched = (tree: string) =>
    tree
      .split('\n')
      .filter((line) => !touched.some((path) => line.startsWith(`${path} `) || line.endsWith(`  ./${path}`)))
      .join('\n');
  expect(untouched(treeOf(lab, vmid, '/root/.openclaw/workspace'))).toBe(
    untouched(treeOf(lab, vmid, '/data/openclaw/workspace')),
  );
  for (const [from, to] of moves)
    expect(inGuest(lab, vmid, `sha256sum < '/root/.openclaw/${to}'`)).toBe(
      inGuest(lab, vmid, `sha256sum < '/data/openclaw/${from}'`),
    );
}
