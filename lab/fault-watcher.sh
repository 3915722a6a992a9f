#!/bin/bash
# Plays a lab guest's injected faults that strike in the middle of the SOP's work. Runs inside the guest,
# started at boot (or at injection) when /run/openclaw-lab-faults holds one of these kinds:
#   disk-full       once a backup directory appears, the disk fills up: the backup's writes fail (ENOSPC)
#   backup-corrupt  once a backup's SHA256SUMS.txt is written, bytes of data-openclaw.tgz are overwritten
#   port-taken      a stray process takes 127.0.0.1:28789 as soon as it is free (after Docker stops)
set -u
faults=/run/openclaw-lab-faults
hog=/var/lib/openclaw-lab-disk-hog

if [ -e "$faults/port-taken" ]; then
  (until socat TCP-LISTEN:28789,bind=127.0.0.1,fork SYSTEM:'echo stray listener' 2>/dev/null; do sleep 0.3; done) &
fi

while [ -e "$faults/disk-full" ] || [ -e "$faults/backup-corrupt" ]; do
  for dir in /root/migrate-backup-*/; do
    [ -d "$dir" ] || continue
    if [ -e "$faults/disk-full" ] && [ ! -e "$hog" ]; then
      free=$(df --output=avail -B1 / | tail -n 1)
      fallocate -l "$free" "$hog" 2>/dev/null || head -c "$free" /dev/zero >"$hog" 2>/dev/null
    fi
    if [ -e "$faults/backup-corrupt" ] && [ -s "$dir/SHA256SUMS.txt" ] && [ -f "$dir/data-openclaw.tgz" ] \
      && [ ! -e "/var/lib/openclaw-lab-corrupted-$(basename "$dir")" ]; then
      printf 'lab fault: corrupted' | dd of="$dir/data-openclaw.tgz" bs=1 seek=64 conv=notrunc status=none
      : >"/var/lib/openclaw-lab-corrupted-$(basename "$dir")"
    fi
  done
  sleep 0.05
done
wait
