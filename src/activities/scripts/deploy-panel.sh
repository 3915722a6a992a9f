# Phase F (SOP §5.7, §5.8): the panel from its release tarball into /opt/openclaw-panel with .panel-release.json,
# then its direct-install config (chmod 600). A release already applied is not fetched again.
# $1 = tag, $2 = repo, $3 = release base URL, $4 = run-as user, $5 = panel port, $6 = gateway port.
set -euo pipefail
TAG=$1 REPO=$2 BASE_URL=$3
APP_DIR=/opt/openclaw-panel
RUN_HOME=$(getent passwd "$4" | cut -d: -f6)
if [ -f "$APP_DIR/.panel-release.json" ] && [ -d "$APP_DIR/src" ] &&
  python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["tag"] != sys.argv[2])' "$APP_DIR/.panel-release.json" "$TAG"; then
  echo "fetched=0"
else
  TMP_DIR=$(mktemp -d)
  trap 'rm -rf "$TMP_DIR"' EXIT
  curl -fsSL "$BASE_URL/repos/$REPO/tarball/$TAG" -o "$TMP_DIR/panel.tar.gz"
  tar -xzf "$TMP_DIR/panel.tar.gz" -C "$TMP_DIR"
  SRC_DIR=$(find "$TMP_DIR" -mindepth 1 -maxdepth 1 -type d | head -n 1)
  mkdir -p "$APP_DIR"
  if command -v rsync >/dev/null 2>&1; then
    rsync -a --delete --exclude ".git" --exclude "node_modules" --exclude ".runtime" "$SRC_DIR"/ "$APP_DIR"/
  else
    find "$APP_DIR" -mindepth 1 -maxdepth 1 ! -name ".runtime" -exec rm -rf {} +
    cp -a "$SRC_DIR"/. "$APP_DIR"/
  fi
  (cd "$APP_DIR" && npm install --omit=dev --no-audit --no-fund >&2)
  TAG=$TAG REPO=$REPO python3 - "$APP_DIR/.panel-release.json" <<"PY"
import json, os, sys, datetime
release = {"tag": os.environ["TAG"], "releaseRepo": os.environ["REPO"],
           "appliedAt": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
open(sys.argv[1], "w", encoding="utf-8").write(json.dumps(release, indent=2) + "\n")
PY
  echo "fetched=1"
fi

mkdir -p /etc/openclaw-panel
REPO=$REPO RUN_HOME=$RUN_HOME PANEL_PORT=$5 GATEWAY_PORT=$6 python3 - <<"PY"
import json, os
src = "/data/panel/panel.config.json"
dst = "/etc/openclaw-panel/panel.config.json"
cfg = json.load(open(src, encoding="utf-8")) if os.path.exists(src) else {}
cfg["runtime"] = {"mode": "systemd"}
panel = cfg.setdefault("panel", {})
panel["listen_host"] = "127.0.0.1"
panel["listen_port"] = int(os.environ["PANEL_PORT"])
openclaw = cfg.setdefault("openclaw", {})
openclaw["config_path"] = os.environ["RUN_HOME"] + "/.openclaw/openclaw.json"
openclaw["service_name"] = "openclaw-gateway"
openclaw["gateway_port"] = int(os.environ["GATEWAY_PORT"])
openclaw["gateway_ws_url"] = ""
cfg.setdefault("docker", {})["enabled"] = False
log = cfg.setdefault("log", {})
log["source"] = "journal"
log.setdefault("file_path", os.environ["RUN_HOME"] + "/.openclaw/logs/gateway.log")
upd = cfg.setdefault("update", {})
upd.setdefault("github_token", "")
upd["bot_release_repo"] = "openclaw/openclaw"
upd["panel_release_repo"] = os.environ["REPO"]
upd["panel_service_name"] = "openclaw-panel"
upd["panel_app_dir"] = "/opt/openclaw-panel"
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w", encoding="utf-8") as out:
    out.write(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n")
PY
chmod 600 /etc/openclaw-panel/panel.config.json
echo "release=$(tr -d '\n' <"$APP_DIR/.panel-release.json")"
