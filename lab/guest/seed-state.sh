#!/bin/bash
# Makes a Docker-era OpenClaw state with the real gateway image, once per guest image (lab/guest-image.ts runs it in
# its build guest): the container runs as the image's user (node, uid 1000) with HOME=/home/node and the state at
# /home/node/.openclaw, as the panel's compose runs it, so every path the bot writes is the Docker path. What a user
# did over weeks, done by the bot itself: onboarding (non-interactive, against the lab's model endpoint), agent
# turns in several sessions (one with a Telegram-style key), a cron job, the CLI's paired device; then the files
# the user made in the workspace. The token lives only in the environment (OPENCLAW_GATEWAY_TOKEN), as with the
# panel's .env. The state is packed (numeric owners) into the tarball each guest unpacks into /data/openclaw.
#   $1 the gateway image   $2 the tarball to write   $3 the model endpoint's base URL, with a host name that
#   $4 (name:address, docker run's --add-host) gives the address it has in the build guest: not a loopback one,
#   which 2026.9.6 refuses behind a name (lab/model-stub.ts, MODEL_HOST)
set -euo pipefail
image=$1
out=$2
model_url=$3
state=$(mktemp -d /var/tmp/openclaw-state.XXXXXX)
chown 1000:1000 "$state"
token=seed-token-not-used-by-any-guest
port=18789
docker rm -f openclaw-seed >/dev/null 2>&1 || true
# a container that idles (the image has no sleep): each step is a `docker exec` in it, as an operator's would be
docker run -d --name openclaw-seed --network host --add-host "$4" -e HOME=/home/node -e TZ=Asia/Shanghai \
  -e OPENCLAW_GATEWAY_TOKEN="$token" -v "$state:/home/node/.openclaw" "$image" \
  node -e 'setInterval(() => {}, 1 << 30)' >/dev/null
trap 'docker rm -f openclaw-seed >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
oc() { docker exec -w /app openclaw-seed node dist/index.js "$@"; }

oc onboard --non-interactive --accept-risk --mode local --flow quickstart --auth-choice custom-api-key \
  --custom-base-url "$model_url" --custom-model-id lab-model --custom-api-key lab-model-key --custom-provider-id lab \
  --custom-compatibility openai --gateway-auth token --gateway-token "$token" --gateway-bind lan \
  --gateway-port "$port" --skip-channels --skip-daemon --no-install-daemon --skip-health --skip-skills --skip-ui \
  --workspace /home/node/.openclaw/workspace >/dev/null
# the token in the environment only; a context window the gateway accepts (onboarding's 4096 is below its minimum)
oc config unset gateway.auth.token >/dev/null
oc config set 'models.providers.lab.models[0].contextWindow' 128000 >/dev/null

docker exec -d -w /app openclaw-seed sh -c \
  "echo \$\$ >/tmp/gateway.pid; exec node dist/index.js gateway --bind lan --port $port >/tmp/gateway.log 2>&1"
# ready, not just answering: 2026.9.6's /health answers 200 while it still starts (its /readyz says 503);
# 2026.2.19 has no /readyz (404), and its /health answers once it listens
ready() {
  local code
  code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz") || return 1
  [ "$code" = 200 ] || { [ "$code" = 404 ] && curl -fs --max-time 2 -o /dev/null "http://127.0.0.1:$port/health"; }
}
for _ in $(seq 1 600); do
  ready && break
  sleep 0.5
done
ready || { echo "the $image gateway did not get ready" >&2; exit 1; }
call() {
  oc gateway call --url "ws://127.0.0.1:$port" --token "$token" --timeout 180000 "$@"
}
# the gateway's log says why: the CLI's error is the gateway's summary ("LLM request failed: network connection
# error" for a refused or failed model request alike)
turn_failed() {
  echo "$1" >&2
  echo "the gateway's log, its end:" >&2
  # (the image has no tail)
  docker exec openclaw-seed node -e \
    'process.stdout.write(require("fs").readFileSync("/tmp/gateway.log", "utf8").split("\n").slice(-40).join("\n"))' \
    >&2 || true
  exit 1
}
turn=0
agent_turn() {
  turn=$((turn + 1))
  local answer
  answer=$(call agent --expect-final --json \
    --params "{\"message\":\"$2\",\"sessionKey\":\"$1\",\"idempotencyKey\":\"lab-seed-$turn\"}" 2>&1) ||
    turn_failed "agent turn $turn in $1 failed: $answer"
  # a turn counts once the model's canned answer came back (lab/model-stub.ts); the CLI's status alone does not say
  grep -q 'Lab model answer' <<<"$answer" || turn_failed "agent turn $turn in $1 got no model answer: $answer"
}
agent_turn agent:main:main 'Hello! Please remember that I like short answers.'
agent_turn agent:main:main 'What did I ask you to remember?'
agent_turn agent:main:telegram:direct:4242 'Hi from Telegram, can you help me plan the week?'
agent_turn agent:main:telegram:direct:4242 'Monday: release review. Tuesday: backups.'
agent_turn agent:main:ops-review 'Review the ops notes in notes/ops.md.'
agent_turn agent:main:ops-review 'Thanks, that is all for today.'
oc cron add --url "ws://127.0.0.1:$port" --token "$token" --name 'daily backup reminder' --cron '0 9 * * *' \
  --session isolated --message 'Remind me to check the backups.' --no-deliver >/dev/null

# The files the user made in the workspace (the image has no tools beyond sh and node: written from the guest),
# owned by the container's user.
workspace=$state/workspace
mkdir -p "$workspace/memory" "$workspace/notes" "$workspace/scripts"
printf '%s\n' '# MEMORY' '- The user likes short answers.' \
  '- lab-memory-marker: the teal lighthouse keeps the backups.' >"$workspace/MEMORY.md"
printf '%s\n' '# 2026-02-20' 'Release review on Monday, backups on Tuesday.' >"$workspace/memory/2026-02-20.md"
printf '%s\n' '# ops' 'Check the backups every morning.' >"$workspace/notes/ops.md"
printf '%s\n' '#!/bin/sh' 'echo backup of the notes' >"$workspace/scripts/backup-notes.sh"
chmod 755 "$workspace/scripts/backup-notes.sh"
chown -R 1000:1000 "$workspace"

# the bot's own listing, kept beside the tarball (what each guest's Docker-era bot lists before a migration)
oc sessions --json >"$out.sessions.json"
# the gateway stopped as compose stops it (SIGTERM), and waited for, so that it leaves its state whole
docker exec openclaw-seed node -e '
  const pid = Number(require("fs").readFileSync("/tmp/gateway.pid", "utf8"));
  process.kill(pid, "SIGTERM");
  const gone = setInterval(() => { try { process.kill(pid, 0); } catch { clearInterval(gone); } }, 200);'
docker rm -f openclaw-seed >/dev/null
tar -C "$state" --numeric-owner -czf "$out.partial" .
mv "$out.partial" "$out"
