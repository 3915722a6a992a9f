import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { keyValues, one, refuse, runChecked } from './guest-command';
import { GATEWAY_UNIT, PANEL_UNIT } from './systemd-units';

/**
 * Phase H (SOP §5.10): ports, HTTP codes, update checks, data counts, process users. Waits up to $5 seconds
 * for the gateway to answer at all (it takes ~15 s after a start). $1 = panel port, $2 = gateway port,
 * $3 = panel front, $4 = gateway front, $5 = wait, $6 = run-as user.
 * Sessions: OpenClaw ≥ 2026.9 moves legacy session files into session-sqlite-import-archive/ at its first
 * start, so sessions are counted in both directories, on the source too: a Docker-era gateway of that age has
 * already moved them there.
 */
export const acceptanceScript = `
set -u
code() { curl -s -o /dev/null -m 10 -w "%{http_code}" "$1" || true; }
# Until both answer at all (000 = nothing listens yet); what they answer is judged below.
for _ in $(seq 1 "$5"); do
  [ "$(code "http://127.0.0.1:$2/")" != 000 ] && [ "$(code "http://127.0.0.1:$1/")" != 000 ] && break
  sleep 1
done
RUN_HOME=$(getent passwd "$6" | cut -d: -f6)
echo "panel_direct=$(code "http://127.0.0.1:$1/")"
echo "gateway_direct=$(code "http://127.0.0.1:$2/")"
echo "panel_front=$(code "http://127.0.0.1:$3/")"
echo "gateway_front=$(code "http://127.0.0.1:$4/")"
echo "update_bot=$(curl -sS -m 20 "http://127.0.0.1:$1/api/update/check?target=bot" | head -c 300 | tr -d '\\n')"
echo "update_panel=$(curl -sS -m 20 "http://127.0.0.1:$1/api/update/check?target=panel" | head -c 300 | tr -d '\\n')"
for port in "$1" "$2" "$3" "$4"; do
  echo "listening=$port:$(ss -lntp | grep -c ":$port ")"
done
echo "source_sessions=$(find /data/openclaw/agents/main/sessions /data/openclaw/agents/main/session-sqlite-import-archive -type f 2>/dev/null | wc -l)"
echo "target_sessions=$(find "$RUN_HOME/.openclaw/agents/main/sessions" "$RUN_HOME/.openclaw/agents/main/session-sqlite-import-archive" -type f 2>/dev/null | wc -l)"
echo "source_workspace=$(find /data/openclaw/workspace -type f 2>/dev/null | wc -l)"
echo "target_workspace=$(find "$RUN_HOME/.openclaw/workspace" -type f 2>/dev/null | wc -l)"
for unit in ${GATEWAY_UNIT} ${PANEL_UNIT}; do
  pid=$(systemctl show -p MainPID --value "$unit" 2>/dev/null || echo 0)
  echo "proc_user=$unit:$(ps -o user= -p "$pid" 2>/dev/null | tr -d ' ')"
done
`;

export function acceptanceCommand(params: MigrateVmParams): GuestCommand {
  const { panel, gateway, panelFront, gatewayFront } = params.ports;
  return {
    label: 'acceptance',
    script: acceptanceScript,
    args: [panel, gateway, panelFront, gatewayFront, 90, params.runAs.user].map(String),
    timeoutMs: params.timeouts.commandMs,
  };
}

export interface AcceptanceResult {
  passed: boolean;
  failures: string[];
  checks: Record<string, string>;
}

export async function acceptance(params: MigrateVmParams): Promise<AcceptanceResult> {
  const result = await runChecked(params, acceptanceCommand(params));
  const values = keyValues(result.stdout);
  const checks: Record<string, string> = {};
  for (const [key, list] of values) checks[key] = list.join(' ');
  const failures: string[] = [];
  const expect = (what: string, actual: string, wanted: string) => {
    if (actual !== wanted) failures.push(`${what}: ${actual || '(none)'}, expected ${wanted}`);
  };
  expect('panel direct', one(values, 'panel_direct'), '200');
  expect('gateway direct', one(values, 'gateway_direct'), '200');
  expect('panel front', one(values, 'panel_front'), '401');
  expect('gateway front', one(values, 'gateway_front'), '401');
  for (const target of ['bot', 'panel']) {
    if (!/"currentTag"\s*:\s*"[^"]+"/.test(one(values, `update_${target}`)))
      failures.push(`update check for ${target}: no currentTag`);
  }
  expect('sessions', one(values, 'target_sessions'), one(values, 'source_sessions'));
  expect('workspace files', one(values, 'target_workspace'), one(values, 'source_workspace'));
  for (const entry of values.get('proc_user') ?? []) {
    const [unit, user] = entry.split(':');
    expect(`${unit} process user`, user, params.runAs.user);
  }
  return { passed: failures.length === 0, failures, checks };
}

/** The acceptance as a gate: a failure is final for the run (it rolls back), never retried. */
export async function acceptanceGate(params: MigrateVmParams): Promise<AcceptanceResult> {
  const outcome = await acceptance(params);
  if (!outcome.passed)
    refuse('AcceptanceFailed', `acceptance failed on vm ${params.vmid}: ${outcome.failures.join('; ')}`, outcome);
  return outcome;
}
