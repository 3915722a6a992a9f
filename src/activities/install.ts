import type { InstallResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { keyValues, requiredValue, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/** Phase D (SOP §5.4): node and openclaw on the VM, installed only when missing, and where they really are. */
export const installScript = guestScript('install.sh');

export function installCommand(params: MigrateVmParams): GuestCommand {
  return {
    ...phaseCommand('install', params.timeouts),
    script: installScript,
    args: [params.installCommand],
  };
}

export async function install(params: MigrateVmParams): Promise<InstallResult> {
  const result = await runChecked(params, installCommand(params));
  const values = keyValues(result.stdout);
  return {
    installedNow: requiredValue(values, 'installed_now') === '1',
    nodePath: requiredValue(values, 'node_path'),
    nodeVersion: requiredValue(values, 'node_version'),
    openclawPath: requiredValue(values, 'openclaw_path'),
    openclawVersion: requiredValue(values, 'openclaw_version'),
  };
}
