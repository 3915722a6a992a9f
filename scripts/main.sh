#!/usr/bin/env bash
# The main job: brings up the Temporal dev server and a worker in the background, checks the round trip, and
# brings up the lab (a simulated Proxmox node with 3 Docker-era OpenClaw guests) that the migration works on.
#   npm run main           bring everything up and run
#   npm run main -- down   stop the lab, the worker and the dev server (histories stay in the state directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

state_dir=${OPENCLAW_MIGRATE_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/openclaw-migrate}
worker_pid_file="$state_dir/worker.pid"
worker_log="$state_dir/worker.log"
mkdir -p "$state_dir"

worker_running() { [ -f "$worker_pid_file" ] && kill -0 "$(cat "$worker_pid_file")" 2>/dev/null; }

if [ "${1:-}" = down ]; then
  node_modules/.bin/tsx lab/cli.ts down
  if worker_running; then
    kill "$(cat "$worker_pid_file")"
    rm -f "$worker_pid_file"
    echo "worker stopped"
  fi
  ./temporal-dev.sh stop
  exit 0
fi

bash scripts/setup.sh
./temporal-dev.sh start
if ! worker_running; then
  nohup node_modules/.bin/tsx src/worker.ts >>"$worker_log" 2>&1 &
  echo $! >"$worker_pid_file"
  echo "worker started (pid $(cat "$worker_pid_file"), log $worker_log)"
fi

node_modules/.bin/tsx src/starter.ts check
echo
node_modules/.bin/tsx lab/cli.ts up --guests 3

echo
echo "The dev server, the worker and the lab keep running; the UI is at http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}"
echo "Stop them all with: npm run main -- down"
