# Phase G (SOP §5.9): writes the units (only when they differ: a healthy unit is neither rewritten nor restarted),
# daemon-reload when one changed, enable --now, is-active. The unit texts arrive on stdin as JSON, with the paths a
# hardened unit may write: each is made (owned by the unit's user) when missing, before a start, because systemd
# refuses to start a unit whose ReadWritePaths= names a path that does not exist (226/NAMESPACE).
# $1 = stage (G₁ of a pre-staged run, before C): written and daemon-reloaded only, left disabled and stopped:
# Docker holds their ports until C, and an enabled unit would start at a reboot before it.
set -euo pipefail
STEP=${1:-}
changed=$(python3 -c '
import json, os, pwd, sys
units = json.load(sys.stdin)
user = pwd.getpwnam(units["user"])
for path in units["writablePaths"]:
    if not os.path.isdir(path):
        os.makedirs(path, mode=0o700)
        os.chown(path, user.pw_uid, user.pw_gid)
changed = 0
for name, text in (("openclaw-gateway", units["gateway"]), ("openclaw-panel", units["panel"])):
    path = "/etc/systemd/system/%s.service" % name
    try:
        same = open(path, encoding="utf-8").read() == text
    except FileNotFoundError:
        same = False
    if not same:
        open(path, "w", encoding="utf-8").write(text)
        changed = 1
print(changed)
')
echo "units_changed=$changed"
if [ "$changed" = 1 ]; then
  systemctl daemon-reload
  # a unit that changed while running must run the new text
  systemctl try-restart openclaw-gateway openclaw-panel
fi
for unit in openclaw-gateway openclaw-panel; do
  if [ "$STEP" = stage ]; then
    systemctl disable --quiet "$unit"
    echo "${unit#openclaw-}_enabled=$(systemctl is-enabled "$unit" || true)"
    continue
  fi
  # a start that fails says why (e.g. status=226/NAMESPACE) in the phase's failure, not only in the journal
  systemctl enable --now "$unit" || {
    systemctl status --no-pager --lines 10 "$unit" >&2 || true
    exit 1
  }
done
echo "gateway_active=$(systemctl is-active openclaw-gateway || true)"
echo "panel_active=$(systemctl is-active openclaw-panel || true)"
