#!/usr/bin/env bash
# The worker's start-up time (process start to "worker polling" in its log) and resident memory, as development
# runs it (tsx, workflow code bundled at start) and as production runs it (compiled, pre-built bundle), each
# against a dev server of its own on a free port. Run `npm run build` first.
#   bash scripts/worker-startup.sh [runs per mode, default 3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-3}
if [ ! -f lib/worker.js ] || [ ! -f lib/workflow-bundle.js ]; then
  echo "worker-startup.sh: run \`npm run build\` first" >&2
  exit 1
fi

work=$(mktemp -d)
server_pid=
worker_pid=
cleanup() {
  [ -z "$worker_pid" ] || kill -KILL "$worker_pid" 2>/dev/null || true
  [ -z "$server_pid" ] || { kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; } || true
  rm -rf "$work"
}
trap cleanup EXIT

cli=$(bash scripts/temporal-cli.sh)
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
"$cli" server start-dev --ip 127.0.0.1 --port "$port" --headless --log-level error >"$work/server.log" 2>&1 &
server_pid=$!
until "$cli" operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

# $1 = its name; the rest = the command. Prints seconds to polling, the CPU seconds it used until then (a figure
# the machine's other load changes less), RSS when it polls and 5 s later, peak RSS (MB).
measure() {
  local name=$1 log="$work/worker.log" start now rss cpu
  shift
  : >"$log"
  start=$(date +%s%N)
  TEMPORAL_ADDRESS="127.0.0.1:$port" TEMPORAL_TASK_QUEUE="startup-$RANDOM" "$@" >"$log" 2>&1 &
  worker_pid=$!
  until grep -q 'worker polling' "$log"; do
    kill -0 "$worker_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.02
  done
  now=$(date +%s%N)
  rss=$(awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$worker_pid/status")
  # utime and stime, fields 14 and 15 of /proc/PID/stat (the command name, field 2, has no spaces here)
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$worker_pid/stat")
  sleep 5
  awk -v name="$name" -v s="$(((now - start) / 1000000))" -v cpu="$cpu" -v at="$rss" '
    /^VmRSS/ { later = int($2 / 1024) } /^VmHWM/ { peak = int($2 / 1024) }
    END { printf "%-12s start-up %6.2f s (%5.2f CPU s)   RSS at polling %4d MB, 5 s later %4d MB, peak %4d MB\n", name, s / 1000, cpu, at, later, peak }
  ' "/proc/$worker_pid/status"
  kill -TERM "$worker_pid"
  wait "$worker_pid" || true
  worker_pid=
}

for _ in $(seq "$runs"); do
  measure development node --import tsx src/worker.ts
  measure production env NODE_ENV=production node lib/worker.js
done
