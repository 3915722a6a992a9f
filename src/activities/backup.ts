import type { MigrateVmParams } from '../migration/input';
import type { GuestCommand } from '../remote/guest';
import { keyValues, one, refuse, runInGuest, lastLines } from './guest-command';

/**
 * Phase B (SOP §5.2), in the SOP's two steps. The first writes the tarballs and SHA256SUMS.txt, or finds a
 * complete backup made by an earlier attempt of this same run that still passes its checksums and reuses it:
 * verified, or not yet (an attempt that died between the two steps; the second step verifies it now). A backup
 * of another run is never reused: the data may have changed since. $1 = vmid, $2 = the run's id.
 * Exit 4 = the backup could not be written (disk full, …); its half-written directory is removed.
 */
export const backupScript = `
set -uo pipefail
umask 077 # the backup holds /root/.ssh, the web login and the gateway token: root's alone
for BK in $(ls -d /root/migrate-backup-"$1"-* 2>/dev/null | sort -r); do
  # SHA256SUMS.txt is written last: a directory without it (or with an empty one) is no complete backup
  if [ "$(cat "$BK/.run" 2>/dev/null)" = "$2" ] && [ -s "$BK/SHA256SUMS.txt" ] &&
    (cd "$BK" && sha256sum --quiet -c SHA256SUMS.txt >/dev/null 2>&1); then
    echo "backup_dir=$BK"
    echo "reused=1"
    exit 0
  fi
done
TS=$(date +%F_%H%M%S)
BK=/root/migrate-backup-$1-$TS
mkdir -m 700 -p "$BK"
echo "$2" > "$BK/.run"
# Every step checked by hand: bash ignores set -e inside a function or subshell that an if tests.
write_backup() {
  # The gateway still runs (Docker stops in phase C) and writes its caches after it is ready: a file changed while
  # tar read it makes tar exit 1, not a failed backup (OpenClaw's own backup counts those paths as volatile).
  tar -C / --warning=no-file-changed -czf "$BK/data-openclaw.tgz" data/openclaw || [ $? -eq 1 ] || return 1
  tar -C / -czf "$BK/data-panel.tgz" data/panel || return 1
  tar -C / -czf "$BK/opt-openclaw.tgz" opt/openclaw || return 1
  if [ -f /root/OPENCLAW_WEB_LOGIN.txt ]; then
    tar -C / -czf "$BK/root-ssh.tgz" root/.ssh root/OPENCLAW_WEB_LOGIN.txt || return 1
  else
    tar -C / -czf "$BK/root-ssh.tgz" root/.ssh || return 1
  fi
  sha256sum "$BK"/*.tgz > "$BK/SHA256SUMS.txt"
  chmod 600 "$BK"/*.tgz "$BK/SHA256SUMS.txt"
}
if ! write_backup; then
  rm -rf "$BK" # our own half-written backup: it frees the space it took, and nothing else is touched
  exit 4
fi
echo "backup_dir=$BK"
echo "reused=0"
`;

/**
 * The second step, a command of its own as in the SOP: the checksums and every tarball's listing, each
 * checked (the SOP's verification exits 0 even when a checksum fails). Marks the backup .verified.
 * $1 = the backup directory. Exit 3 = the verification failed.
 */
export const verifyBackupScript = `
set -uo pipefail
umask 077
fail() { echo "verification of $1 failed: $2" >&2; exit 3; }
cd "$1" || fail "$1" "no such directory"
sha256sum -c SHA256SUMS.txt || fail "$1" "checksums do not match"
for f in *.tgz; do
  tar -tzf "$f" >/dev/null || fail "$1" "$f does not list"
done
[ -e .verified ] || date -Iseconds > .verified
sed 's/^/sha256=/' SHA256SUMS.txt
du -b ./*.tgz | sed 's/^/size=/'
`;

export function backupCommand(params: MigrateVmParams, runId: string): GuestCommand {
  return {
    label: 'backup',
    script: backupScript,
    args: [String(params.vmid), runId],
    timeoutMs: params.timeouts.commandMs,
  };
}

export function verifyBackupCommand(params: MigrateVmParams, dir: string): GuestCommand {
  return { label: 'verify-backup', script: verifyBackupScript, args: [dir], timeoutMs: params.timeouts.commandMs };
}

export interface BackupResult {
  dir: string;
  reused: boolean;
  /** SHA256SUMS.txt's lines */
  sha256: string[];
  sizes: string[];
}

/** `runId`: the workflow run's id, which ties a reusable backup to the run that made it. */
export async function backup(params: MigrateVmParams, runId: string): Promise<BackupResult> {
  const written = await runInGuest(params, backupCommand(params, runId));
  if (written.exitCode === 4) {
    refuse('BackupFailed', `the backup of vm ${params.vmid} could not be written:\n${lastLines(written.stderr)}`);
  }
  if (written.exitCode !== 0) throw new Error(`backup exited ${written.exitCode}:\n${lastLines(written.stderr)}`);
  const found = keyValues(written.stdout);
  const dir = one(found, 'backup_dir');
  const verified = await runInGuest(params, verifyBackupCommand(params, dir));
  if (verified.exitCode !== 0) {
    const output = lastLines(`${verified.stdout}\n${verified.stderr}`);
    refuse('BackupVerificationFailed', `the backup of vm ${params.vmid} in ${dir} failed its verification:\n${output}`);
  }
  const values = keyValues(verified.stdout);
  return {
    dir,
    reused: one(found, 'reused') === '1',
    sha256: values.get('sha256') ?? [],
    sizes: values.get('size') ?? [],
  };
}
