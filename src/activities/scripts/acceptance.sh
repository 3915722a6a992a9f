# Phase H (SOP §5.10): ports, HTTP codes, the update checks' tags, data counts, process users, and the fronts with
# the customer's own login. $1 = panel port, $2 = gateway port, $3 = panel front, $4 = gateway front, $5 = seconds
# to wait for the gateway and the panel to answer at all (a real gateway takes ~15 s after a start), $6 = run-as
# user, $7 = seconds each update check may take (a real panel's bot check runs `openclaw update status`, up to
# ~30 s without internet), $8 $9 = the gateway's and the panel's units, ${10}… = directories whose files to count
# (the Docker-era workspaces on the VM and where the direct bot must resolve them).
# The direct bot is asked by its own CLI as the run-as user with its HOME (bot-listing.sh, sourced ahead): nothing
# here writes into the user's history (no chat turn). The customer's token (customer_token) is kept in a variable
# and reaches curl on its stdin only; it is never printed.
# The login in /root/OPENCLAW_WEB_LOGIN.txt is read and used here only: it reaches curl on its stdin (`-K -`),
# never an argument, and nothing of it is printed.
# Sessions: OpenClaw ≥ 2026.9 moves legacy session files into session-sqlite-import-archive/ at its first start,
# so sessions are counted in both directories, on the source too: a Docker-era gateway of that age has already
# moved them there.
set -u
code() { curl -s -o /dev/null -m 10 -w "%{http_code}" "$1" || true; }
echo "wait_budget=$5 s for the gateway and the panel to answer, $7 s for each update check"
RUN_HOME=$(getent passwd "$6" | cut -d: -f6)
LOGIN=/root/OPENCLAW_WEB_LOGIN.txt
login_user=$(sed -n 's/^username:[[:space:]]*//p' "$LOGIN" 2>/dev/null | head -n 1)
login_password=$(sed -n 's/^password:[[:space:]]*//p' "$LOGIN" 2>/dev/null | head -n 1)
# curl's config syntax: inside double quotes a backslash escapes
quote() { local s=${1//\\/\\\\}; printf '%s' "${s//\"/\\\"}"; }
with_login() {
  if [ -z "$login_user" ] || [ -z "$login_password" ]; then
    echo "no login in $LOGIN"
    return
  fi
  printf 'user = "%s:%s"\n' "$(quote "$login_user")" "$(quote "$login_password")" |
    curl -K - -s -o /dev/null -m 10 -w "%{http_code}" "$1" || true
}
# Until the panel answers at all (000 = nothing listens yet), the gateway says it is ready, and both answer through
# their fronts (502-504: nginx finds nothing behind it yet); what they answer is judged below. The customer's outage ends when both fronts first
# answer 200 with the login: the guest's clock (ms) then is printed for each.
gateway_error() { [[ $1 == 50[234] ]]; }
# Ready is the gateway's own word, never an answer on / or /health: OpenClaw 2026.9 answers /health while a start
# fails and /readyz 503 until it is ready, then {"ready":true,…}. A release without /readyz (2026.2 serves its
# Control UI's page for any path) is asked by its CLI (health over its RPC) instead, which costs a Node start.
gateway_ready() {
  local body
  body=$(curl -s -m 5 "http://127.0.0.1:$1/readyz" || true)
  case $body in
    '{'*) [[ $body == *'"ready":true'* ]] ;;
    '<'*) timeout "$BOT_CALL_S" "${BOT[@]}" gateway call health --json > /dev/null 2>&1 ;;
    *) false ;;
  esac
}
# the CLI finds its gateway by OPENCLAW_GATEWAY_PORT before the config's port (2026.2 and 2026.9 alike); the unit
# passes the port on the gateway's command line, which the CLI does not read
BOT=(runuser -u "$6" -- env HOME="$RUN_HOME" OPENCLAW_GATEWAY_PORT="$2" "$(command -v openclaw)")
panel_answered_at='' gateway_answered_at='' ready=no
# $1 = a front: its code with the login, then when it answered (µs of the guest's clock)
front_probe() {
  with_login "$1"
  echo " ${EPOCHREALTIME//[!0-9]/}"
}
while [ "$SECONDS" -lt "$5" ]; do
  # the two fronts side by side: a gateway that is still starting may hold its front's answer for seconds
  front_probe "http://127.0.0.1:$3/" > "$BOT_TMP/front_panel" &
  front_probe "http://127.0.0.1:$4/" > "$BOT_TMP/front_gateway" &
  wait
  read -r front_panel panel_us < "$BOT_TMP/front_panel"
  read -r front_gateway gateway_us < "$BOT_TMP/front_gateway"
  [ -z "$panel_answered_at" ] && [ "$front_panel" = 200 ] && panel_answered_at=$((10#$panel_us / 1000))
  [ -z "$gateway_answered_at" ] && [ "$front_gateway" = 200 ] && gateway_answered_at=$((10#$gateway_us / 1000))
  [ "$(code "http://127.0.0.1:$1/")" != 000 ] && gateway_ready "$2" && ready=yes &&
    ! gateway_error "$front_panel" && ! gateway_error "$front_gateway" && break
  ready=no
  sleep 0.2
done
# the loop's own answer when it ended on it (for 2026.2 the CLI's health call is a Node start); else asked once more
[ "$ready" = yes ] || { gateway_ready "$2" && ready=yes; }
echo "gateway_ready=$ready"
[ -n "$panel_answered_at" ] && echo "panel_front_answered_at=$panel_answered_at"
[ -n "$gateway_answered_at" ] && echo "gateway_front_answered_at=$gateway_answered_at"
echo "panel_direct=$(code "http://127.0.0.1:$1/")"
echo "gateway_direct=$(code "http://127.0.0.1:$2/")"
echo "panel_front=$(code "http://127.0.0.1:$3/")"
echo "gateway_front=$(code "http://127.0.0.1:$4/")"
echo "panel_front_login=$(with_login "http://127.0.0.1:$3/")"
echo "gateway_front_login=$(with_login "http://127.0.0.1:$4/")"
unset login_password
# Side by side with everything below, as they mostly wait: the two update checks (a real panel's bot check runs
# `openclaw update status`, ~30 s without internet) and root's `openclaw --version` (a Node start); their answers
# are printed at the end.
for target in bot panel; do
  curl -sS -m "$7" "http://127.0.0.1:$1/api/update/check?target=$target" > "$BOT_TMP/update_$target" &
done
openclaw --version > "$BOT_TMP/openclaw_version" 2>&1 &
for port in "$1" "$2" "$3" "$4"; do
  echo "listening=$port:$(ss -lntp | grep -c ":$port ")"
done
echo "source_sessions=$(find /data/openclaw/agents/main/sessions /data/openclaw/agents/main/session-sqlite-import-archive -type f 2>/dev/null | wc -l)"
echo "target_sessions=$(find "$RUN_HOME/.openclaw/agents/main/sessions" "$RUN_HOME/.openclaw/agents/main/session-sqlite-import-archive" -type f 2>/dev/null | wc -l)"
# A workspace's files, with those phase E saw doctor move elsewhere in the state dir byte for byte (migrate-data.sh's
# DOCTOR_MOVED): they are the user's, kept and listed in the record, not lost.
workspace_files() {
  local moved=0 old
  while IFS= read -r old; do
    [[ $old == "$1"/* ]] && moved=$((moved + 1))
  done 2>/dev/null </var/lib/openclaw-migrate/doctor-moved || true
  echo $(($(find "$1" -type f 2>/dev/null | wc -l) + moved))
}
echo "source_workspace=$(find /data/openclaw/workspace -type f 2>/dev/null | wc -l)"
echo "target_workspace=$(workspace_files "$RUN_HOME/.openclaw/workspace")"
for unit in "$8" "$9"; do
  pid=$(systemctl show -p MainPID --value "$unit" 2>/dev/null || echo 0)
  echo "proc_user=$unit:$(ps -o user= -p "$pid" 2>/dev/null | tr -d ' ')"
done
# shellcheck disable=SC2034 # bot_listing reads it
BOT_BUDGET_S=$((SECONDS + 60))
# in a subshell: bot_listing's own `wait`s are for its calls, not for the update checks above
(bot_listing)
# The skills and plugins the user's own config enables (the Docker-era one, which doctor never touched): names only.
python3 -c '
import json
try:
    config = json.load(open("/data/openclaw/openclaw.json"))
except Exception:
    config = {}
for kind in ("skills", "plugins"):
    for name, entry in sorted(((config.get(kind) or {}).get("entries") or {}).items()):
        if isinstance(entry, dict) and entry.get("enabled") is True:
            print(f"user_enables_{kind[:-1]}={name}")
'
for dir in "${@:10}"; do
  echo "dir_files=$(workspace_files "$dir") $([ -f "$dir/MEMORY.md" ] && echo 1 || echo 0) $dir"
done
# The customer's token against the direct gateway (its HTTP tool endpoint takes the gateway's auth: 401 for any
# other token; an unknown tool's 404 means the token passed), and the token the panel reads from the OpenClaw
# config its own config names (how the panel reaches the gateway), compared with it and tried the same way.
token_probe() {
  printf 'Authorization: Bearer %s\n' "$1" | curl -s -o /dev/null -m 10 -w "%{http_code}" -H @- \
    -H 'content-type: application/json' -d '{"tool":"openclaw-migrate-token-probe"}' \
    "http://127.0.0.1:$2/tools/invoke" || true
}
read -r token_source token < <(customer_token)
echo "token_source=$token_source"
[ -n "${token:-}" ] && echo "token_gateway=$(token_probe "$token" "$2")"
panel_token=$(python3 -c '
import json
try:
    path = json.load(open("/etc/openclaw-panel/panel.config.json"))["openclaw"]["config_path"]
    print(json.load(open(path))["gateway"]["auth"]["token"])
except Exception:
    pass
')
if [ -z "$panel_token" ]; then
  echo "token_panel=none"
else
  echo "token_panel=$([ "$panel_token" = "${token:-}" ] && echo same || echo differs)"
  echo "token_panel_gateway=$(token_probe "$panel_token" "$2")"
fi
unset token panel_token
wait
for target in bot panel; do echo "update_$target=$(head -c 300 "$BOT_TMP/update_$target" | tr -d '\n')"; done
echo "openclaw_version=$(head -n 1 "$BOT_TMP/openclaw_version")"
