#!/usr/bin/env bash
# Phase E (migrate-data.sh) against the real programs (issue 18): a Docker-era state written by a real OpenClaw
# release with the panel compose's paths (HOME=/home/node, token in the compose environment or in openclaw.json), moved
# by the product's script with the installed release's `openclaw` on PATH, then that release's gateway started as the
# run-as user and asked: /readyz, its sessions, the migrated workspace, a client with the customer's token.
# $1 = Docker-era release (an npm prefix holding node_modules/openclaw), $2 = installed release (same), $3 = where the
# Docker-era token lives: `env` (the panel's compose: .env only) or `config` (openclaw.json), $4 = a scratch dir (made).
# Root only: each side runs in private mount and pid namespaces over an overlay of / (nothing outside the scratch
# dir changes, no process outlives it), so the paths are the real ones: /home/node, /data/openclaw, /opt/openclaw, /home/<run-as user>.
# Prints `check=<name> ok|FAILED <detail>` lines; exits 1 when a check failed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPTS=$HERE/../../src/activities/scripts
OLD=$1 NEW=$2 TOKEN_IN=$3 S=$4
NODE=${NODE:-/opt/oc/node24/bin/node}
RUN_AS=openclaw
mkdir -p "$S/node-home/.openclaw" "$S/compose" "$S/bin-old" "$S/bin-new"
chmod 755 "$S" "$S/bin-old" "$S/bin-new"
for side in old new; do
  prefix=$OLD && [ $side = new ] && prefix=$NEW
  printf '#!/bin/sh\nexec %s %s/node_modules/openclaw/openclaw.mjs "$@"\n' "$NODE" "$prefix" >"$S/bin-$side/openclaw"
  chmod 755 "$S/bin-$side/openclaw"
  ln -sf "$NODE" "$S/bin-$side/node"
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_OLD=$(free_port) P_NEW=$(free_port) P_FRONT=$(free_port)
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# the panel's public compose and .env (v2026.02.20-r4), with the record's ports
cat >"$S/compose/docker-compose.yml" <<'YML'
services:
  openclaw-gateway:
    image: ghcr.io/openclaw/openclaw:2026.2.14
    environment:
      HOME: /home/node
      OPENCLAW_GATEWAY_TOKEN: ${OPENCLAW_GATEWAY_TOKEN}
    volumes:
      - /data/openclaw:/home/node/.openclaw
    command: ["node", "dist/index.js", "gateway", "--bind", "lan", "--port", "18789"]
YML
printf 'OPENCLAW_GATEWAY_TOKEN=%s\nOPENCLAW_GATEWAY_BIND=lan\n' "$TOKEN" >"$S/compose/.env"
chmod 600 "$S/compose/.env"

python3 "$HERE/stub-model.py" "$S/stub.port" "$S/stub.log" &
STUB=$!
trap 'kill $STUB 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$S/stub.port" ] && break; sleep 0.1; done
STUB_PORT=$(cat "$S/stub.port")

# $1 = binds "src:dst,…", then a script file: run in a private mount namespace over an overlay of /
sandbox() {
  local root
  root=$(mktemp -d "$S/root.XXXX")
  # its own pid namespace too: whatever it started ends with it
  unshare -m -p -f bash -s "$root" "$@" <<'SH'
set -e
root=$1 binds=$2 script=$3
mount --make-rprivate /
mount -t tmpfs t "$root"
mkdir "$root/up" "$root/work" "$root/m"
mount -t overlay o -o "lowerdir=/,upperdir=$root/up,workdir=$root/work" "$root/m"
mount -t proc proc "$root/m/proc"
for d in dev sys; do mount --rbind "/$d" "$root/m/$d"; done
mount --bind /tmp "$root/m/tmp"
IFS=, read -ra pairs <<<"$binds"
for pair in "${pairs[@]}"; do mkdir -p "$root/m${pair#*:}"; mount --bind "${pair%%:*}" "$root/m${pair#*:}"; done
exec chroot "$root/m" bash "$script"
SH
}

# ready: $1 = url, $2 = seconds; waits for a 200
wait_200() {
  local deadline=$((SECONDS + $2))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}
export -f wait_200

# 1. The Docker-era bot: onboarded, the user's files, agent turns in three sessions, a cron job.
cat >"$S/old.sh" <<SH
set -euo pipefail
$(declare -f wait_200)
export HOME=/home/node PATH=$S/bin-old:\$PATH OPENCLAW_GATEWAY_TOKEN=$TOKEN
cd /home/node
openclaw onboard --non-interactive --accept-risk --mode local --flow quickstart --auth-choice custom-api-key \
  --custom-base-url http://127.0.0.1:$STUB_PORT/v1 --custom-model-id stub-model --custom-api-key sk-stub \
  --custom-provider-id stub --gateway-auth token --gateway-token $TOKEN --gateway-port $P_OLD --gateway-bind loopback \
  --skip-channels --skip-skills --skip-health --skip-daemon --skip-ui --workspace /home/node/.openclaw/workspace \
  >$S/old-onboard.txt 2>&1
TOKEN_IN=$TOKEN_IN python3 - <<'PY'
import json, os
p = "/home/node/.openclaw/openclaw.json"
cfg = json.load(open(p))
for model in cfg["models"]["providers"]["stub"]["models"]:
    model.update(contextWindow=128000, maxTokens=4096)
