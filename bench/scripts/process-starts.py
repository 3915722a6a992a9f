#!/usr/bin/env python3
"""Runs on the host for a benchmark, as root: counts the processes started (forks, not threads) below given roots,
from the kernel's process events (the netlink proc connector), until SIGTERM; then prints one JSON object
{"<name>": count, ..., "other": count, "lost": 0|1}. A process counts for the first root among its ancestors (the
roots as they were at the start, and every fork seen since). Usage: process-starts.py NAME=PID ..."""
import json
import os
import signal
import socket
import struct
import sys

NETLINK_CONNECTOR = 11
CN_IDX_PROC = CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_FORK = 1
NLMSG_DONE = 3


def parents():
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % pid, encoding="utf-8", errors="replace") as stat:
                found[int(pid)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return found


def main():
    roots = {int(pid): name for name, pid in (arg.split("=", 1) for arg in sys.argv[1:])}
    counts = {name: 0 for name in roots.values()}
    counts["other"] = 0
    lost = 0
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind((0, CN_IDX_PROC))
    op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
    cn = struct.pack("=IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
    sock.send(struct.pack("=IHHII", 16 + len(cn), NLMSG_DONE, 0, 0, 0) + cn)
    parent = parents()
    category = {}

    def category_of(pid):
        seen = []
        while pid > 1 and pid not in roots and pid not in category:
            seen.append(pid)
            pid = parent.get(pid, 0)
        name = roots.get(pid) or category.get(pid) or "other"
        for p in seen:
            category[p] = name
        return name

    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    sock.settimeout(0.5)
    while not stopped:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        except OSError:  # ENOBUFS: events were dropped
            lost = 1
            continue
        offset = 0
        while offset + 16 <= len(data):
            length = struct.unpack_from("=I", data, offset)[0]
            if length < 16:
                break
            what = struct.unpack_from("=I", data, offset + 16 + 20)[0]
            if what == PROC_EVENT_FORK:
                _, ptgid, cpid, ctgid = struct.unpack_from("=IIII", data, offset + 16 + 20 + 16)
                if cpid == ctgid:  # a new process, not a thread
                    parent[ctgid] = ptgid
                    category.pop(ctgid, None)
                    counts[category_of(ctgid)] += 1
            offset += (length + 3) & ~3
    counts["lost"] = lost
    sys.stdout.write(json.dumps(counts) + "\n")


main()
