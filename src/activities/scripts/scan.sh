# Phase A (SOP §5.1), read-only: what the VM runs and holds, whether it can be migrated at all, whether it has the
# tools the phases run, and what the Docker-era bot itself lists (bot-listing.sh, sourced ahead). $1 = run-as user.
# Prints key=value lines; the SOP's own tables follow as evidence.
set -u
RUN_HOME=$(getent passwd "$1" | cut -d: -f6)
if [ -z "$RUN_HOME" ]; then
  # phase E makes it, a system user with this home (migrate-data.sh)
  echo "run_user_missing=1"
  RUN_HOME=/home/$1
  command -v useradd > /dev/null || echo "tool_missing=useradd"
fi
echo "hostname=$(hostname)"
# shellcheck source=/dev/null
echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
echo "run_home=$RUN_HOME"
for p in /data/openclaw /data/panel /opt/openclaw /root/.openclaw "$RUN_HOME/.openclaw"; do
  if [ -e "$p" ]; then echo "exists=$p"; else echo "missing=$p"; fi
done
# What the phases run: B tar and sha256sum, E rsync (else cp -a) and python3 (the config patch), F curl, tar and
# python3 (the panel config), G systemctl, H curl and ss, C and I docker compose.
for tool in bash tar sha256sum python3 curl ss systemctl; do
  command -v "$tool" > /dev/null || echo "tool_missing=$tool"
done
command -v rsync > /dev/null || command -v cp > /dev/null || echo "tool_missing=rsync or cp"
docker compose version > /dev/null 2>&1 || echo "tool_missing=docker compose"
# The target holds data of its own unless it is empty or our earlier attempt filled it.
if [ -d "$RUN_HOME/.openclaw" ] && [ -n "$(ls -A "$RUN_HOME/.openclaw")" ] && [ ! -e /var/lib/openclaw-migrate/data-migrated ]; then
  echo "target_foreign=1"
fi
if [ -e /var/lib/openclaw-migrate/docker-removed ]; then
  echo "docker_removed=$(cat /var/lib/openclaw-migrate/docker-removed)"
fi
echo "source_sessions=$(find /data/openclaw/agents/main/sessions -type f 2>/dev/null | wc -l)"
echo "source_workspace=$(find /data/openclaw/workspace -type f 2>/dev/null | wc -l)"
echo "backup_bytes=$(du -scb /data/openclaw /data/panel /opt/openclaw /root/.ssh 2>/dev/null | tail -n 1 | cut -f1)"
echo "free_bytes=$(df --output=avail -B1 /root | tail -n 1 | tr -d ' ')"
echo "docker_present=$(command -v docker > /dev/null && echo 1 || echo 0)"
# Where the customer's token lives (config, environment, none), and the token for the bot's gateway calls below.
read -r token_source token < <(customer_token)
# The Docker-era bot's own listing, by its CLI in its container as the compose runs it: the container's command up
# to its `gateway` argument (`node dist/index.js` in the released image, `node openclaw.mjs` in others), in its
# working directory, as the container's user, told the port its gateway was started on (the CLI reads
# OPENCLAW_GATEWAY_PORT before the config). A bot that does not answer leaves its items unknown: the acceptance
# decides what that means.
if container=$(docker inspect --format '{{.Config.WorkingDir}}{{"\n"}}{{json .Config.Cmd}}' openclaw-gateway 2>&1) &&
  mapfile -t BOT < <(python3 -c '
import json, sys
workdir, cmd = sys.argv[1].split("\n", 1)
cmd = json.loads(cmd)
gateway = cmd.index("gateway")
port = cmd[cmd.index("--port", gateway) + 1] if "--port" in cmd[gateway:] else None
env = ["-e", "OPENCLAW_GATEWAY_PORT=" + port] if port else []
for arg in ["docker", "exec", "-w", workdir or "/", *env, "openclaw-gateway", *cmd[:gateway]]:
    print(arg)
' "$container") && [ "${#BOT[@]}" -gt 5 ]; then
  # its gateway by loopback in the container, with the customer's token (on the VM's process list for the calls'
  # seconds, as any client of it has it)
  port=18789
  for arg in "${BOT[@]}"; do case $arg in OPENCLAW_GATEWAY_PORT=*) port=${arg#*=} ;; esac; done
  # shellcheck disable=SC2034 # read by bot_listing (bot-listing.sh, sourced ahead)
  [ -n "${token:-}" ] && BOT_GATEWAY=(--url "ws://127.0.0.1:$port" --token "$token")
  bot_listing
else
  echo "bot_error=container openclaw-gateway: no command with a gateway argument: $(echo "$container" | tail -n 1 | cut -c1-300)"
fi
echo "token_source=$token_source"
echo "--- docker ps"
docker ps --format "table {{.Names}}\t{{.Status}}\t{{.Ports}}" 2>&1 || true
echo "--- docker ps -a"
docker ps -a --format "table {{.Names}}\t{{.Status}}" 2>&1 || true
echo "--- listening"
ss -lntp 2>/dev/null | grep -E ":18080|:18789|:28080|:28789|:22 " || true
