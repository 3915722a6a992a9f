import { recordFileName } from '../migration/record';
import type { MigrateVmParams } from '../migration/input';
import { keyValues, one, runChecked } from './guest-command';

/** Writes the record (stdin) into the directory that holds the backups. $1 = file name. */
export const writeRecordScript = `
set -euo pipefail
umask 077
cat > "/root/$1"
echo "record_path=/root/$1"
`;

export async function writeRecord(params: MigrateVmParams, markdown: string, startedAt: string): Promise<string> {
  const result = await runChecked(params, {
    label: 'record',
    script: writeRecordScript,
    args: [recordFileName(params.vmid, startedAt)],
    stdin: markdown,
    timeoutMs: 60_000,
  });
  return one(keyValues(result.stdout), 'record_path');
}
