# Runs in the guest, started by exec-status-wait.sh on the node as `qm guest exec <vmid> --timeout <s> -- /bin/bash
# -c <this> guest-pid-wait <pid> <ms>`: waits until the command qemu-ga started as <pid> has ended or <ms> are
# over, watching /proc (no process started per look), so that qm's own wait, one process polling exec-status in
# itself as `qm guest exec --timeout` does, stands in for a qm process started per poll. It reads nothing of the
# command's status: the agent still holds that for the exec-status that follows, which stays the only truth (a
# reused pid or a pipe held open by a grandchild costs a slice's wait or a poll, never a wrong answer).
# Exit 0: <pid> is no longer a live child of qemu-ga (this script's parent too); 3: it still was at the end.
set -u
pid=$1 limit_ms=$2
clock() {
  now=${EPOCHREALTIME//[!0-9]/}
  now=$((10#$now / 1000))
}
# A pipe nobody writes to: `read -t` on it is a pause without a `sleep` process.
exec {pause}<> <(:)
clock
deadline=$((now + limit_ms))
while :; do
  { read -r line <"/proc/$pid/stat"; } 2>/dev/null || exit 0
  # after the command name (in parentheses, may hold anything): state, ppid
  line=${line##*) } state=${line%% *} line=${line#* } ppid=${line%% *}
  [[ $state == Z || $ppid != "$PPID" ]] && exit 0
  clock
  ((now >= deadline)) && exit 3
  read -rt 0.1 -u "$pause" _
done
