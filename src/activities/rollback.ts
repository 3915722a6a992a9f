import type { MigrateVmParams } from '../migration/input';
import { keyValues, runChecked } from './guest-command';

/**
 * Compensations (SOP §7), each safe to repeat. None deletes the backup or the migrated copy.
 */

/** Undoes phase G: stop and disable the direct services (units that were never written are fine). */
export const stopDirectServicesScript = `
set -uo pipefail
umask 077
for unit in openclaw-gateway openclaw-panel; do
  if [ -e "/etc/systemd/system/$unit.service" ]; then
    systemctl disable --now "$unit" || exit 1
  fi
  echo "$unit=$(systemctl is-active "$unit" 2>/dev/null || true)"
done
`;

export async function stopDirectServices(params: MigrateVmParams): Promise<string> {
  return (
    await runChecked(params, { label: 'rollback-services', script: stopDirectServicesScript, timeoutMs: 120_000 })
  ).stdout.trim();
}

/** Undoes phase E's patch: openclaw.json back from its first .bak. $1 = run-as user. */
export const restoreGatewayConfigScript = `
set -euo pipefail
umask 077
RUN_HOME=$(getent passwd "$1" | cut -d: -f6)
bak=$(ls "$RUN_HOME/.openclaw/openclaw.json.bak."* 2>/dev/null | sort | head -n 1 || true)
if [ -n "$bak" ]; then
  cp -p "$bak" "$RUN_HOME/.openclaw/openclaw.json"
  echo "restored_from=$bak"
else
  echo "restored_from="
fi
`;

export async function restoreGatewayConfig(params: MigrateVmParams): Promise<string> {
  const result = await runChecked(params, {
    label: 'rollback-config',
    script: restoreGatewayConfigScript,
    args: [params.runAs.user],
    timeoutMs: 60_000,
  });
  return keyValues(result.stdout).get('restored_from')?.[0] ?? '';
}

/**
 * Undoes phase C: `docker compose start`, then waits until the Docker gateway and panel answer again.
 * $1 = panel port, $2 = gateway port (the containers publish the same loopback ports as the direct install).
 */
export const startDockerScript = `
set -uo pipefail
umask 077
cd /opt/openclaw
docker compose start || exit 1
for _ in $(seq 1 60); do
  panel=$(curl -s -o /dev/null -m 5 -w "%{http_code}" "http://127.0.0.1:$1/" || true)
  gateway=$(curl -s -o /dev/null -m 5 -w "%{http_code}" "http://127.0.0.1:$2/" || true)
  [ "$panel" = 200 ] && [ "$gateway" = 200 ] && break
  sleep 1
done
echo "panel=$panel"
echo "gateway=$gateway"
docker ps --format "table {{.Names}}\\t{{.Status}}"
[ "$panel" = 200 ] && [ "$gateway" = 200 ]
`;

export async function startDocker(params: MigrateVmParams): Promise<string> {
  const result = await runChecked(params, {
    label: 'rollback-docker',
    script: startDockerScript,
    args: [String(params.ports.panel), String(params.ports.gateway)],
    timeoutMs: 180_000,
  });
  return result.stdout.trim();
}
