import type { RemoveDockerResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { keyValues, requiredValue, runChecked, withoutKeyValues } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase I (SOP §6), only after a human accepted: `docker compose down --remove-orphans`, the project's images
 * too when the input says `removeImages`, `docker image prune -f`, and what Docker still holds. Safe to repeat.
 */
export const removeDockerScript = guestScript('remove-docker.sh');

export function removeDockerCommand(params: MigrateVmParams): GuestCommand {
  return {
    ...phaseCommand('remove-docker', params.timeouts),
    script: removeDockerScript,
    args: [params.removeImages ? '1' : '0'],
  };
}

export async function removeDocker(params: MigrateVmParams): Promise<RemoveDockerResult> {
  const result = await runChecked(params, removeDockerCommand(params));
  const values = keyValues(result.stdout);
  return {
    output: withoutKeyValues(result.stdout),
    report: {
      imagesRemoved: values.get('image_removed') ?? [],
      pruneReclaimed: requiredValue(values, 'prune').replace(/^Total reclaimed space: /, ''),
      imagesLeft: values.get('image_left') ?? [],
      volumesLeft: values.get('volume_left') ?? [],
      diskUsageBefore: values.get('disk_usage_before') ?? [],
      diskUsage: values.get('disk_usage') ?? [],
    },
  };
}
