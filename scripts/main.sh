#!/usr/bin/env bash
# The main job: brings up the Temporal dev server and a worker in the background, checks the round trip, brings up
# the lab (a stand-in Proxmox node with 3 Docker-era OpenClaw guests on real systemd, Docker and qemu-ga) and
# migrates it as a fleet, showing progress, until the fleet waits for a human's acceptance; then says how to give it.
#   npm run main           bring everything up and migrate the lab's fleet up to the acceptance gate
#   npm run main -- --yes  the same, approving each VM once it passes its acceptance checks, to the end
#   npm run main -- down   stop the lab, the worker and the dev server (histories stay in the state directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

state_dir=${OPENCLAW_MIGRATE_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/openclaw-migrate}
worker_pid_file="$state_dir/worker.pid"
worker_log="$state_dir/worker.log"
mkdir -p "$state_dir"

worker_running() { [ -f "$worker_pid_file" ] && kill -0 "$(cat "$worker_pid_file")" 2>/dev/null; }

case ${1:-} in
  '' | --yes | down) ;;
  *) echo "usage: npm run main [-- --yes | -- down]" >&2; exit 2 ;;
esac

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
export OPENCLAW_INVENTORY
OPENCLAW_INVENTORY=$(node_modules/.bin/tsx lab/cli.ts status --json |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).inventoryPath))')

echo
echo "Migrating the lab's fleet (inventory $OPENCLAW_INVENTORY): the canary first, then 2 at a time."
starter() { node_modules/.bin/tsx src/starter.ts "$@"; }
starter migrate fleet ${1:+"$1"}

# Once the fleet has ended: every VM's record, as the SOP (§8) keeps them.
ended_vmids=$(starter status --json 2>/dev/null | node -e '
  let s = "";
  process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const fleet = JSON.parse(s);
    if (fleet.endedAt) console.log(fleet.vms.filter((vm) => vm.workflowId && vm.state !== "skipped").map((vm) => vm.vmid).join(" "));
  })')
for vmid in $ended_vmids; do
  echo
  starter record "$vmid" || true
done

echo
echo "The dev server, the worker and the lab keep running; the UI is at http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}"
echo "Use the CLI with the lab's inventory: export OPENCLAW_INVENTORY=$OPENCLAW_INVENTORY"
echo "Stop them all with: npm run main -- down"
