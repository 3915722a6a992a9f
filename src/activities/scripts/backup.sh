# Phase B (SOP §5.2), its first step: writes the tarballs and SHA256SUMS.txt, or finds a complete backup made by
# an earlier attempt of this same run that still passes its checksums and reuses it: verified, or not yet (an
# attempt that died between the two steps; the second step, verify-backup.sh, verifies it now). A backup of
# another run is never reused: the data may have changed since. $1 = vmid, $2 = the run's id.
# Exit 4 = the backup could not be written (disk full, …); its half-written directory is removed.
set -uo pipefail
umask 077 # the backup holds /root/.ssh, the web login and the gateway token: root's alone
# shellcheck disable=SC2012 # the names are our own: migrate-backup-<vmid>-<date>_<time>, no blanks
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
# shellcheck disable=SC2174 # /root exists: only the backup directory is made, and made 700
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
