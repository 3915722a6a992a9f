# Runs on the Proxmox node: waits for a guest command started with `qm guest exec --synchronous 0` by polling
# `qm guest exec-status` there, with short pauses, until the command has exited or the slice is over, then prints
# the last status as qm printed it. One SSH round trip per slice instead of one per poll.
# usage: exec-status-wait.sh <vmid> <pid> <slice ms> <first pause ms> <longest pause ms> <ms the command has run>
# A '.' goes to stdout before each poll: once the caller has gone (it closed the channel), that write fails (or
# SIGPIPE ends the script), so a wait nobody reads goes on for one poll at most, as an abandoned poll over SSH would
# (a poll in flight may still read, and so consume, the status of a command that has just exited).
set -u
vmid=$1 pid=$2 slice_ms=$3 first_pause_ms=$4 longest_pause_ms=$5 ran_ms=$6
now_ms() {
  local us=${EPOCHREALTIME//[!0-9]/}
  echo $((10#$us / 1000))
}
begun=$(now_ms)
deadline=$((begun + slice_ms))
while :; do
  printf . || exit
  asked=$(now_ms)
  status=$(qm guest exec-status "$vmid" "$pid") || exit # qm's words are on stderr, its exit code is ours
  now=$(now_ms)
  # A key's quotes are bare; inside qm's JSON strings every quote is escaped, so only the key can match.
  if [[ $status =~ \"exited\"[[:space:]]*:[[:space:]]*(1|true) ]]; then
    printf '\n%s\n' "$status"
    exit 0
  fi
  # the pause grows with the command's age (an eighth of it), within the bounds given
  pause=$(((ran_ms + now - begun) / 8))
  ((pause < first_pause_ms)) && pause=$first_pause_ms
  ((pause > longest_pause_ms)) && pause=$longest_pause_ms
  # another poll, as long as the last one took, must fit the slice (a loaded node's qm takes seconds)
  if ((now + pause + now - asked >= deadline)); then
    printf '\n%s\n' "$status"
    exit 0
  fi
  sleep "$((pause / 1000)).$(printf '%03d' $((pause % 1000)))"
done
