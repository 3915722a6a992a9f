# Undoes phase E's patch: openclaw.json back from the .bak.<timestamp> phase E made first (never OpenClaw's own
# rotating .bak, .bak.1…4, which doctor leaves). $1 = run-as user.
set -euo pipefail
umask 077
RUN_HOME=$(getent passwd "$1" | cut -d: -f6)
bak=$(find "$RUN_HOME/.openclaw" -maxdepth 1 -name "openclaw.json.bak.$(printf '[0-9]%.0s' {1..14})" 2>/dev/null | sort | head -n 1 || true)
if [ -n "$bak" ]; then
  cp -p "$bak" "$RUN_HOME/.openclaw/openclaw.json"
  echo "restored_from=$bak"
else
  echo "restored_from="
fi
