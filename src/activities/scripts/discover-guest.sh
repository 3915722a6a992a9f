# discover, in the VM, read-only: what of OpenClaw it runs and holds. No arguments. Prints key=value lines:
# container=<name>\t<image>\t<state> for each container whose name or image says openclaw; unit=<name> <load> <active>
# <unit file state> for the direct install's units; home=<dir> for each ~/.openclaw; docker_data=1 for the Docker
# era's /data/openclaw; docker_removed=<its content> for migrateVm's marker; free_bytes= for /root.
set -u
echo "hostname=$(hostname)"
if command -v docker > /dev/null; then
  echo "docker_present=1"
  docker ps -a --no-trunc --format '{{.Names}}	{{.Image}}	{{.State}}' 2>/dev/null | grep -i openclaw | sed 's/^/container=/'
else
  echo "docker_present=0"
fi
for unit in openclaw-gateway openclaw-panel; do
  load=$(systemctl show -p LoadState --value "$unit.service" 2>/dev/null)
  active=$(systemctl show -p ActiveState --value "$unit.service" 2>/dev/null)
  file_state=$(systemctl show -p UnitFileState --value "$unit.service" 2>/dev/null)
  echo "unit=$unit ${load:-unknown} ${active:-unknown} ${file_state:-none}"
done
for home in /root /home/*; do
  if [ -d "$home/.openclaw" ]; then echo "home=$home/.openclaw"; fi
done
if [ -d /data/openclaw ]; then echo "docker_data=1"; fi
if [ -e /var/lib/openclaw-migrate/docker-removed ]; then
  echo "docker_removed=$(head -c 200 /var/lib/openclaw-migrate/docker-removed | tr -d '\n')"
fi
echo "free_bytes=$(df --output=avail -B1 /root | tail -n 1 | tr -d ' ')"
