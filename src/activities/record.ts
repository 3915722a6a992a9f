import { recordFileName } from '../migration/record';
import type { MigrateVmParams } from '../migration/input';
import { classTimeoutMs } from '../migration/phases';
import { keyValues, requiredValue, runChecked } from './guest-command';
import { guestScript } from './guest-scripts';

/** Writes the record (stdin) into the directory that holds the backups. */
export const writeRecordScript = guestScript('write-record.sh');

export async function writeRecord(params: MigrateVmParams, markdown: string, startedAt: string): Promise<string> {
  const result = await runChecked(params, {
    label: 'record',
    script: writeRecordScript,
    args: [recordFileName(params.vmid, startedAt)],
    stdin: markdown,
    // the quick class's activity writes it
    timeoutMs: classTimeoutMs('quick', params.timeouts),
  });
  return requiredValue(keyValues(result.stdout), 'record_path');
}
