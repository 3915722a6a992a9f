import type { MigrateDataResult, PreCopyResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { keyValues, requiredValue, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/**
 * Phase E (SOP §5.5, §5.6): the run-as user made when missing, the data to its ~/.openclaw, openclaw.json patched
 * (the Docker-era home moved to the run-as user's in its paths, the compose environment's token carried into it),
 * then the installed release's `openclaw doctor --fix --non-interactive` on the copy (issue 18); safe to repeat. A pre-staged run copies first while Docker runs (`pre-copy`), and after C the same script copies
 * the difference by content (`final`), then cleans and patches as the SOP's phase E does.
 */
export const migrateDataScript = guestScript('migrate-data.sh');

function dataCommand(params: MigrateVmParams, phase: 'migrate-data' | 'pre-copy', step: string[]): GuestCommand {
  return {
    ...phaseCommand(phase, params.timeouts),
    script: migrateDataScript,
    args: [params.runAs.user, String(params.ports.gateway), String(params.ports.gatewayFront), ...step],
  };
}

export const migrateDataCommand = (params: MigrateVmParams) =>
  dataCommand(params, 'migrate-data', params.prestage ? ['final'] : []);
export const preCopyCommand = (params: MigrateVmParams) => dataCommand(params, 'pre-copy', ['pre-copy']);

/** migrate-data.sh's exit when doctor failed (its tail on stderr) */
const DOCTOR_FAILED_EXIT = 3;
const DOCTOR_LOST_FILE_EXIT = 4;

/** E₁ of a pre-staged run (before C): the data copied while Docker still runs; no clean-up, no patch yet. */
export async function preCopy(params: MigrateVmParams): Promise<PreCopyResult> {
  const values = keyValues((await runChecked(params, preCopyCommand(params))).stdout);
  return {
    userCreated: requiredValue(values, 'user_created') === '1',
    targetDir: requiredValue(values, 'target_dir'),
    copiedWith: requiredValue(values, 'copied_with') === 'rsync' ? 'rsync' : 'none',
    targetFiles: Number(requiredValue(values, 'target_files')),
    targetBytes: Number(requiredValue(values, 'target_bytes')),
  };
}

export async function migrateData(params: MigrateVmParams): Promise<MigrateDataResult> {
  const result = await runChecked(params, migrateDataCommand(params), [
    {
      type: 'DoctorFailed',
      message: `openclaw doctor --fix --non-interactive failed on the copy (all it said: /var/lib/openclaw-migrate/doctor.txt)`,
      exitCode: DOCTOR_FAILED_EXIT,
    },
    {
      type: 'DoctorFailed',
      message: `openclaw doctor --fix --non-interactive took a file out of the user's workspace on the copy and kept no copy of it (the Docker-era data is untouched)`,
      exitCode: DOCTOR_LOST_FILE_EXIT,
    },
  ]);
  const values = keyValues(result.stdout);
  const tokenSource = requiredValue(values, 'token_source');
  return {
    userCreated: requiredValue(values, 'user_created') === '1',
    targetDir: requiredValue(values, 'target_dir'),
    copiedWith: requiredValue(values, 'copied_with'),
    configBackup: requiredValue(values, 'config_backup'),
    configBackupCreated: requiredValue(values, 'config_backup_new') === '1',
    targetSessions: Number(requiredValue(values, 'target_sessions')),
    targetWorkspace: Number(requiredValue(values, 'target_workspace')),
    staleLeasesCleared: Number(requiredValue(values, 'stale_leases_cleared')),
    pathsRewritten: values.get('path_rewritten') ?? [],
    tokenSource: tokenSource === 'config' || tokenSource === 'env' ? tokenSource : 'none',
    ...(tokenSource === 'env' ? { tokenReadFrom: requiredValue(values, 'token_read_from') } : {}),
    doctor: {
      changed: values.get('doctor_changed') ?? [],
      archived: values.get('doctor_archived') ?? [],
      disabled: values.get('doctor_disabled') ?? [],
      moved: values.get('doctor_moved') ?? [],
      edited: values.get('doctor_edited') ?? [],
    },
  };
}
