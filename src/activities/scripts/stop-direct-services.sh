# Undoes phase G: stop and disable the direct services (units that were never written are fine). When one of them
# was running, the guest's clock (ms) as they stopped is kept and printed: the customer's outage of a rolled-back
# run resumes there, until Docker's services answer again. Kept on the VM, so that a retry after the stop (or the
# pre-staged run's removal of the units after it) prints the same time; start-docker.sh drops it with Docker back.
# $1 = remove (undoes a pre-staged run's stage-units): the unit files go too, so a rollback leaves none behind.
set -uo pipefail
umask 077
STOPPED_AT=/var/lib/openclaw-migrate/direct-stopped-at
for unit in openclaw-gateway openclaw-panel; do
  if [ ! -e "$STOPPED_AT" ] && systemctl is-active --quiet "$unit" 2>/dev/null; then
    mkdir -p /var/lib/openclaw-migrate
    date +%s%3N > "$STOPPED_AT.tmp" && mv "$STOPPED_AT.tmp" "$STOPPED_AT"
  fi
done
[ -e "$STOPPED_AT" ] && echo "direct_stopped_at=$(cat "$STOPPED_AT")"
for unit in openclaw-gateway openclaw-panel; do
  if [ -e "/etc/systemd/system/$unit.service" ]; then
    systemctl disable --now "$unit" || exit 1
    if [ "${1:-}" = remove ]; then rm -f "/etc/systemd/system/$unit.service" || exit 1; fi
  fi
  echo "$unit=$(systemctl is-active "$unit" 2>/dev/null || true)"
done
if [ "${1:-}" = remove ]; then systemctl daemon-reload || exit 1; fi
