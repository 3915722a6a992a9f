import type { BackupResult } from '../migration/contracts';
import type { MigrateVmParams } from '../migration/input';
import { phaseCommand } from '../migration/phases';
import type { GuestCommand } from '../remote/guest';
import { keyValues, requiredValue, refuse, runInGuest, lastLines } from './guest-command';
import { guestScript } from './guest-scripts';

/** Phase B's first step (SOP §5.2): the tarballs and their checksums, or an earlier attempt's backup reused. */
export const backupScript = guestScript('backup.sh');

/** Phase B's second step: the checksums and every tarball's listing checked; the backup marked .verified. */
export const verifyBackupScript = guestScript('verify-backup.sh');

export function backupCommand(params: MigrateVmParams, runId: string): GuestCommand {
  return {
    ...phaseCommand('backup', params.timeouts),
    script: backupScript,
    args: [String(params.vmid), runId],
  };
}

export function verifyBackupCommand(params: MigrateVmParams, dir: string): GuestCommand {
  return {
    ...phaseCommand('backup', params.timeouts),
    label: 'verify-backup',
    script: verifyBackupScript,
    args: [dir],
  };
}

/** `runId`: the workflow run's id, which ties a reusable backup to the run that made it. */
export async function backup(params: MigrateVmParams, runId: string): Promise<BackupResult> {
  const written = await runInGuest(params, backupCommand(params, runId));
  if (written.exitCode === 4) {
    refuse('BackupFailed', `the backup of vm ${params.vmid} could not be written:\n${lastLines(written.stderr)}`);
  }
  if (written.exitCode !== 0) throw new Error(`backup exited ${written.exitCode}:\n${lastLines(written.stderr)}`);
  const found = keyValues(written.stdout);
  const dir = requiredValue(found, 'backup_dir');
  const verified = await runInGuest(params, verifyBackupCommand(params, dir));
  if (verified.exitCode !== 0) {
    const output = lastLines(`${verified.stdout}\n${verified.stderr}`);
    refuse('BackupVerificationFailed', `the backup of vm ${params.vmid} in ${dir} failed its verification:\n${output}`);
  }
  const values = keyValues(verified.stdout);
  return {
    dir,
    reused: requiredValue(found, 'reused') === '1',
    sha256: values.get('sha256') ?? [],
    sizes: values.get('size') ?? [],
  };
}
