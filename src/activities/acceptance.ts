import { UNKNOWN, type AcceptanceResult, type BotListing } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import {
  DOCKER_STATE_ON_VM,
  botListingScript,
  compareBots,
  movedPath,
  parseBotListing,
  type DirFiles,
} from './bot-listing';
import { GuestClockSchema, keyValues, requiredValue, refuse, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';
import { GATEWAY_UNIT, PANEL_UNIT } from './systemd-units';

/**
 * Phase H (SOP §5.10), and what proves continuity for the user (SOP §1: users must not notice): the panel runs the
 * release deployed, the bot it reports is the one installed, the fronts still take the customer's own login, and
 * the direct bot itself lists what the Docker-era one listed in the scan (bot-listing.sh, sourced ahead).
 */
export const acceptanceScript = `${botListingScript}\n${guestScript('acceptance.sh')}`;

/** How long the gateway and the panel may take to answer at all after G started them (a real gateway ~15 s). */
export const ANSWER_WAIT_S = 180;
/** How long one update check may take: a real panel's bot check runs `openclaw update status`, ~30 s offline. */
export const UPDATE_CHECK_S = 60;

/**
 * The directories whose files the acceptance counts: each Docker-era workspace on the VM, and where the direct bot
 * must resolve it (the same path under the run-as user's state directory).
 */
export function workspaceDirs(before: BotListing | undefined, runHome: string): string[] {
  if (!before || before.workspaces === UNKNOWN) return [];
  return before.workspaces.flatMap(({ workspace }) => [
    movedPath(workspace, DOCKER_STATE_ON_VM),
    movedPath(workspace, `${runHome}/.openclaw`),
  ]);
}

export function acceptanceCommand(params: MigrateVmParams, runHome: string, before?: BotListing): GuestCommand {
  const { panel, gateway, panelFront, gatewayFront } = params.ports;
  return {
    ...phaseCommand('acceptance', params.timeouts),
    script: acceptanceScript,
    args: [
      panel,
      gateway,
      panelFront,
      gatewayFront,
      ANSWER_WAIT_S,
      params.runAs.user,
      UPDATE_CHECK_S,
      GATEWAY_UNIT,
      PANEL_UNIT,
      ...workspaceDirs(before, runHome),
    ].map(String),
  };
}

/** What acceptance.sh prints of the guest's clock: the outage's end, not a check. */
const ANSWERED_AT_KEYS = ['panel_front_answered_at', 'gateway_front_answered_at'];
/** What acceptance.sh prints that the bots' comparison reads: kept in `bots`, not among the checks. */
const BOT_KEY = /^(bot_|user_enables_|dir_files$)/;

/** The first version-looking token, without a leading v: `OpenClaw 2026.9.6 (abc1234)` and `v2026.9.6` → 2026.9.6. */
export function versionToken(text: string): string | undefined {
  return /\bv?(\d+\.\d+(?:\.\d+)*(?:-[0-9A-Za-z.]+)?)/.exec(text)?.[1];
}

const currentTag = (answer: string) => /"currentTag"\s*:\s*"([^"]*)"/.exec(answer)?.[1];

/** `dir_files=<files> <0|1: MEMORY.md> <path>` lines, by path. */
export function dirFiles(lines: string[]): Map<string, DirFiles> {
  const dirs = new Map<string, DirFiles>();
  for (const line of lines) {
    const match = /^(\d+) ([01]) (.+)$/.exec(line);
    if (match) dirs.set(match[3], { files: Number(match[1]), memory: match[2] === '1' });
  }
  return dirs;
}

/**
 * The customer's token: accepted by the direct gateway (an unknown tool's 404, never 401), and the one the panel
 * reaches the gateway with. A customer without a token (`none`) has nothing to carry.
 */
