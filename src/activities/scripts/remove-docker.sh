# Phase I (SOP §6), only after a human accepted: remove the project's containers and networks, prune dangling
# images, and report what is left, in docker's own words. Safe to repeat. First it marks the VM: from now on the
# direct install is the live one, and a scan refuses to migrate the VM again (a new run would copy the old
# Docker-era data over it). $1 = 1 to remove the project's images too (`docker image prune -f` keeps tagged ones).
set -euo pipefail
umask 077
mkdir -p /var/lib/openclaw-migrate
[ -e /var/lib/openclaw-migrate/docker-removed ] || date -Iseconds > /var/lib/openclaw-migrate/docker-removed
cd /opt/openclaw
df_format='{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}'
docker system df --format "disk_usage_before=$df_format"
docker compose down --remove-orphans
rm -f /var/lib/openclaw-migrate/restart-policies
if [ "$1" = 1 ]; then
  # the images the compose file names, read from the file: after `down` no container names them any more
  for image in $(docker compose config --images); do
    if docker image inspect "$image" > /dev/null 2>&1; then
      docker image rm "$image" > /dev/null
      echo "image_removed=$image"
    fi
  done
fi
echo "prune=$(docker image prune -f | grep '^Total reclaimed space:')"
docker images --format 'image_left={{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
docker volume ls --format 'volume_left={{.Name}}'
docker system df --format "disk_usage=$df_format"
docker ps -a --format "table {{.Names}}\t{{.Status}}"