if os.environ["TOKEN_IN"] == "env":
    cfg["gateway"]["auth"].pop("token", None)
json.dump(cfg, open(p, "w"), indent=2)
PY
ws=/home/node/.openclaw/workspace
mkdir -p \$ws/memory \$ws/notes \$ws/scripts
printf '# MEMORY\nThe user is Lin; the favourite colour is teal (memory-marker-7f3a).\n' >\$ws/MEMORY.md
printf 'met the team\n' >\$ws/memory/2026-01-05.md
printf 'shopping: tea\n' >\$ws/notes/todo.txt
printf '#!/bin/sh\necho backup\n' >\$ws/scripts/backup.sh
openclaw gateway run --port $P_OLD --bind loopback >$S/old-gateway.log 2>&1 &
gw=\$!
trap 'kill \$gw 2>/dev/null || true' EXIT
call() { openclaw gateway call --url ws://127.0.0.1:$P_OLD --token $TOKEN "\$@"; }
until call health --timeout 3000 >/dev/null 2>&1; do
  kill -0 \$gw; [ \$SECONDS -lt 300 ]; sleep 1
done
turn() { call agent --expect-final --timeout 120000 --json --params "{\"message\":\"\$2\",\"sessionKey\":\"\$1\",\"idempotencyKey\":\"\$3\"}" >>$S/old-turns.json; }
turn agent:main:main "remember: tea on Fridays" t1
turn agent:main:ops-review "review the ops notes" t2
turn agent:main:telegram:direct:4242 "hello from telegram" t3
turn agent:main:main "what do I drink on Fridays?" t4
openclaw cron add --name weekly-digest --cron '0 9 * * 1' --message 'weekly digest' --session isolated >$S/old-cron.txt 2>&1 || true
openclaw sessions --json >$S/old-sessions.json
kill \$gw; wait \$gw || true
chown -R 1000:1000 /home/node
SH
sandbox "$S/node-home:/home/node" "$S/old.sh"

# 2. The move (twice: a re-run gives the same), the installed release started as the run-as user, and asked.
cat >"$S/new.sh" <<SH
set -uo pipefail
$(declare -f wait_200)
export PATH=$S/bin-new:\$PATH
bash $SCRIPTS/migrate-data.sh $RUN_AS $P_NEW $P_FRONT >$S/migrate-1.out 2>$S/migrate-1.err; echo \$? >$S/migrate-1.rc
cp /var/lib/openclaw-migrate/doctor.txt $S/doctor-1.txt
as() { (cd /home/$RUN_AS && runuser -u $RUN_AS -- env HOME=/home/$RUN_AS PATH=\$PATH "\$@"); }
as openclaw gateway run >$S/new-gateway.log 2>&1 &
gw=\$!
# runuser neither passes a signal on nor ends while its child runs: the gateway itself is stopped, and waited for
stop_gateway() {
  local gateway
  gateway=\$(pgrep -P \$gw) || return 0
  kill \$gateway
  for _ in \$(seq 120); do kill -0 \$gateway 2>/dev/null || break; sleep 0.5; done
  kill -9 \$gateway \$gw 2>/dev/null || true
}
trap stop_gateway EXIT
wait_200 http://127.0.0.1:$P_NEW/readyz 240 && echo 200 >$S/new-readyz || echo timeout >$S/new-readyz
as openclaw sessions --json >$S/new-sessions.json 2>$S/new-sessions.err
as openclaw config get agents.defaults.workspace >$S/new-workspace.txt 2>&1
mkdir -p /tmp/pe-client.\$\$ && chmod 700 /tmp/pe-client.\$\$
HOME=/tmp/pe-client.\$\$ openclaw gateway call health --url ws://127.0.0.1:$P_NEW --token "$TOKEN" --json >$S/new-health-token.json 2>&1; echo \$? >$S/new-health-token.rc
HOME=/tmp/pe-client.\$\$ openclaw gateway call health --url ws://127.0.0.1:$P_NEW --token not-the-token --json >$S/new-health-wrong.json 2>&1; echo \$? >$S/new-health-wrong.rc
rm -rf /tmp/pe-client.\$\$
# the fault: phase E again while the direct gateway owns the copy; doctor refuses, the script says so (exit 3)
bash $SCRIPTS/migrate-data.sh $RUN_AS $P_NEW $P_FRONT >$S/migrate-live.out 2>$S/migrate-live.err; echo \$? >$S/migrate-live.rc
stop_gateway
bash $SCRIPTS/migrate-data.sh $RUN_AS $P_NEW $P_FRONT >$S/migrate-2.out 2>$S/migrate-2.err; echo \$? >$S/migrate-2.rc
stat -c '%a %U' /home/$RUN_AS/.openclaw/openclaw.json >$S/new-config-mode
bash $SCRIPTS/restore-gateway-config.sh $RUN_AS >$S/restore.out 2>&1
cp /home/$RUN_AS/.openclaw/openclaw.json $S/restored.json
SH
sandbox "$S/node-home/.openclaw:/data/openclaw,$S/compose:/opt/openclaw" "$S/new.sh"

S=$S TOKEN=$TOKEN RUN_AS=$RUN_AS TOKEN_IN=$TOKEN_IN python3 "$HERE/migrate-data-real-checks.py"
