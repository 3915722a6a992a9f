#!/bin/bash
# Starts a lab guest's agent (the QEMU guest agent's stand-in), detached, on the socket the node's qm uses.
# $1 = vmid. Run inside the guest: at boot, and when the agent-down fault is taken back.
mkdir -p /var/log/openclaw-lab
setsid /run/openclaw-lab/node /run/openclaw-lab/qga-agent.js --socket "/run/openclaw-lab-run/qemu-server/$1.qga" \
  </dev/null >>/var/log/openclaw-lab/qga-agent.log 2>&1 &
