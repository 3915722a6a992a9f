# Phase C (SOP §5.3): stop the compose project, never delete it; then no openclaw container may be running.
# First each container's restart policy is recorded and set to `no`: `docker compose stop` leaves `restart: always`
# as it is, and a dockerd restart or a reboot before phase I would bring the old containers back onto the ports of
# the direct install. The record is written once: a retried C (after a worker crash) finds it and keeps it, never
# recording the `no` it set itself. Rollback (start-docker.sh) restores it; phase I drops it.
# The customer's outage starts here: the guest's clock (ms) just before `docker compose stop` is kept, for a retried
# C too, unless every container of the project runs again (Docker was brought back since: a new stop, a new outage).
set -euo pipefail
umask 077
POLICIES=/var/lib/openclaw-migrate/restart-policies
STOPPED_AT=/var/lib/openclaw-migrate/docker-stopped-at
cd /opt/openclaw
mkdir -p /var/lib/openclaw-migrate
if [ ! -e "$POLICIES" ]; then
  # <container> <policy> <maximum retry count>, one line each
  docker compose ps --all --quiet |
    xargs -r docker inspect --format '{{.Name}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' |
    sed 's|^/||' > "$POLICIES.tmp"
  mv "$POLICIES.tmp" "$POLICIES"
fi
# one `docker update` for the whole set, one `docker compose ps` for how many there are and how many run
cut -d ' ' -f 1 "$POLICIES" | xargs -r docker update --restart=no > /dev/null
states=$(docker compose ps --all --format '{{.State}}')
all=$(grep -c . <<< "$states" || true)
running=$(grep -cx running <<< "$states" || true)
if [ ! -e "$STOPPED_AT" ] || { [ "$running" -gt 0 ] && [ "$running" = "$all" ]; }; then
  date +%s%3N > "$STOPPED_AT.tmp"
  mv "$STOPPED_AT.tmp" "$STOPPED_AT"
  rm -f /var/lib/openclaw-migrate/direct-stopped-at
fi
docker compose stop
echo "docker_stopped_at=$(cat "$STOPPED_AT")"
while read -r container policy retries; do
  echo "restart_policy=$container ${policy:-no} $retries"
done < "$POLICIES"
docker ps -a --format "table {{.Names}}\t{{.Status}}"
if docker ps --format "{{.Names}}" | grep -q .; then
  echo "containers still running after docker compose stop" >&2
  exit 1
fi
