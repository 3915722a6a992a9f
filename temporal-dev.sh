#!/usr/bin/env bash
# The Temporal dev server (the real server, Web UI, SQLite persistence) for openclaw-migrate, on 127.0.0.1.
#
#   ./temporal-dev.sh            run in the foreground (Ctrl-C stops it)
#   ./temporal-dev.sh start      run in the background; returns once the server answers
#   ./temporal-dev.sh stop       stop the background server
#   ./temporal-dev.sh status     say whether it answers
#
# Environment: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233),
# OPENCLAW_MIGRATE_STATE (~/.local/state/openclaw-migrate): the database file lives there, so workflow
# histories survive a restart of the server.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
grpc_port=${TEMPORAL_PORT:-7233}
ui_port=${TEMPORAL_UI_PORT:-8233}
state_dir=${OPENCLAW_MIGRATE_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/openclaw-migrate}
pid_file="$state_dir/temporal-dev.pid"
log_file="$state_dir/temporal-dev.log"

# Keep in step with src/search-attributes.ts (a unit test compares the two).
search_attributes=(VmId=Keyword MigrationPhase=Keyword FleetId=Keyword NodeName=Keyword)

cli() { "$here/scripts/temporal-cli.sh"; }

server_args() {
  local args=(server start-dev --ip 127.0.0.1 --port "$grpc_port" --ui-ip 127.0.0.1 --ui-port "$ui_port"
    --db-filename "$state_dir/temporal.db" --log-level warn)
  local attribute
  for attribute in "${search_attributes[@]}"; do args+=(--search-attribute "$attribute"); done
  printf '%s\n' "${args[@]}"
}

answers() { "$1" operator cluster health --address "127.0.0.1:$grpc_port" >/dev/null 2>&1; }

announce() {
  echo "Temporal dev server: gRPC 127.0.0.1:$grpc_port, database $state_dir/temporal.db"
  echo "Temporal UI: http://127.0.0.1:$ui_port"
}

temporal=$(cli)
mkdir -p "$state_dir"
mapfile -t args < <(server_args)

case "${1:-run}" in
  run)
    announce
    exec "$temporal" "${args[@]}"
    ;;
  start)
    if answers "$temporal"; then
      echo "already running"
      announce
      exit 0
    fi
    nohup "$temporal" "${args[@]}" >>"$log_file" 2>&1 &
    echo $! >"$pid_file"
    for _ in $(seq 1 120); do
      if answers "$temporal"; then
        announce
        exit 0
      fi
      if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "the dev server exited at start; the end of $log_file:" >&2
        tail -n 20 "$log_file" >&2
        exit 1
      fi
      sleep 0.5
    done
    echo "the dev server did not answer within 60 s; see $log_file" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      pid=$(cat "$pid_file")
      kill "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      rm -f "$pid_file"
      echo "stopped"
    else
      echo "not running (no live pid in $pid_file)"
    fi
    ;;
  status)
    if answers "$temporal"; then echo "running"; announce; else echo "not answering on 127.0.0.1:$grpc_port"; exit 3; fi
    ;;
  *)
    echo "usage: $0 [run|start|stop|status]" >&2
    exit 2
    ;;
esac
