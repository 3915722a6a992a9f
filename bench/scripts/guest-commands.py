#!/usr/bin/env python3
"""Runs in a guest for a benchmark: notes every command the product starts there (qemu-ga runs them as
`/bin/bash -c <script> <label> <args...>`) with its start, from the kernel's process start time, and its end, the
last poll that still saw it (polls 10 ms apart), by the guest's clock. On SIGTERM prints one JSON line per command:
{"label", "pid", "startMs", "endMs"}. Usage: guest-commands.py (in the guest, until stopped)."""
import json
import os
import signal
import sys
import time

POLL_S = 0.01
TICKS = os.sysconf("SC_CLK_TCK")


def boot_time_s():
    # /proc/stat's btime is whole seconds: up to a second off every start time
    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def started_s(pid, boot_s):
    with open("/proc/%s/stat" % pid, encoding="utf-8", errors="replace") as stat:
        # the fields after the command name, which is in parentheses and may hold spaces
        fields = stat.read().rsplit(")", 1)[1].split()
    return boot_s + int(fields[19]) / TICKS


def product_label(pid):
    with open("/proc/%s/cmdline" % pid, "rb") as cmdline:
        argv = cmdline.read().split(b"\0")
    if len(argv) >= 4 and argv[0] == b"/bin/bash" and argv[1] == b"-c":
        return argv[3].decode("utf-8", "replace")
    return None


def main():
    boot_s = boot_time_s()
    seen = {}
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    while not stopped:
        now_ms = time.time() * 1000
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if pid in seen:
                    seen[pid]["endMs"] = now_ms
                    continue
                label = product_label(pid)
                if label is not None:
                    seen[pid] = {"label": label, "pid": int(pid), "startMs": started_s(pid, boot_s) * 1000,
                                 "endMs": now_ms}
            except OSError:
                pass  # gone between the listing and the read
        time.sleep(POLL_S)
    for command in seen.values():
        sys.stdout.write(json.dumps(command) + "\n")


main()
