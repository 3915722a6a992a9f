# Phase E (SOP §5.5, §5.6): /data/openclaw to the run-as user's ~/.openclaw with rsync -aHAX --delete (cp -a
# without rsync), ownership fixed, openclaw.json patched for the direct install, then the installed release's
# `openclaw doctor --fix --non-interactive` run on the copy before its first start (issue 18).
# The patch, besides the SOP's §5.6: every absolute path under the Docker-era home (/home/node/.openclaw, /home/node)
# in openclaw.json is moved to the run-as user's home (the bot's workspace, agents' dirs), and a gateway token that
# lived only in the compose environment (the panel's compose passes OPENCLAW_GATEWAY_TOKEN from /opt/openclaw/.env)
# goes into gateway.auth.token: the direct gateway has no such environment and would make a new one at each start.
# The config's own token wins as in OpenClaw itself (`gateway.auth.token ?? OPENCLAW_GATEWAY_TOKEN`).
# Doctor brings a Docker-era state to the installed release (2026.9.6 refuses to start on 2026.2.19's auth profiles
# until it ran); what it migrated, archived or disabled is printed for the record, its whole output kept in
# /var/lib/openclaw-migrate/doctor.txt. Exit 3: doctor failed (its tail on stderr); exit 4: doctor took a file out
# of the user's workspace and kept no copy of it.
# $1 = run-as user (created when missing), $2 = gateway port, $3 = gateway front port, $4 = the step of a
# pre-staged run: `pre-copy` (E₁, before C, Docker still running) copies only, without --delete, lease clean-up,
# patch or doctor, and nothing without rsync (cp -a has no "difference": the final step copies it all); `final` (E₂,
# after C) is the SOP's step comparing files by content (--checksum): a file the running gateway rewrote after the
# pre-copy read it, at the same size within the same tick of the file system's clock, has the same mtime.
# Safe to repeat: the copy is redone from the source (after C it no longer changes; what doctor changed in the copy
# goes with it), the one openclaw.json.bak.<14 digits> of the first attempt is kept and no second one is made
# (OpenClaw's own rotating openclaw.json.bak.1…4 are not it), the patch and doctor give the same result.
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
# this migration's own backup of openclaw.json: .bak.<timestamp of 14 digits>, never OpenClaw's .bak.<1…4>
BAK_GLOB="openclaw.json.bak.$(printf '[0-9]%.0s' {1..14})"
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
  rsync -aHAX "${options[@]}" --exclude "/$BAK_GLOB" /data/openclaw/ "$TARGET_DIR/" ||
    { code=$?; [ "$STEP" = pre-copy ] && [ "$code" = 24 ]; }
  echo "copied_with=rsync"
elif [ "$STEP" = pre-copy ]; then
  echo "copied_with=none"
else
  find "$TARGET_DIR" -mindepth 1 -maxdepth 1 ! -name "$BAK_GLOB" -exec rm -rf {} +
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
# The same database keys the cron store by its file's absolute path (OpenClaw 2026.9: cronStoreKey() is path.resolve
# of <state dir>/cron/jobs.json), so a Docker-era 2026.9 state keys its jobs and their run logs under
# /home/node/.openclaw, where the direct bot never looks: its cron jobs would be gone. Those keys move to the run-as
# user's state dir, as the config's paths do below.
STATE_DB="$TARGET_DIR/state/openclaw.sqlite" RUN_STATE="$TARGET_DIR" python3 - <<"PY"
import os, sqlite3
path = os.environ["STATE_DB"]
docker_state, run_state = "/home/node/.openclaw", os.environ["RUN_STATE"]
cleared = 0
if os.path.exists(path):
    db = sqlite3.connect(path)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if "state_leases" in tables:
        cleared = db.execute("DELETE FROM state_leases").rowcount
    for table in tables:
        if "store_key" not in [column[1] for column in db.execute('PRAGMA table_info("%s")' % table)]:
            continue
        for (key,) in db.execute('SELECT DISTINCT store_key FROM "%s"' % table).fetchall():
            if run_state != docker_state and isinstance(key, str) and key.startswith(docker_state + "/"):
                new = run_state + key[len(docker_state):]
                db.execute('UPDATE "%s" SET store_key = ? WHERE store_key = ?' % table, (new, key))
                print("path_rewritten=state/openclaw.sqlite:%s.store_key %s -> %s" % (table, key, new))
    db.commit()
    db.close()
print("stale_leases_cleared=%d" % cleared)
PY
rm -f "$TARGET_DIR"/gateway.*.lock "$TARGET_DIR"/tmp/openclaw-*/gateway.*.lock
chown -R "$RUN_USER:$RUN_GROUP" "$TARGET_DIR"

