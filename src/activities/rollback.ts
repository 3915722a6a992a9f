import type { MigrateVmParams } from '../migration/input';
import { keyValues, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Compensations (SOP §7), each safe to repeat. None deletes the backup or the migrated copy.
 */

/** Undoes phase G: stop and disable the direct services (units that were never written are fine). */
export const stopDirectServicesScript = guestScript('stop-direct-services.sh');

export async function stopDirectServices(params: MigrateVmParams): Promise<string> {
  return (
    await runChecked(params, { label: 'rollback-services', script: stopDirectServicesScript, timeoutMs: 120_000 })
  ).stdout.trim();
}

/** Undoes phase E's patch: openclaw.json back from its first .bak. $1 = run-as user. */
export const restoreGatewayConfigScript = guestScript('restore-gateway-config.sh');

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
 * Undoes phase C: the restart policies C recorded back on the containers, `docker compose start`, then waits
 * until the Docker gateway and panel answer again.
 */
export const startDockerScript = guestScript('start-docker.sh');

export async function startDocker(params: MigrateVmParams): Promise<string> {
  const result = await runChecked(params, {
    label: 'rollback-docker',
    script: startDockerScript,
    args: [String(params.ports.panel), String(params.ports.gateway)],
    timeoutMs: 180_000,
  });
  return result.stdout.trim();
}
