# Undoes phase G: stop and disable the direct services (units that were never written are fine). When one of them
# was running, the guest's clock (ms) as they stopped is printed: the customer's outage of a rolled-back run
# resumes there, until Docker's services answer again.
# $1 = remove (undoes a pre-staged run's stage-units): the unit files go too, so a rollback leaves none behind.
set -uo pipefail
umask 077
active=0
for unit in openclaw-gateway openclaw-panel; do
  systemctl is-active --quiet "$unit" 2>/dev/null && active=1
done
[ "$active" = 1 ] && echo "direct_stopped_at=$(date +%s%3N)"
for unit in openclaw-gateway openclaw-panel; do
  if [ -e "/etc/systemd/system/$unit.service" ]; then
    systemctl disable --now "$unit" || exit 1
    if [ "${1:-}" = remove ]; then rm -f "/etc/systemd/system/$unit.service" || exit 1; fi
  fi
  echo "$unit=$(systemctl is-active "$unit" 2>/dev/null || true)"
done
if [ "${1:-}" = remove ]; then systemctl daemon-reload || exit 1; fi
