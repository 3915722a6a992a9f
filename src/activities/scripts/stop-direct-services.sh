# Undoes phase G: stop and disable the direct services (units that were never written are fine).
set -uo pipefail
umask 077
for unit in openclaw-gateway openclaw-panel; do
  if [ -e "/etc/systemd/system/$unit.service" ]; then
    systemctl disable --now "$unit" || exit 1
  fi
  echo "$unit=$(systemctl is-active "$unit" 2>/dev/null || true)"
done
