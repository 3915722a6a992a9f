# Undoes phase G: stop and disable the direct services (units that were never written are fine).
# $1 = remove (undoes a pre-staged run's stage-units): the unit files go too, so a rollback leaves none behind.
set -uo pipefail
umask 077
for unit in openclaw-gateway openclaw-panel; do
  if [ -e "/etc/systemd/system/$unit.service" ]; then
    systemctl disable --now "$unit" || exit 1
    if [ "${1:-}" = remove ]; then rm -f "/etc/systemd/system/$unit.service" || exit 1; fi
  fi
  echo "$unit=$(systemctl is-active "$unit" 2>/dev/null || true)"
done
if [ "${1:-}" = remove ]; then systemctl daemon-reload || exit 1; fi
