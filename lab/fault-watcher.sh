#!/bin/bash
# Plays a lab guest's injected faults that strike in the middle of the SOP's work. Runs inside the guest,
# started at boot (or at injection) when /run/openclaw-lab-faults holds one of these kinds:
#   disk-full       the disk is nearly full, and the moment a backup directory appears it fills up: the backup's
#                   writes fail (ENOSPC)
#   backup-corrupt  the moment a backup's SHA256SUMS.txt is written, bytes of data-openclaw.tgz are overwritten
#   port-taken      a stray process takes 127.0.0.1:28789 as soon as it is free (after Docker stops)
#   unit-fails      once OpenClaw is installed, `openclaw gateway run` exits 1 (the gateway unit's ExecStart fails)
#   gateway-500     once OpenClaw is installed, `openclaw gateway run` answers every request with HTTP 500
# inotify makes the first two strike at once, not a polling interval later, so a small backup cannot slip past.
set -u
faults=/run/openclaw-lab-faults
has() { [ -e "$faults/$1" ]; }

# Takes all but `keep` bytes of the disk's free space into a file of its own.
hog() {
  local file=$1 keep=$2 free
  free=$(df --output=avail -B1 / | tail -n 1)
  [ "$free" -gt "$keep" ] || return 0
  fallocate -l $((free - keep)) "$file" 2>/dev/null || head -c $((free - keep)) /dev/zero >"$file" 2>/dev/null
}

corrupt_backup() {
  local dir=$1 marker
  marker="/var/lib/openclaw-lab-corrupted-$(basename "$dir")"
  [ -f "$dir/data-openclaw.tgz" ] && [ ! -e "$marker" ] || return 0
  printf 'lab fault: corrupted' | dd of="$dir/data-openclaw.tgz" bs=1 seek=64 conv=notrunc status=none
  : >"$marker"
}

# Puts a wrapper in place of the installed openclaw: `gateway run` misbehaves, every other command is the real one.
sabotage_gateway() {
  local bin=/usr/local/bin/openclaw real=/usr/local/bin/.openclaw-before-lab-fault
  # -x: GNU tar first extracts a symlink as an empty mode-000 placeholder, replaced at the end of the archive.
  [ -x "$bin" ] && ! grep -q 'lab fault' "$bin" 2>/dev/null || return 0
  cp -P "$bin" "$real"
  cat >"$bin.lab-fault" <<'WRAPPER'
#!/bin/bash
# lab fault: the gateway misbehaves (see fault-watcher.sh)
if [ "${1:-}" = gateway ] && [ "${2:-}" = run ]; then
  if [ -e /run/openclaw-lab-faults/unit-fails ]; then
    echo "Error: lab fault: the gateway failed to start" >&2
    exit 1
  fi
  port=18789
  while [ $# -gt 0 ]; do [ "$1" = --port ] && port=$2; shift; done
  exec /run/openclaw-lab/node -e \
    'require("http").createServer((q, r) => { r.statusCode = 500; r.end(); }).listen(+process.argv[1], "127.0.0.1")' \
    "$port"
fi
exec /usr/local/bin/.openclaw-before-lab-fault "$@"
WRAPPER
  chmod 755 "$bin.lab-fault"
  mv -f "$bin.lab-fault" "$bin" # atomic: a concurrent `openclaw --version` sees the old or the new, never half
}

if has port-taken; then
  (until socat TCP-LISTEN:28789,bind=127.0.0.1,fork SYSTEM:'echo stray listener' 2>/dev/null; do sleep 0.3; done) &
fi

if has disk-full; then
  # Filling gigabytes takes a while; a backup would finish first. So most of the disk goes now, leaving room
  # for what the SOP scan checks (the backup's size, thrice over), and the rest goes when the backup starts.
  used=$(du -sb /data /opt /root 2>/dev/null | awk '{ sum += $1 } END { print sum }')
  hog /var/lib/openclaw-lab-disk-hog-at-boot $((3 * used + 32 * 1024 * 1024))
fi
if has disk-full || has backup-corrupt; then
  mkdir -p /root
  inotifywait -q -m -r -e create -e close_write -e moved_to --format '%w%f' /root | while read -r path; do
    case "$path" in
      /root/migrate-backup-*/SHA256SUMS.txt) has backup-corrupt && corrupt_backup "$(dirname "$path")" ;;
      /root/migrate-backup-*)
        has disk-full && hog /var/lib/openclaw-lab-disk-hog 0
        # -r watches a new directory only once it has seen it: events inside it may come too late or never, so
        # the checksums file is also waited for by looking (corrupt_backup acts once, whichever sees it first)
        if has backup-corrupt; then
          (until [ -s "$path/SHA256SUMS.txt" ]; do [ -d "$path" ] || exit 0; sleep 0.05; done; corrupt_backup "$path") &
        fi
        ;;
    esac
  done &
fi

if has unit-fails || has gateway-500; then
  mkdir -p /usr/local/bin
  sabotage_gateway
  inotifywait -q -m -e create -e moved_to --format '%f' /usr/local/bin | while read -r name; do
    [ "$name" = openclaw ] && sabotage_gateway
  done &
fi
wait