# The compose environment the Docker-era gateway ran with, for its token: as Docker Compose resolves it (its .env
# included) when Docker is there, else the compose project's .env itself.
COMPOSE_ENV=$({ cd /opt/openclaw && docker compose config --format json; } 2>/dev/null) || COMPOSE_ENV=
CONFIG="$TARGET_DIR/openclaw.json" GATEWAY_PORT=$2 FRONT_PORT=$3 RUN_HOME="$RUN_HOME" BAK_GLOB="$BAK_GLOB" \
  python3 - 3<<<"$COMPOSE_ENV" <<"PY"
import glob, json, os, time
p = os.environ["CONFIG"]
port = int(os.environ["GATEWAY_PORT"])
front = int(os.environ["FRONT_PORT"])
run_home = os.environ["RUN_HOME"]
baks = sorted(glob.glob(os.path.join(os.path.dirname(p), os.environ["BAK_GLOB"])))
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

# The Docker-era home, as the compose mounts it (HOME=/home/node, the state at /home/node/.openclaw), to the run-as
# user's: the state dir first, then the home itself, each only as a whole path component.
moves = [("/home/node/.openclaw", os.path.join(run_home, ".openclaw")), ("/home/node", run_home)]
def moved(value):
    for old, new in moves:
        if old != new and (value == old or value.startswith(old + "/")):
            return new + value[len(old):]
    return value
def rewrite(node, where):
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in list(items):
        at = "%s.%s" % (where, key) if isinstance(node, dict) else "%s[%d]" % (where, key)
        if isinstance(value, str) and moved(value) != value:
            node[key] = moved(value)
            print("path_rewritten=%s %s -> %s" % (at[1:], value, node[key]))
        else:
            rewrite(value, at)
rewrite(cfg, "")


# The token: the config's own, else the compose environment's (never printed).
auth = gw.get("auth") if isinstance(gw.get("auth"), dict) else {}
def env_token():
    try:
        services = json.loads(os.fdopen(3).read() or "{}").get("services", {})
    except ValueError:
        services = {}
    found = [s.get("environment", {}).get("OPENCLAW_GATEWAY_TOKEN") for s in services.values()]
    found = [t for t in found if t]
    if found:
        return found[0], "docker compose config"
    try:
        lines = open("/opt/openclaw/.env", encoding="utf-8").read().splitlines()
    except OSError:
        return None, None
    for line in lines:
        key, _, value = line.strip().removeprefix("export ").partition("=")
        value = value.strip()
        if key.strip() == "OPENCLAW_GATEWAY_TOKEN" and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key.strip() == "OPENCLAW_GATEWAY_TOKEN" and value:
            return value, "/opt/openclaw/.env"
    return None, None
if isinstance(auth.get("token"), str) and auth["token"]:
    print("token_source=config")
else:
    token, read_from = env_token()
    if token and auth.get("mode", "token") == "token":
        gw["auth"] = dict(auth, mode="token", token=token)
        print("token_source=env")
        print("token_read_from=" + read_from)
    else:
        print("token_source=none")
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

