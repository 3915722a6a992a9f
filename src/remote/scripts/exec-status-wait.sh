# Runs on the Proxmox node: waits for a guest command started with `qm guest exec --synchronous 0` until it has
# exited or the slice is over, then prints the last status as qm printed it. One SSH round trip per slice.
# usage: exec-status-wait.sh <vmid> <pid> <slice ms> <first pause ms> <longest pause ms> <ms the command has run>
#        <the guest's waiter script (guest-pid-wait.sh)>
# Two ways to wait, by the time the slice has left:
# - 3 s or more: the guest waits for the pid itself (guest-pid-wait.sh), under one `qm guest exec --timeout`, which
#   polls that waiter's exec-status inside one qm process once a second as qm's own synchronous wait does; then
#   one `qm guest exec-status` reads the command's status. Three process starts a slice on the node instead of one
#   qm per poll; the end is seen within qm's second plus one qm call.
# - less (a young command's first slice, or after the waiter saw the pid go while the agent still says running: a
#   grandchild holding the output pipes): `qm guest exec-status`, 50 ms apart at first, an eighth of the command's
#   age later, the longest pause at most.
# Only exec-status reads (and so consumes: qemu-ga 7.2 forgets a pid after its first "exited" answer) the command's
# status, once, and its answer is printed. A '.' goes to stdout before each qm call: once the caller has gone (it
# closed the channel), that write fails (or SIGPIPE ends the script), so a wait nobody reads goes on for the qm call
# in flight at most (a waiter: until the command ends or the slice is over), as an abandoned poll over SSH would (a
# poll in flight may still read, and so consume, the status of a command that has just exited).
set -u
vmid=$1 pid=$2 slice_ms=$3 first_pause_ms=$4 longest_pause_ms=$5 ran_ms=$6 waiter=$7
clock() {
  now=${EPOCHREALTIME//[!0-9]/}
  now=$((10#$now / 1000))
}
clock
begun=$now
deadline=$((begun + slice_ms))
poll_only=0 waited_out=0 pause_fd=
while :; do
  clock
  left=$((deadline - now))
  if ((!poll_only && left >= 3000)); then
    # qm counts its timeout in whole seconds (Perl's time()) and looks once a second: the waiter ends well before
    limit=$((left - 1500))
    printf . || exit
    if answer=$(qm guest exec "$vmid" --timeout $((limit / 1000 + 3)) -- /bin/bash -c "$waiter" guest-pid-wait "$pid" "$limit") &&
      [[ $answer =~ \"exitcode\"[[:space:]]*:[[:space:]]*(0|3)[^0-9] ]]; then
      [[ ${BASH_REMATCH[1]} == 0 ]] && waited_out=1
    else
      poll_only=1 # the waiter could not run (a frozen agent, a lost answer, qm's timeout): poll as before
    fi
  fi
  printf . || exit
  clock
  asked=$now
  status=$(qm guest exec-status "$vmid" "$pid") || exit # qm's words are on stderr, its exit code is ours
  clock
  # A key's quotes are bare; inside qm's JSON strings every quote is escaped, so only the key can match.
  if [[ $status =~ \"exited\"[[:space:]]*:[[:space:]]*(1|true) ]]; then
    printf '\n%s\n' "$status"
    exit 0
  fi
  ((waited_out)) && poll_only=1
  ((poll_only || deadline - now < 3000)) || continue
  # the pause grows with the command's age (an eighth of it), within the bounds given
  pause=$(((ran_ms + now - begun) / 8))
  ((pause < first_pause_ms)) && pause=$first_pause_ms
  ((pause > longest_pause_ms)) && pause=$longest_pause_ms
  # another poll, as long as the last one took, must fit the slice (a loaded node's qm takes seconds)
  if ((now + pause + now - asked >= deadline)); then
    printf '\n%s\n' "$status"
    exit 0
  fi
  # a pipe nobody writes to: `read -t` on it pauses without starting a `sleep`
  [[ -n $pause_fd ]] || exec {pause_fd}<> <(:)
  read -rt "$((pause / 1000)).$((pause % 1000 / 100))$((pause % 100 / 10))$((pause % 10))" -u "$pause_fd" _
done
