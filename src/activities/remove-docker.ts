import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { runChecked } from './guest-command';

/** Phase I (SOP §6), only after a human accepted: remove the containers and their images. Safe to repeat. */
export const removeDockerScript = `
set -euo pipefail
cd /opt/openclaw
docker compose down --remove-orphans
docker image prune -f
docker ps -a --format "table {{.Names}}\\t{{.Status}}"
`;

export function removeDockerCommand(params: MigrateVmParams): GuestCommand {
  return { label: 'remove-docker', script: removeDockerScript, timeoutMs: params.timeouts.commandMs };
}

export interface RemoveDockerResult {
  output: string;
}

export async function removeDocker(params: MigrateVmParams): Promise<RemoveDockerResult> {
  const result = await runChecked(params, removeDockerCommand(params));
  return { output: result.stdout.trim() };
}
