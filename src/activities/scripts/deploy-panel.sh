# Phase F (SOP §5.7, §5.8): the panel from its release tarball into /opt/openclaw-panel with .panel-release.json,
# then its direct-install config in the types the panel parses, owned by the run-as user the panel runs as, mode
# 600. A release already applied is not fetched again.
# $1 = tag, $2 = repo, $3 = the release tarball's URL (canonical: the host the input's check allowed), $4 = run-as
# user, $5 = panel port, $6 = gateway port.
set -euo pipefail
TAG=$1 REPO=$2 TARBALL_URL=$3
APP_DIR=/opt/openclaw-panel
RUN_HOME=$(getent passwd "$4" | cut -d: -f6)
if [ -f "$APP_DIR/.panel-release.json" ] && [ -d "$APP_DIR/src" ] &&
  python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["tag"] != sys.argv[2])' "$APP_DIR/.panel-release.json" "$TAG"; then
  echo "fetched=0"
else
  TMP_DIR=$(mktemp -d)
  trap 'rm -rf "$TMP_DIR"' EXIT
  curl -fsSL "$TARBALL_URL" -o "$TMP_DIR/panel.tar.gz"
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

RUN_GROUP=$(id -gn "$4")
# The panel runs as the run-as user and saves its config as a .tmp beside it, then renames: it owns the directory.
install -d -o "$4" -g "$RUN_GROUP" -m 700 /etc/openclaw-panel
REPO=$REPO RUN_HOME=$RUN_HOME PANEL_PORT=$5 GATEWAY_PORT=$6 python3 - <<"PY"
import json, os, re
src = "/data/panel/panel.config.json"
dst = "/etc/openclaw-panel/panel.config.json"
cfg = json.load(open(src, encoding="utf-8")) if os.path.exists(src) else {}
# The released panel parses its config with a schema (its src/panel-config.js) and does not start on a value of
# another type: a null, a port as a string. The Docker-era values are brought to its types; one that cannot be is
# left out, so the panel's default applies. Each key changed is named (never its value: tokens).
PORT, TEXT, FLAG = "port", "text", "flag"
SCHEMA = {
    "panel": {"listen_host": TEXT, "listen_port": PORT, "container_name": TEXT, "image_repo": TEXT},
    "runtime": {"mode": ("systemd", "docker")},
    "reverse_proxy": {"enabled": FLAG, "public_scheme": ("http", "https"), "public_host": TEXT,
                      "panel_public_port": PORT, "gateway_public_port": PORT, "panel_public_base_url": TEXT,
                      "webhook_public_base_url": TEXT},
    "openclaw": {"config_path": TEXT, "service_name": TEXT, "container_name": TEXT, "image_repo": TEXT,
                 "gateway_port": PORT, "gateway_ws_url": TEXT, "gateway_media_root": TEXT},
    "docker": {"enabled": FLAG},
    "update": {"github_token": TEXT, "bot_release_repo": TEXT, "panel_release_repo": TEXT,
               "panel_service_name": TEXT, "panel_app_dir": TEXT},
    "log": {"source": ("journal", "file", "docker"), "file_path": TEXT},
}
def typed(value, kind):
    """The value in the panel's type, or None when it has none."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == PORT:
        if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
            value, number = int(value), True
        return int(value) if number and value == int(value) and value > 0 else None
    if kind == TEXT:
        return value if isinstance(value, str) else str(value) if number else None
    if kind == FLAG:
        if isinstance(value, str):
            return {"true": True, "false": False}.get(value.strip().lower())
        return value if isinstance(value, bool) else None
    return value if value in kind else None
if not isinstance(cfg, dict):
    cfg = {}
fixed = []
for name, fields in SCHEMA.items():
    if name in cfg and not isinstance(cfg[name], dict):
        del cfg[name]
        fixed.append(name)
    section = cfg.get(name, {})
    for key in [key for key in fields if key in section]:
        value = typed(section[key], fields[key])
        if value is None or type(value) is not type(section[key]) or value != section[key]:
            fixed.append("%s.%s" % (name, key))
        if value is None:
            del section[key]
        else:
            section[key] = value
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
for key in fixed:
    print("config_fixed=" + key)
PY
chmod 600 /etc/openclaw-panel/panel.config.json
chown "$4:$RUN_GROUP" /etc/openclaw-panel/panel.config.json
echo "release=$(tr -d '\n' <"$APP_DIR/.panel-release.json")"
