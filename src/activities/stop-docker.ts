import type { StopDockerResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { GuestClockSchema, keyValues, requiredValue, runChecked, withoutKeyValues } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase C (SOP §5.3): every project container's restart policy recorded (on the guest, once) and set to `no`, then
 * the compose project stopped, never deleted; then no openclaw container may be running.
 */
export const stopDockerScript = guestScript('stop-docker.sh');

export function stopDockerCommand(params: MigrateVmParams): GuestCommand {
  return { ...phaseCommand('stop-docker', params.timeouts), script: stopDockerScript };
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
    stoppedAt: GuestClockSchema.parse(requiredValue(values, 'docker_stopped_at')),
  };
}
