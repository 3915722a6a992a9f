import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { runChecked } from './guest-command';

/**
 * Phase I (SOP §6), only after a human accepted: remove the containers and their images. Safe to repeat. First it
 * marks the VM: from now on the direct install is the live one, and a scan refuses to migrate the VM again (a new
 * run would copy the old Docker-era data over it).
 */
export const removeDockerScript = `
set -euo pipefail
umask 077
mkdir -p /var/lib/openclaw-migrate
[ -e /var/lib/openclaw-migrate/docker-removed ] || date -Iseconds > /var/lib/openclaw-migrate/docker-removed
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
