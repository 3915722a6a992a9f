# Phase G (SOP §5.9): writes the units (only when they differ: a healthy unit is neither rewritten nor restarted),
# daemon-reload when one changed, enable --now, is-active. The unit texts arrive on stdin as JSON.
set -euo pipefail
changed=$(python3 -c '
import json, sys
units = json.load(sys.stdin)
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
systemctl enable --now openclaw-gateway
systemctl enable --now openclaw-panel
echo "gateway_active=$(systemctl is-active openclaw-gateway || true)"
echo "panel_active=$(systemctl is-active openclaw-panel || true)"
