# Undoes phase C: the restart policies phase C recorded back on the containers, then `docker compose start`, then
# waits (up to $3 seconds) until the Docker gateway and panel answer again. $1 = panel port, $2 = gateway port (the
# containers publish the same loopback ports as the direct install). The customer's outage of a rolled-back run
# ends when both first answer 200: the guest's clock (ms) then is printed.
# The record of the policies and the times of the stops go once they are back: the stop is undone, and a later
# run's phase C stops and times it afresh.
set -uo pipefail
umask 077
POLICIES=/var/lib/openclaw-migrate/restart-policies
STOPPED_AT=/var/lib/openclaw-migrate/docker-stopped-at
DIRECT_STOPPED_AT=/var/lib/openclaw-migrate/direct-stopped-at
cd /opt/openclaw || exit 1
if [ -e "$POLICIES" ]; then
  while read -r container policy retries; do
    if [ "$policy" = on-failure ] && [ "$retries" -gt 0 ]; then policy="on-failure:$retries"; fi
    docker update --restart="${policy:-no}" "$container" > /dev/null || exit 1
    echo "restart_policy=$container ${policy:-no}"
  done < "$POLICIES"
fi
docker compose start || exit 1
SECONDS=0
while :; do
  panel=$(curl -s -o /dev/null -m 5 -w "%{http_code}" "http://127.0.0.1:$1/" || true)
  gateway=$(curl -s -o /dev/null -m 5 -w "%{http_code}" "http://127.0.0.1:$2/" || true)
  if [ "$panel" = 200 ] && [ "$gateway" = 200 ]; then
    answered_at=$(date +%s%3N)
    break
  fi
  [ "$SECONDS" -ge "$3" ] && break
  sleep 0.2
done
echo "panel=$panel"
echo "gateway=$gateway"
docker ps --format "table {{.Names}}\t{{.Status}}"
[ "$panel" = 200 ] && [ "$gateway" = 200 ] || exit 1
echo "docker_answered_at=$answered_at"
rm -f "$POLICIES" "$STOPPED_AT" "$DIRECT_STOPPED_AT"
