import type { MigrateVmParams } from '../migration/input';
import type { Undone } from '../migration/contracts';
import type { GuestCommand } from '../remote/guest';
import { classTimeoutMs, compensationTimeout, type CompensationActivity } from '../migration/phases';
import { GuestClockSchema, keyValues, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Compensations (SOP §7), each safe to repeat. None deletes the backup or the migrated copy.
 */

/** A compensation's guest timeout: its class in the phase table, the one its activity is bounded by. */
const timeoutOf = (activity: CompensationActivity, params: MigrateVmParams) =>
  classTimeoutMs(compensationTimeout(activity), params.timeouts);

/** Keys of a compensation's output that read the guest's clock: the outage's, not the summary's. */
const CLOCK_KEYS = { direct_stopped_at: 'directStoppedAt', docker_answered_at: 'dockerAnsweredAt' } as const;

/** A compensation's output as the run keeps it: its other lines the summary, its clock readings as ISO times. */
function undone(stdout: string): Undone {
  const values = keyValues(stdout);
  const result: Undone = {
    summary: stdout
      .trim()
      .split('\n')
      .filter((line) => !Object.keys(CLOCK_KEYS).some((key) => line.startsWith(`${key}=`)))
      .join('\n'),
  };
  for (const [key, field] of Object.entries(CLOCK_KEYS)) {
    const ms = values.get(key)?.[0];
    if (ms !== undefined) result[field] = GuestClockSchema.parse(ms);
  }
  return result;
}

/** Undoes phase G: stop and disable the direct services (units that were never written are fine). */
export const stopDirectServicesScript = guestScript('stop-direct-services.sh');

export const stopDirectServices = (params: MigrateVmParams) =>
  stopDirect(params, {
    label: 'rollback-services',
    script: stopDirectServicesScript,
    timeoutMs: timeoutOf('stopDirectServices', params),
  });

/**
 * Undoes a pre-staged run's stage-units: the direct services stopped and disabled, as after phase G, and their unit
 * files removed (with a daemon-reload), so a rollback leaves no unit behind, started or not.
 */
export const removeDirectUnits = (params: MigrateVmParams) =>
  stopDirect(params, {
    label: 'rollback-units',
    script: stopDirectServicesScript,
    args: ['remove'],
    timeoutMs: timeoutOf('removeDirectUnits', params),
  });

async function stopDirect(params: MigrateVmParams, command: GuestCommand): Promise<Undone> {
  return undone((await runChecked(params, command)).stdout);
}

/** Undoes phase E's patch: openclaw.json back from its first .bak. $1 = run-as user. */
export const restoreGatewayConfigScript = guestScript('restore-gateway-config.sh');

export async function restoreGatewayConfig(params: MigrateVmParams): Promise<string> {
  const result = await runChecked(params, {
    label: 'rollback-config',
    script: restoreGatewayConfigScript,
    args: [params.runAs.user],
    timeoutMs: timeoutOf('restoreGatewayConfig', params),
  });
  return keyValues(result.stdout).get('restored_from')?.[0] ?? '';
}

/**
 * Undoes phase C: the restart policies C recorded back on the containers, `docker compose start`, then waits
 * until the Docker gateway and panel answer again, and says when by the guest's clock.
 */
export const startDockerScript = guestScript('start-docker.sh');

/** How long start-docker.sh waits for Docker's gateway and panel (under load they take minutes) */
const DOCKER_ANSWER_WAIT_S = 150;

export async function startDocker(params: MigrateVmParams): Promise<Undone> {
  const timeoutMs = timeoutOf('startDocker', params);
  // within its timeout, with a fifth of it left for `docker compose start` and the report
  const waitS = Math.min(DOCKER_ANSWER_WAIT_S, Math.floor((timeoutMs * 0.8) / 1000));
  const result = await runChecked(params, {
    label: 'rollback-docker',
    script: startDockerScript,
    args: [String(params.ports.panel), String(params.ports.gateway), String(waitS)],
    timeoutMs,
  });
  return undone(result.stdout);
}
