#!/bin/bash
# A lab guest's boot, run by tini (PID 1): starts what a booted Docker-era OpenClaw VM runs.
# Values arrive in the environment: LAB_VMID, LAB_RELEASE_PORT, LAB_GUEST_SSH (1 = run the guest's own sshd).
set -u
tools=/run/openclaw-lab
logs=/var/log/openclaw-lab
mkdir -p "$logs" /var/log/nginx /run/systemd

# systemd stand-in: supervises units and starts the enabled ones, as at boot.
setsid "$tools/node" "$tools/systemd.js" daemon >>"$logs/systemd.log" 2>&1 &
# Docker: the containers whose state says Up come back, as with restart: unless-stopped.
"$tools/node" "$tools/docker.js" boot >>"$logs/docker.log" 2>&1
# Fronts: 18080 -> 28080 (panel) and 18789 -> 28789 (gateway) behind basic auth.
nginx
# The release endpoint (the lab's stand-in for the panel's release downloads), bridged into this network namespace.
setsid socat "TCP-LISTEN:$LAB_RELEASE_PORT,bind=127.0.0.1,fork,reuseaddr" UNIX-CONNECT:/run/openclaw-lab-run/release.sock \
  >>"$logs/release-bridge.log" 2>&1 &
if [ "${LAB_GUEST_SSH:-0}" = 1 ]; then
  mkdir -p /run/sshd
  /usr/sbin/sshd -f /etc/openclaw-lab/sshd_config
fi
# Faults that strike in the middle of the SOP's work.
if compgen -G '/run/openclaw-lab-faults/*' >/dev/null; then
  setsid /bin/bash "$tools/fault-watcher.sh" >>"$logs/fault-watcher.log" 2>&1 &
fi
# The guest agent last: its answer means the VM is up. The agent-down fault keeps it from starting.
if [ ! -e /run/openclaw-lab-faults/agent-down ]; then
  /bin/bash "$tools/start-agent.sh" "$LAB_VMID"
fi
exec sleep infinity
