# The bot's own listing, read by the scan from the Docker-era bot (its CLI in its container) and by the acceptance
# from the direct one (as the run-as user): sourced ahead of either script, which sets BOT to the bot's CLI and
# calls bot_listing. Each answer is one line `bot_<what>=<the JSON the CLI printed, re-encoded on one line>`, or
# `bot_error=<what>: <its last line>` when it printed none; src/activities/bot-listing.ts parses them. Nothing here
# prints a token: the CLIs' own listings hold none. The calls that do not depend on each other run side by side
# (each is a Node start, 1-3 s); chat.history needs the sessions' keys, so it runs after, a few at a time.
BOT_CALL_S=60
# Arguments that reach the bot's own gateway on loopback, for the calls that go through it (cron list, chat.history),
# set by the script when the CLI would not find it by itself: a Docker-era config says `gateway.bind: lan`, so its
# CLI aims at the container's LAN address and refuses plaintext ws:// there ("SECURITY ERROR", OpenClaw 2026.2 and
# 2026.9 alike), and an explicit --url needs an explicit --token.
BOT_GATEWAY=()
# seconds of the calling script after which no more chat.history is asked
BOT_BUDGET_S=90
BOT_TMP=$(mktemp -d)
trap 'rm -rf "$BOT_TMP"' EXIT
# The JSON a CLI printed on stdout (after any banner or log line), on one line; rc 1 when there is none.
one_line_json() {
  python3 -c '
import json, sys
text = sys.stdin.read()
starts = [i for i, line in enumerate(text.split("\n")) if line[:1] in "{["]
if not starts:
    sys.exit(1)
rest = "\n".join(text.split("\n")[starts[0]:])
value, _ = json.JSONDecoder().raw_decode(rest)
print(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
'
}
# $1 = what, the rest = the CLI's arguments: its answer to $BOT_TMP/$1.{out,err,rc}
bot_call() {
  local what=$1
  shift
  # shellcheck disable=SC2154 # BOT is set by the script this one is sourced ahead of
  timeout "$BOT_CALL_S" "${BOT[@]}" "$@" > "$BOT_TMP/$what.out" 2> "$BOT_TMP/$what.err" < /dev/null
  echo $? > "$BOT_TMP/$what.rc"
}
# $1 = what: prints its line
bot_print() {
  local json
  if [ "$(cat "$BOT_TMP/$1.rc")" = 0 ] && json=$(one_line_json < "$BOT_TMP/$1.out" 2> /dev/null); then
    echo "bot_$1=$json"
  else
    echo "bot_error=$1: exit $(cat "$BOT_TMP/$1.rc"): $(cat "$BOT_TMP/$1.err" "$BOT_TMP/$1.out" | grep -v '^\s*$' | tail -n 1 | cut -c1-300)"
  fi
}
bot_listing() {
  bot_call version --version &
  # OpenClaw 2026.9 lists 100 sessions of one agent unless told otherwise; 2026.2 knows neither option (its
  # dist/index.js, the container's entry: "error: unknown option '--all-agents'", exit 1) and, asked without them,
  # lists its default agent's store whole
  bot_call sessions sessions --json --all-agents --limit all &
  bot_call agents agents list --json &
  bot_call cron cron list --all --json "${BOT_GATEWAY[@]}" &
  bot_call skills skills list --json &
  bot_call plugins plugins list --json &
  wait
  if [ "$(cat "$BOT_TMP/sessions.rc")" != 0 ] && grep -q "unknown option '--all-agents'" "$BOT_TMP/sessions.err"; then
    bot_call sessions sessions --json
  fi
  if [ "$(cat "$BOT_TMP/version.rc")" = 0 ]; then
    echo "bot_version=$(head -n 1 "$BOT_TMP/version.out")"
  else
    bot_print version
  fi
  for what in sessions agents cron skills plugins; do bot_print "$what"; done
  [ "$(cat "$BOT_TMP/sessions.rc")" = 0 ] || return 0
  local keys=() n=0 key count
  mapfile -t keys < <(one_line_json < "$BOT_TMP/sessions.out" |
    python3 -c 'import json, sys; [print(s["key"]) for s in json.load(sys.stdin).get("sessions", []) if "\n" not in s["key"]]')
  for key in "${keys[@]}"; do
    # past the budget the counts left are unknown: the phase's own timeout must not end the whole listing
    [ "$SECONDS" -ge "$BOT_BUDGET_S" ] && break
    # the most chat.history returns (2026.2 and 2026.9 both cap it at 1000): counts are compared up to it
    bot_call "history$n" gateway call chat.history --json \
      --params "$(python3 -c 'import json, sys; print(json.dumps({"sessionKey": sys.argv[1], "limit": 1000}))' "$key")" \
      "${BOT_GATEWAY[@]}" &
    n=$((n + 1))
    [ $((n % 4)) = 0 ] && wait
  done
  wait
  for ((i = n; i < ${#keys[@]}; i++)); do echo "bot_error=chat.history ${keys[$i]}: not asked, ${BOT_BUDGET_S} s spent"; done
  for ((i = 0; i < n; i++)); do
    # the messages themselves are the user's conversation: only their count leaves the VM (2026.9 also says
    # totalMessages, beyond the limit)
    if [ "$(cat "$BOT_TMP/history$i.rc")" = 0 ] && count=$(one_line_json < "$BOT_TMP/history$i.out" 2> /dev/null |
      python3 -c 'import json, sys; h = json.load(sys.stdin); n = len(h["messages"]); print(json.dumps({"sessionKey": h["sessionKey"], "messages": max(n, h.get("totalMessages", n))}))'); then
      echo "bot_history=$count"
    else
      echo "bot_error=chat.history ${keys[$i]}: $(cat "$BOT_TMP/history$i.err" "$BOT_TMP/history$i.out" | grep -v '^\s*$' | tail -n 1 | cut -c1-300)"
    fi
  done
}
# The customer's gateway token, from where the Docker-era gateway took it (2026.2's resolveGatewayAuth: the config's
# gateway.auth.token, else OPENCLAW_GATEWAY_TOKEN of its environment, which the compose takes from its .env): prints
# `config <token>`, `environment <token>` or `none`. Callers keep it in a variable and never print it.
customer_token() {
  python3 -c '
import json, re
token = None
try:
    token = json.load(open("/data/openclaw/openclaw.json"))["gateway"]["auth"]["token"]
except Exception:
    pass
if isinstance(token, str) and token.strip():
    print("config", token.strip())
    raise SystemExit
try:
    for line in open("/opt/openclaw/.env"):
        m = re.match(r"\s*(?:export\s+)?OPENCLAW_GATEWAY_TOKEN\s*=\s*(.*?)\s*$", line)
        if m and m.group(1).strip("\"'"'"'"):
            print("environment", m.group(1).strip("\"'"'"'"))
            raise SystemExit
except OSError:
    pass
print("none")
'
}
