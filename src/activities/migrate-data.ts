import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { keyValues, one, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase E (SOP §5.5, §5.6): the run-as user made when missing, the data to its ~/.openclaw, openclaw.json patched;
 * safe to repeat.
 */
export const migrateDataScript = guestScript('migrate-data.sh');

export function migrateDataCommand(params: MigrateVmParams): GuestCommand {
  return {
    label: 'migrate-data',
    script: migrateDataScript,
    args: [params.runAs.user, String(params.ports.gateway), String(params.ports.gatewayFront)],
    timeoutMs: params.timeouts.commandMs,
  };
}

export interface MigrateDataResult {
  /** the run-as user did not exist and the migration created it (a system user); absent in older histories */
  userCreated?: boolean;
  targetDir: string;
  copiedWith: string;
  configBackup: string;
  configBackupCreated: boolean;
  targetSessions: number;
  targetWorkspace: number;
  /** leases the stopped Docker gateway left in the copy's state database (absent in runs from before) */
  staleLeasesCleared?: number;
}

export async function migrateData(params: MigrateVmParams): Promise<MigrateDataResult> {
  const result = await runChecked(params, migrateDataCommand(params));
  const values = keyValues(result.stdout);
  return {
    userCreated: one(values, 'user_created') === '1',
    targetDir: one(values, 'target_dir'),
    copiedWith: one(values, 'copied_with'),
    configBackup: one(values, 'config_backup'),
    configBackupCreated: one(values, 'config_backup_new') === '1',
    targetSessions: Number(one(values, 'target_sessions')),
    targetWorkspace: Number(one(values, 'target_workspace')),
    staleLeasesCleared: Number(one(values, 'stale_leases_cleared')),
  };
}