# Doctor, as the gateway will run: the run-as user, HOME its home, the installed release (phase D) with its node.
# The gateway's service is this migration's (phase G's units): OPENCLAW_SERVICE_REPAIR_POLICY=external is
# OpenClaw's own switch that keeps doctor from installing or starting one of its own.
OPENCLAW=$(command -v openclaw) || { echo "openclaw is not installed (phase D)" >&2; exit 1; }
NODE_DIR=$(dirname "$(command -v node)")
DOCTOR_OUT=/var/lib/openclaw-migrate/doctor.txt
# The user's workspace files across doctor: it may move one (2026.9.6 folds HEARTBEAT.md into a cron job and TOOLS.md
# into AGENTS.md, keeping each original under ~/.openclaw/backups/) or edit one in place. Each regular file of every
# workspace the copy's config names must be, after doctor, at its path or, byte for byte, elsewhere in the state
# dir: what moved (with where to) or was edited is printed for the record, what moved out of its workspace is listed
# in DOCTOR_MOVED for the acceptance's counts (the old path, a line each), and a file gone with no copy left fails
# the phase (exit 4).
WORKSPACE_BEFORE=$(mktemp)
trap 'rm -f "$WORKSPACE_BEFORE"' EXIT
DOCTOR_MOVED=/var/lib/openclaw-migrate/doctor-moved
account_workspaces() {
  python3 - "$@" <<"PY"
import hashlib, json, os, sys
mode, state, before_file = sys.argv[1:4]
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
def regular_files(top):
    for root, _, names in os.walk(top):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path
def workspaces():
    try:
        agents = json.load(open(os.path.join(state, "openclaw.json"), encoding="utf-8")).get("agents") or {}
    except ValueError:
        agents = {}
    entries = [agents.get("defaults") or {}] + list(agents.get("list") or [])
    named = [e["workspace"] for e in entries if isinstance(e, dict) and isinstance(e.get("workspace"), str)]
    return sorted({os.path.normpath(w) for w in [os.path.join(state, "workspace")] + named if os.path.isdir(w)})
rel = lambda path: os.path.relpath(path, state)
if mode == "snapshot":
    snapshot = {p: [os.path.getsize(p), digest(p)] for w in workspaces() for p in regular_files(w)}
    json.dump(snapshot, open(before_file, "w", encoding="utf-8"))
    sys.exit(0)
before = json.load(open(before_file, encoding="utf-8"))
gone = {path: tuple(seen) for path, seen in before.items() if not os.path.isfile(path)}
sizes = {size for size, _ in gone.values()}
copies = {}
for path in regular_files(state):
    if path not in before and os.path.getsize(path) in sizes:
        copies.setdefault((os.path.getsize(path), digest(path)), path)
# the workspace a path is in (the innermost one named)
home_of = lambda path: max((w for w in workspaces() if path.startswith(w + os.sep)), key=len, default=None)
lost = []
with open(sys.argv[4], "w", encoding="utf-8") as moved:
    for path, (size, sha) in sorted(before.items()):
        if path not in gone:
            if digest(path) != sha:
                print("doctor_edited=" + rel(path))
        elif (size, sha) in copies:
            print("doctor_moved=%s -> %s" % (rel(path), rel(copies[(size, sha)])))
            # a move within its own workspace is still counted there (2026.9.6 archives a 2026.2.19 workspace's
            # .openclaw/workspace-state.json beside itself as .migrated.<sha>.<uuid>): listed once, not twice
            if home_of(copies[(size, sha)]) != home_of(path):
                moved.write(path + "\n")
        else:
            lost.append(path)
for path in lost:
    print("doctor removed %s from the workspace and kept no copy of it" % path, file=sys.stderr)
sys.exit(4 if lost else 0)
PY
}
# The phase's exit when doctor failed, from its output ($1): 3 (DoctorFailed, not retried), or 1 (a plain failure,
# retried) when it refused only because its own state lease did not come up in time, as 2026.9.6 does on a loaded
# machine: that is not about the data, and the phase is safe to repeat.
doctor_failure_exit() { if grep -q 'state lease heartbeat did not become ready' "$1"; then echo 1; else echo 3; fi; }
account_workspaces snapshot "$TARGET_DIR" "$WORKSPACE_BEFORE"
set +e
(cd "$RUN_HOME" && runuser -u "$RUN_USER" -- env HOME="$RUN_HOME" PATH="$NODE_DIR:$PATH" NO_COLOR=1 \
  OPENCLAW_SERVICE_REPAIR_POLICY=external "$OPENCLAW" doctor --fix --non-interactive) </dev/null >"$DOCTOR_OUT" 2>&1
doctor_rc=$?
set -e
echo "doctor_exit=$doctor_rc"
if [ "$doctor_rc" != 0 ]; then
  tail -n 30 "$DOCTOR_OUT" >&2
  exit "$(doctor_failure_exit "$DOCTOR_OUT")"
fi
# What doctor did, from its report: each item of its "Doctor changes", "Doctor warnings", "Doctor notices" and
# "Session SQLite" boxes (a "- " line or a paragraph, unwrapped), one line each; the skills it disabled by name.
python3 - "$DOCTOR_OUT" <<"PY"
import re, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1], encoding="utf-8", errors="replace").read())
kept = ("Doctor changes", "Doctor warnings", "Doctor notices", "Session SQLite")
items, section, fresh = [], None, True
for raw in text.splitlines():
    head = re.match(r"^[◇┌]\s+(.*?)\s*─*╮?$", raw)
    if head or raw.startswith(("├", "└")):
        section, fresh = head.group(1) if head else None, True
        continue
    if section not in kept or not raw.startswith("│"):
        continue
    line = re.sub(r"^│|│$", "", raw.rstrip()).strip()
    if not line:
        fresh = True
    elif line.startswith("- ") or fresh:
        items.append(line[2:] if line.startswith("- ") else line)
        fresh = False
    else:
        items[-1] += " " + line
seen = set()
for item in items:
    item = re.sub(r"\s+", " ", item)[:300]
    if item in seen:
        continue
    seen.add(item)
    skill = re.fullmatch(r"Disabled (\S+)", item)
    if skill:
        print("doctor_disabled=" + skill.group(1))
    elif "rchived" in item:
        print("doctor_archived=" + item)
    else:
        print("doctor_changed=" + item)
PY
account_workspaces compare "$TARGET_DIR" "$WORKSPACE_BEFORE" "$DOCTOR_MOVED" # exit 4: a file lost (set -e)
# doctor's own backups of openclaw.json (.bak, .bak.1…) hold the token too
chmod 600 "$TARGET_DIR"/openclaw.json*
chown -R "$RUN_USER:$RUN_GROUP" "$TARGET_DIR"
