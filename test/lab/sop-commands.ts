/**
 * The SOP's command templates (../shared/seeds/001_*.txt §5), as the operator runs them by hand through
 * `qm guest exec <vmid> -- /bin/bash -lc '<script>'`. The text is the SOP's; where the SOP says <VMID>,
 * <PANEL_RELEASE_TAG> or <PANEL_RELEASE_REPO>, the value arrives as a positional parameter ($1, $2, …) instead,
 * and the two places the lab differs from the internet (installer, release URL) are parameters too.
 */

/** §5.1, read-only scan. */
export const scan = `
set -e
hostname
cat /etc/os-release | sed -n "1,8p"
docker ps --format "table {{.Names}}\\t{{.Status}}\\t{{.Ports}}" || true
docker ps -a --format "table {{.Names}}\\t{{.Status}}" || true
for p in /data/openclaw /data/panel /opt/openclaw /root/.openclaw; do
  [ -e "$p" ] && ls -ld "$p" || echo "missing:$p"
done
ss -lntp | egrep ":18080|:18789|:28080|:28789|:22 " || true
`;

/** §5.2 backup; $1 = VMID. Prints the backup directory. */
export const backup = `
set -euo pipefail
TS=$(date +%F_%H%M%S)
BK=/root/migrate-backup-$1-$TS
mkdir -p "$BK"

tar -C / -czf "$BK/data-openclaw.tgz" data/openclaw
tar -C / -czf "$BK/data-panel.tgz" data/panel
tar -C / -czf "$BK/opt-openclaw.tgz" opt/openclaw
if [ -f /root/OPENCLAW_WEB_LOGIN.txt ]; then
  tar -C / -czf "$BK/root-ssh.tgz" root/.ssh root/OPENCLAW_WEB_LOGIN.txt
else
  tar -C / -czf "$BK/root-ssh.tgz" root/.ssh
fi
sha256sum "$BK"/*.tgz > "$BK/SHA256SUMS.txt"
echo "$BK"
`;

/** §5.2 verification; $1 = the backup directory. */
export const verifyBackup = `
BK=$1
cd "$BK"
sha256sum -c SHA256SUMS.txt
for f in *.tgz; do tar -tzf "$f" >/dev/null; done
`;

/** §5.3 stop Docker, never delete. */
export const stopDocker = `
set -euo pipefail
cd /opt/openclaw
docker compose stop
docker ps --format "table {{.Names}}\\t{{.Status}}"
docker ps -a --format "table {{.Names}}\\t{{.Status}}"
`;

/** §5.4 install; $1 = the install command (the lab's stands in for curl … openclaw.ai/install.sh | bash). */
export const install = `
set -e
export HOME=/root
$1
command -v node
node -v
command -v openclaw
openclaw --version
`;

/** §5.5 data to the official directory. */
export const migrateData = `
set -e
RUN_USER=root
RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)
TARGET_DIR="$RUN_HOME/.openclaw"
mkdir -p "$TARGET_DIR"
if command -v rsync >/dev/null 2>&1; then
  rsync -aHAX --delete /data/openclaw/ "$TARGET_DIR/"
else
  rm -rf "$TARGET_DIR"/*
  cp -a /data/openclaw/. "$TARGET_DIR/"
fi
chown -R "$RUN_USER":"$RUN_USER" "$TARGET_DIR"
ls -la "$TARGET_DIR" | head -n 40
`;

/** §5.6 gateway port. */
export const patchGatewayConfig = `
python3 - <<"PY"
import json, time
p="/root/.openclaw/openclaw.json"
bak="%s.bak.%s" % (p, time.strftime("%Y%m%d%H%M%S"))
cfg=json.load(open(p,encoding="utf-8"))
open(bak,"w",encoding="utf-8").write(json.dumps(cfg,ensure_ascii=False,indent=2)+"\\n")
gw=cfg.setdefault("gateway",{})
gw["port"]=28789
gw["bind"]=gw.get("bind") or "loopback"
gw["mode"]=gw.get("mode") or "remote"
remote=gw.setdefault("remote",{})
remote["url"]="ws://127.0.0.1:28789"
ctrl=gw.setdefault("controlUi",{})
origins=ctrl.get("allowedOrigins") or []
for u in ["http://127.0.0.1:18789","http://localhost:18789"]:
    if u not in origins:
        origins.append(u)
ctrl["allowedOrigins"]=origins
open(p,"w",encoding="utf-8").write(json.dumps(cfg,ensure_ascii=False,indent=2)+"\\n")
print("backup", bak)
PY
chmod 600 /root/.openclaw/openclaw.json
`;

/**
 * §5.7 panel from its release; $1 = tag, $2 = repo, $3 = release base URL (https://api.github.com in the SOP).
 * For a run outside a guest: `appDir` in place of /opt/openclaw-panel (a shell word, e.g. "$4"), `npmOffline` adds
 * --offline to the npm install, `printTop` prints the tarball's top directory as `top:<name>`.
 */
