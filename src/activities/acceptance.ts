import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { GuestClockSchema, keyValues, one, refuse, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';
import { GATEWAY_UNIT, PANEL_UNIT } from './systemd-units';

/**
 * Phase H (SOP §5.10), and what proves continuity for the user (SOP §1: users must not notice): the panel runs the
 * release deployed, the bot it reports is the one installed, the fronts still take the customer's own login.
 */
export const acceptanceScript = guestScript('acceptance.sh');

/** How long the gateway and the panel may take to answer at all after G started them (a real gateway ~15 s). */
export const ANSWER_WAIT_S = 180;
/** How long one update check may take: a real panel's bot check runs `openclaw update status`, ~30 s offline. */
export const UPDATE_CHECK_S = 60;

export function acceptanceCommand(params: MigrateVmParams): GuestCommand {
  const { panel, gateway, panelFront, gatewayFront } = params.ports;
  return {
    label: 'acceptance',
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
    ].map(String),
    timeoutMs: params.timeouts.commandMs,
  };
}

export interface AcceptanceResult {
  passed: boolean;
  failures: string[];
  checks: Record<string, string>;
  /**
   * when the direct gateway and panel had both first answered 200 with the customer's login through their fronts,
   * by the guest's clock: the customer's outage ends here. Absent when one never did, and in the results of
   * workers before the outage was measured (histories replay those)
   */
  answeredAt?: string;
}

/** What acceptance.sh prints of the guest's clock: the outage's end, not a check. */
const ANSWERED_AT_KEYS = ['panel_front_answered_at', 'gateway_front_answered_at'];

/** The first version-looking token, without a leading v: `OpenClaw 2026.9.6 (abc1234)` and `v2026.9.6` → 2026.9.6. */
export function versionToken(text: string): string | undefined {
  return /\bv?(\d+\.\d+(?:\.\d+)*(?:-[0-9A-Za-z.]+)?)/.exec(text)?.[1];
}

const currentTag = (answer: string) => /"currentTag"\s*:\s*"([^"]*)"/.exec(answer)?.[1];

export async function acceptance(params: MigrateVmParams): Promise<AcceptanceResult> {
  const result = await runChecked(params, acceptanceCommand(params));
  const values = keyValues(result.stdout);
  const checks: Record<string, string> = {};
  for (const [key, list] of values) if (!ANSWERED_AT_KEYS.includes(key)) checks[key] = list.join(' ');
  const answered = ANSWERED_AT_KEYS.map((key) => values.get(key)?.[0]);
  const failures: string[] = [];
  const expect = (what: string, actual: string | undefined, wanted: string | undefined) => {
    if (actual !== wanted) failures.push(`${what}: ${actual || '(none)'}, expected ${wanted ?? '(none)'}`);
  };
  expect('panel direct', one(values, 'panel_direct'), '200');
  expect('gateway direct', one(values, 'gateway_direct'), '200');
  expect('panel front without login', one(values, 'panel_front'), '401');
  expect('gateway front without login', one(values, 'gateway_front'), '401');
  expect('panel front with the login of /root/OPENCLAW_WEB_LOGIN.txt', one(values, 'panel_front_login'), '200');
  expect('gateway front with the login of /root/OPENCLAW_WEB_LOGIN.txt', one(values, 'gateway_front_login'), '200');
  expect('panel currentTag', currentTag(one(values, 'update_panel')), params.panelRelease.tag);
  const installed = versionToken(one(values, 'openclaw_version'));
  if (!installed)
    failures.push(`openclaw --version printed no version: ${one(values, 'openclaw_version') || '(none)'}`);
  else expect('bot currentTag', versionToken(currentTag(one(values, 'update_bot')) ?? ''), installed);
  expect('sessions', one(values, 'target_sessions'), one(values, 'source_sessions'));
  expect('workspace files', one(values, 'target_workspace'), one(values, 'source_workspace'));
  for (const entry of values.get('proc_user') ?? []) {
    const [unit, user] = entry.split(':');
    expect(`${unit} process user`, user, params.runAs.user);
  }
  return {
    passed: failures.length === 0,
    failures,
    checks,
    // ISO times of one clock sort as they happened: the later of the two ends the outage
    ...(answered.every((ms) => ms !== undefined) && {
      answeredAt: answered.map((ms) => GuestClockSchema.parse(ms)).sort()[1],
    }),
  };
}

/** The acceptance as a gate: a failure is final for the run (it rolls back), never retried. */
export async function acceptanceGate(params: MigrateVmParams): Promise<AcceptanceResult> {
  const outcome = await acceptance(params);
  if (!outcome.passed)
    refuse('AcceptanceFailed', `acceptance failed on vm ${params.vmid}: ${outcome.failures.join('; ')}`, outcome);
  return outcome;
}
