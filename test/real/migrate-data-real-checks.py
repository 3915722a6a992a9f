"""The checks of migrate-data-real.sh, on what it left in its scratch dir ($S): `check=<name> ok|FAILED <detail>`."""
import json, os, sys

S, TOKEN, RUN_AS, TOKEN_IN = (os.environ[k] for k in ("S", "TOKEN", "RUN_AS", "TOKEN_IN"))
failed = []


def read(name):
    try:
        return open(os.path.join(S, name), encoding="utf-8", errors="replace").read()
    except OSError:
        return ""


def values(name):
    out = {}
    for line in read(name).splitlines():
        key, eq, value = line.partition("=")
        if eq and key.isidentifier() and key.islower():
            out.setdefault(key, []).append(value)
    return out


def check(name, ok, detail=""):
    print("check=%s %s %s" % (name, "ok" if ok else "FAILED", detail))
    if not ok:
        failed.append(name)


def sessions(name):
    try:
        return {s["key"] for s in json.loads(read(name))["sessions"]}
    except (ValueError, KeyError):
        return set()


home = "/home/%s/.openclaw" % RUN_AS
first, second = values("migrate-1.out"), values("migrate-2.out")
check("migrate exits 0", read("migrate-1.rc").strip() == "0", read("migrate-1.err")[-800:])
check("doctor exits 0", first.get("doctor_exit") == ["0"], str(first.get("doctor_exit")))
check(
    "workspace path rewritten",
    "agents.defaults.workspace /home/node/.openclaw/workspace -> %s/workspace" % home in first.get("path_rewritten", []),
    str(first.get("path_rewritten")),
)
check("token source", first.get("token_source") == [TOKEN_IN], str(first.get("token_source")))
leaked = [n for n in os.listdir(S) if n.startswith(("migrate-", "doctor-")) and TOKEN in read(n)]
check("token never printed", not leaked, str(leaked))
check("doctor's changes kept", bool(first.get("doctor_changed") or first.get("doctor_archived")), "")
print("doctor: %d changed, %d archived, %d disabled" % tuple(len(first.get(k, [])) for k in ("doctor_changed", "doctor_archived", "doctor_disabled")))
check("/readyz 200", read("new-readyz").strip() == "200", read("new-gateway.log")[-1500:])
old, new = sessions("old-sessions.json"), sessions("new-sessions.json")
check("every session listed", len(old) >= 3 and old <= new, "old %s new %s %s" % (sorted(old), sorted(new), read("new-sessions.err")[-400:]))
check("workspace resolved", read("new-workspace.txt").strip() == "%s/workspace" % home, read("new-workspace.txt").strip())
check("the customer's token connects", read("new-health-token.rc").strip() == "0", read("new-health-token.json")[-400:])
check("another token is refused", read("new-health-wrong.rc").strip() != "0" and "mismatch" in read("new-health-wrong.json"), "")
check(
    "doctor's refusal is exit 3 with its tail",
    read("migrate-live.rc").strip() == "3" and "doctor" in read("migrate-live.err").lower(),
    read("migrate-live.rc").strip() + " " + read("migrate-live.err")[-300:],
)
check("re-run exits 0", read("migrate-2.rc").strip() == "0", read("migrate-2.err")[-800:])
same = ("config_backup", "path_rewritten", "token_source", "doctor_exit", "doctor_disabled")
check("re-run gives the same", all(first.get(k) == second.get(k) for k in same) and second.get("config_backup_new") == ["0"],
      str({k: (first.get(k), second.get(k)) for k in same if first.get(k) != second.get(k)}))
check("config 600, the run-as user's", read("new-config-mode").strip() == "600 %s" % RUN_AS, read("new-config-mode").strip())
pre = json.loads(read("node-home/.openclaw/openclaw.json"))
try:
    restored = json.loads(read("restored.json"))
except ValueError:
    restored = None
check("rollback restores the pre-migration config", restored == pre, read("restore.out"))
sys.exit(1 if failed else 0)
