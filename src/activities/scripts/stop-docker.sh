# Phase C (SOP §5.3): stop the compose project, never delete it; then no openclaw container may be running.
# First each container's restart policy is recorded and set to `no`: `docker compose stop` leaves `restart: always`
# as it is, and a dockerd restart or a reboot before phase I would bring the old containers back onto the ports of
# the direct install. The record is written once: a retried C (after a worker crash) finds it and keeps it, never
# recording the `no` it set itself. Rollback (start-docker.sh) restores it; phase I drops it.
set -euo pipefail
umask 077
POLICIES=/var/lib/openclaw-migrate/restart-policies
cd /opt/openclaw
mkdir -p /var/lib/openclaw-migrate
if [ ! -e "$POLICIES" ]; then
  # <container> <policy> <maximum retry count>, one line each
  docker compose ps --all --quiet |
    xargs -r docker inspect --format '{{.Name}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' |
    sed 's|^/||' > "$POLICIES.tmp"
  mv "$POLICIES.tmp" "$POLICIES"
fi
while read -r container _; do
  docker update --restart=no "$container" > /dev/null
done < "$POLICIES"
docker compose stop
while read -r container policy retries; do
  echo "restart_policy=$container ${policy:-no} $retries"
done < "$POLICIES"
docker ps -a --format "table {{.Names}}\t{{.Status}}"
if docker ps --format "{{.Names}}" | grep -q .; then
  echo "containers still running after docker compose stop" >&2
  exit 1
fi
