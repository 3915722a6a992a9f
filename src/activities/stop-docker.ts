import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { GuestClockSchema, keyValues, one, runChecked, withoutKeyValues } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase C (SOP §5.3): every project container's restart policy recorded (on the guest, once) and set to `no`, then
 * the compose project stopped, never deleted; then no openclaw container may be running.
 */
export const stopDockerScript = guestScript('stop-docker.sh');

export function stopDockerCommand(params: MigrateVmParams): GuestCommand {
  return { label: 'stop-docker', script: stopDockerScript, timeoutMs: params.timeouts.commandMs };
}

/** A container's restart policy as Docker had it before phase C, which rollback puts back. */
export interface RestartPolicy {
  container: string;
  /** no, always, unless-stopped, on-failure */
  policy: string;
  /** on-failure's retry limit (0 = none) */
  maximumRetryCount: number;
}

export interface StopDockerResult {
  /** docker ps -a after the stop */
  containers: string;
  /** absent in the results of workers before restart policies were recorded (histories replay those) */
  restartPolicies?: RestartPolicy[];
  /**
   * when `docker compose stop` took the Docker-era gateway and panel away, by the guest's clock; a retried C keeps
   * the first stop's. Absent in the results of workers before the outage was measured (histories replay those)
   */
  stoppedAt?: string;
}

export async function stopDocker(params: MigrateVmParams): Promise<StopDockerResult> {
  const result = await runChecked(params, stopDockerCommand(params));
  const values = keyValues(result.stdout);
  const restartPolicies = (values.get('restart_policy') ?? []).map((line) => {
    const [container, policy, retries] = line.split(' ');
    return { container, policy, maximumRetryCount: Number(retries) || 0 };
  });
  return {
    containers: withoutKeyValues(result.stdout),
    restartPolicies,
    stoppedAt: GuestClockSchema.parse(one(values, 'docker_stopped_at')),
  };
}
