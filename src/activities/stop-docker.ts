import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/** Phase C (SOP §5.3): stop the compose project, never delete it; then no openclaw container may be running. */
export const stopDockerScript = guestScript('stop-docker.sh');

export function stopDockerCommand(params: MigrateVmParams): GuestCommand {
  return { label: 'stop-docker', script: stopDockerScript, timeoutMs: params.timeouts.commandMs };
}

export interface StopDockerResult {
  /** docker ps -a after the stop */
  containers: string;
}

export async function stopDocker(params: MigrateVmParams): Promise<StopDockerResult> {
  const result = await runChecked(params, stopDockerCommand(params));
  return { containers: result.stdout.trim() };
}
