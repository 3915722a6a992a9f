# Phase E (SOP §5.5, §5.6): /data/openclaw to the run-as user's ~/.openclaw with rsync -aHAX --delete (cp -a
# without rsync), ownership fixed, then openclaw.json patched for the direct install.
# $1 = run-as user (created when missing), $2 = gateway port, $3 = gateway front port, $4 = the step of a
# pre-staged run: `pre-copy` (E₁, before C, Docker still running) copies only, without --delete, lease clean-up or
# patch, and nothing without rsync (cp -a has no "difference": the final step copies it all); `final` (E₂, after
# C) is the SOP's step comparing files by content (--checksum): a file the running gateway rewrote after the
# pre-copy read it, at the same size within the same tick of the file system's clock, has the same mtime.
# Safe to repeat: the copy is redone from the source (after C it no longer changes), the one
# openclaw.json.bak.<ts> of the first attempt is kept and no second one is made, the patch gives the same result.
set -euo pipefail
umask 077
RUN_USER=$1
STEP=${4:-}
mkdir -p /var/lib/openclaw-migrate
if ! getent passwd "$RUN_USER" >/dev/null; then
  # a dedicated system user with its own group, home /home/<user> as the scan announced (scan.sh); marked, so a
  # retry (or a run after a rollback) still reports that the migration made it
  useradd --system --user-group --create-home --home-dir "/home/$RUN_USER" --shell /usr/sbin/nologin "$RUN_USER"
  date -Iseconds >"/var/lib/openclaw-migrate/user-created-$RUN_USER"
fi
echo "user_created=$([ -e "/var/lib/openclaw-migrate/user-created-$RUN_USER" ] && echo 1 || echo 0)"
RUN_GROUP=$(id -gn "$RUN_USER")
RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)
TARGET_DIR="$RUN_HOME/.openclaw"
mkdir -p "$TARGET_DIR"
# from here on the target is this migration's (the scan takes it for ours, not foreign data)
date -Iseconds > /var/lib/openclaw-migrate/data-migrated
if command -v rsync >/dev/null 2>&1; then
  case $STEP in
    pre-copy) options=() ;;
    final) options=(--delete --checksum) ;;
    *) options=(--delete) ;;
  esac
  # Docker's gateway writes on during the pre-copy: a file gone before rsync read it (exit 24) is the final step's
  rsync -aHAX "${options[@]}" --exclude '/openclaw.json.bak.*' /data/openclaw/ "$TARGET_DIR/" ||
    { code=$?; [ "$STEP" = pre-copy ] && [ "$code" = 24 ]; }
  echo "copied_with=rsync"
elif [ "$STEP" = pre-copy ]; then
  echo "copied_with=none"
else
  find "$TARGET_DIR" -mindepth 1 -maxdepth 1 ! -name 'openclaw.json.bak.*' -exec rm -rf {} +
  cp -a /data/openclaw/. "$TARGET_DIR/"
  echo "copied_with=cp"
fi
if [ "$STEP" = pre-copy ]; then
  echo "target_dir=$TARGET_DIR"
  echo "target_files=$(find "$TARGET_DIR" -type f | wc -l)"
  echo "target_bytes=$(du -sb "$TARGET_DIR" | cut -f1)"
  exit 0
fi
# Docker's gateway is stopped (phase C), so every lease and lock in the copy is a dead process's. Stopped without
# its clean exit (killed at compose stop's timeout while still starting, a reboot), it leaves its owner lease in the
# state database, naming the container as its host: the direct gateway cannot prove that owner dead, and refuses to
# start ("Another Gateway owner lease is still active") until the lease expires, up to 5 min later. seed 004's
# ExecStartPre removes the lock files for the same reason.
STATE_DB="$TARGET_DIR/state/openclaw.sqlite" python3 - <<"PY"
import os, sqlite3
path = os.environ["STATE_DB"]
cleared = 0
if os.path.exists(path):
    db = sqlite3.connect(path)
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_leases'").fetchone():
        cleared = db.execute("DELETE FROM state_leases").rowcount
        db.commit()
    db.close()
print("stale_leases_cleared=%d" % cleared)
PY
rm -f "$TARGET_DIR"/gateway.*.lock "$TARGET_DIR"/tmp/openclaw-*/gateway.*.lock
chown -R "$RUN_USER:$RUN_GROUP" "$TARGET_DIR"

CONFIG="$TARGET_DIR/openclaw.json" GATEWAY_PORT=$2 FRONT_PORT=$3 python3 - <<"PY"
import glob, json, os, time
p = os.environ["CONFIG"]
port = int(os.environ["GATEWAY_PORT"])
front = int(os.environ["FRONT_PORT"])
baks = sorted(glob.glob(p + ".bak.*"))
cfg = json.load(open(p, encoding="utf-8"))
if baks:
    bak = baks[0]
else:
    bak = "%s.bak.%s" % (p, time.strftime("%Y%m%d%H%M%S"))
    open(bak, "w", encoding="utf-8").write(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n")
gw = cfg.setdefault("gateway", {})
gw["port"] = port
gw["bind"] = gw.get("bind") or "loopback"
gw["mode"] = gw.get("mode") or "remote"
gw.setdefault("remote", {})["url"] = "ws://127.0.0.1:%d" % port
ctrl = gw.setdefault("controlUi", {})
origins = ctrl.get("allowedOrigins") or []
for u in ["http://127.0.0.1:%d" % front, "http://localhost:%d" % front]:
    if u not in origins:
        origins.append(u)
ctrl["allowedOrigins"] = origins
open(p, "w", encoding="utf-8").write(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n")
print("config_backup=" + bak)
print("config_backup_new=%d" % (0 if baks else 1))
PY
# the config and its .bak hold the gateway token
chmod 600 "$TARGET_DIR"/openclaw.json*
chown "$RUN_USER:$RUN_GROUP" "$TARGET_DIR"/openclaw.json*
echo "target_dir=$TARGET_DIR"
echo "target_sessions=$(find "$TARGET_DIR/agents/main/sessions" -type f 2>/dev/null | wc -l)"
echo "target_workspace=$(find "$TARGET_DIR/workspace" -type f 2>/dev/null | wc -l)"
