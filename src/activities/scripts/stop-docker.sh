# Phase C (SOP §5.3): stop the compose project, never delete it; then no openclaw container may be running.
set -euo pipefail
umask 077
cd /opt/openclaw
docker compose stop
docker ps -a --format "table {{.Names}}\t{{.Status}}"
if docker ps --format "{{.Names}}" | grep -q .; then
  echo "containers still running after docker compose stop" >&2
  exit 1
fi