export function deployPanelScript(opts: { appDir?: string; npmOffline?: boolean; printTop?: boolean } = {}): string {
  return `
set -euo pipefail
TAG=$1
APP_DIR=${opts.appDir ?? '/opt/openclaw-panel'}
TMP_DIR=$(mktemp -d)
trap "rm -rf $TMP_DIR" EXIT
curl -fsSL "$3/repos/$2/tarball/\${TAG}" -o "$TMP_DIR/panel.tar.gz"
tar -xzf "$TMP_DIR/panel.tar.gz" -C "$TMP_DIR"
SRC_DIR=$(find "$TMP_DIR" -mindepth 1 -maxdepth 1 -type d | head -n 1)
${opts.printTop ? 'echo "top:$(basename "$SRC_DIR")"\n' : ''}mkdir -p "$APP_DIR"
if command -v rsync >/dev/null 2>&1; then
  rsync -a --delete --exclude ".git" --exclude "node_modules" --exclude ".runtime" "$SRC_DIR"/ "$APP_DIR"/
else
  find "$APP_DIR" -mindepth 1 -maxdepth 1 ! -name ".runtime" -exec rm -rf {} +
  cp -a "$SRC_DIR"/. "$APP_DIR"/
fi
cd "$APP_DIR"
npm install --omit=dev${opts.npmOffline ? ' --offline' : ''}
cat > "$APP_DIR/.panel-release.json" <<JSON
{
  "tag": "\${TAG}",
  "releaseRepo": "$2",
  "appliedAt": "$(date -Iseconds)"
}
JSON
`;
}

/** §5.7 as the SOP has it. */
export const deployPanel = deployPanelScript();

/** §5.8 panel config; $1 = repo. */
export const writePanelConfig = `
mkdir -p /etc/openclaw-panel
PANEL_RELEASE_REPO=$1 python3 - <<"PY"
import json, os
src="/data/panel/panel.config.json"
dst="/etc/openclaw-panel/panel.config.json"
cfg=json.load(open(src,encoding="utf-8")) if os.path.exists(src) else {}
cfg["runtime"]={"mode":"systemd"}
panel=cfg.setdefault("panel",{})
panel["listen_host"]="127.0.0.1"
panel["listen_port"]=28080
openclaw=cfg.setdefault("openclaw",{})
openclaw["config_path"]="/root/.openclaw/openclaw.json"
openclaw["service_name"]="openclaw-gateway"
openclaw["gateway_port"]=28789
openclaw["gateway_ws_url"]=""
cfg.setdefault("docker",{})["enabled"]=False
log=cfg.setdefault("log",{})
log["source"]="journal"
log.setdefault("file_path","/root/.openclaw/logs/gateway.log")
upd=cfg.setdefault("update",{})
upd.setdefault("github_token","")
upd["bot_release_repo"]="openclaw/openclaw"
upd["panel_release_repo"]=os.environ["PANEL_RELEASE_REPO"]
upd["panel_service_name"]="openclaw-panel"
upd["panel_app_dir"]="/opt/openclaw-panel"
open(dst,"w",encoding="utf-8").write(json.dumps(cfg,ensure_ascii=False,indent=2)+"\\n")
PY
chmod 600 /etc/openclaw-panel/panel.config.json
`;

/**
 * §5.9 units. The SOP writes ExecStart=/usr/bin/openclaw and /usr/bin/node; the installer may put them elsewhere
 * (the lab's puts them in /usr/local/bin), so the binaries' real paths arrive as $1 (openclaw) and $2 (node).
 */
export const systemdUnits = `
cat > /etc/systemd/system/openclaw-gateway.service <<UNIT
[Unit]
Description=OpenClaw Gateway (Direct Install)
After=network.target

[Service]
Type=simple
User=root
Environment=HOME=/root
WorkingDirectory=/root
ExecStart=$1 gateway run --bind loopback --port 28789 --allow-unconfigured
Restart=always
RestartSec=3

[Install]
WantedBy=multi-user.target
UNIT

cat > /etc/systemd/system/openclaw-panel.service <<UNIT
[Unit]
Description=OpenClaw Visual Panel
After=network.target

[Service]
Type=simple
User=root
WorkingDirectory=/opt/openclaw-panel
ExecStart=$2 /opt/openclaw-panel/src/server.js
Restart=always
RestartSec=3
Environment=PANEL_CONFIG_PATH=/etc/openclaw-panel/panel.config.json

[Install]
WantedBy=multi-user.target
UNIT

systemctl daemon-reload
systemctl enable --now openclaw-gateway
systemctl enable --now openclaw-panel
systemctl is-active openclaw-gateway
systemctl is-active openclaw-panel
`;

/** §5.10 acceptance. */
export const acceptance = `
set -e
ss -lntp | egrep ":28080|:28789|:18080|:18789" || true
curl -s -o /dev/null -w "panel-direct:%{http_code}\\n" http://127.0.0.1:28080/
curl -s -o /dev/null -w "gateway-direct:%{http_code}\\n" http://127.0.0.1:28789/
curl -s -o /dev/null -w "panel-front:%{http_code}\\n" http://127.0.0.1:18080/
curl -s -o /dev/null -w "gateway-front:%{http_code}\\n" http://127.0.0.1:18789/
curl -sS http://127.0.0.1:28080/api/update/check?target=bot | head -c 300; echo
curl -sS http://127.0.0.1:28080/api/update/check?target=panel | head -c 300; echo
`;

/** §5.10 user data sample. */
export const dataCounts = `
echo source_sessions:$(find /data/openclaw/agents/main/sessions -type f 2>/dev/null | wc -l)
echo target_sessions:$(find /root/.openclaw/agents/main/sessions -type f 2>/dev/null | wc -l)
echo source_workspace:$(find /data/openclaw/workspace -type f 2>/dev/null | wc -l)
echo target_workspace:$(find /root/.openclaw/workspace -type f 2>/dev/null | wc -l)
`;

/** §6 remove Docker, once the acceptance passed. */
export const removeDocker = `
set -e
cd /opt/openclaw
docker compose down --remove-orphans
docker image prune -f
docker ps -a --format "table {{.Names}}\\t{{.Status}}"
`;