export function tokenFailures(values: Map<string, string[]>): string[] {
  const get = (key: string) => values.get(key)?.[0];
  if (get('token_source') === 'none') return [];
  const failures: string[] = [];
  const accepted = (code: string | undefined) =>
    code !== undefined && /^[2-5]\d\d$/.test(code) && !/^40[13]$/.test(code);
  if (!accepted(get('token_gateway')))
    failures.push(
      `the customer's token (${get('token_source')}): the direct gateway answered ${get('token_gateway') || '(none)'}`,
    );
  if (get('token_panel') !== 'same')
    failures.push(`the panel's token: ${get('token_panel') || '(none)'}, not the customer's`);
  else if (!accepted(get('token_panel_gateway')))
    failures.push(`the panel's token: the direct gateway answered ${get('token_panel_gateway') || '(none)'}`);
  return failures;
}

/**
 * `runHome` and `before` (the scan's) are absent when a worker before bots were asked scheduled it: the direct bot's
 * own answers are then required, and nothing is compared with the Docker-era bot.
 */
export async function acceptanceChecks(
  params: MigrateVmParams,
  runHome?: string,
  before?: BotListing,
): Promise<AcceptanceResult> {
  const home = runHome ?? '';
  const result = await runChecked(params, acceptanceCommand(params, home, runHome === undefined ? undefined : before));
  const values = keyValues(result.stdout);
  const checks: Record<string, string> = {};
  for (const [key, list] of values)
    if (!ANSWERED_AT_KEYS.includes(key) && !BOT_KEY.test(key)) checks[key] = list.join(' ');
  const answered = ANSWERED_AT_KEYS.map((key) => values.get(key)?.[0]);
  const failures: string[] = [];
  /** the value of `key` in the guest's answer, which must have it */
  const answer = (key: string) => requiredValue(values, key);
  const expect = (what: string, actual: string | undefined, wanted: string | undefined) => {
    if (actual !== wanted) failures.push(`${what}: ${actual || '(none)'}, expected ${wanted ?? '(none)'}`);
  };
  expect('panel direct', answer('panel_direct'), '200');
  expect('gateway direct', answer('gateway_direct'), '200');
  expect('gateway ready (its /readyz, or its health RPC where it has none)', answer('gateway_ready'), 'yes');
  expect('panel front without login', answer('panel_front'), '401');
  expect('gateway front without login', answer('gateway_front'), '401');
  expect('panel front with the login of /root/OPENCLAW_WEB_LOGIN.txt', answer('panel_front_login'), '200');
  expect('gateway front with the login of /root/OPENCLAW_WEB_LOGIN.txt', answer('gateway_front_login'), '200');
  expect('panel currentTag', currentTag(answer('update_panel')), params.panelRelease.tag);
  const installed = versionToken(answer('openclaw_version'));
  if (!installed) failures.push(`openclaw --version printed no version: ${answer('openclaw_version') || '(none)'}`);
  else expect('bot currentTag', versionToken(currentTag(answer('update_bot')) ?? ''), installed);
  expect('sessions', answer('target_sessions'), answer('source_sessions'));
  expect('workspace files', answer('target_workspace'), answer('source_workspace'));
  for (const entry of values.get('proc_user') ?? []) {
    const [unit, user] = entry.split(':');
    expect(`${unit} process user`, user, params.runAs.user);
  }
  const after = parseBotListing(values);
  const compared = compareBots(
    runHome === undefined ? undefined : before,
    after,
    home,
    { skills: values.get('user_enables_skill') ?? [], plugins: values.get('user_enables_plugin') ?? [] },
    dirFiles(values.get('dir_files') ?? []),
  );
  failures.push(...compared.failures, ...tokenFailures(values));
  return {
    passed: failures.length === 0,
    failures,
    checks,
    bots: { ...(before && { before }), after, differences: compared.differences },
    // ISO times of one clock sort as they happened: the later of the two ends the outage
    ...(answered.every((ms) => ms !== undefined) && {
      answeredAt: answered.map((ms) => GuestClockSchema.parse(ms)).sort()[1],
    }),
  };
}

/** The acceptance as a gate: a failure is final for the run (it rolls back), never retried. */
export async function acceptance(
  params: MigrateVmParams,
  runHome?: string,
  before?: BotListing,
): Promise<AcceptanceResult> {
  const outcome = await acceptanceChecks(params, runHome, before);
  if (!outcome.passed)
    refuse('AcceptanceFailed', `acceptance failed on vm ${params.vmid}: ${outcome.failures.join('; ')}`, outcome);
  return outcome;
}
