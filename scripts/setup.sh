#!/usr/bin/env bash
# Installs what a fresh clone on a fresh machine lacks; quick and silent when all is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages the project runs: the lab's node and guests use the real sshd, nginx, rsync, tar and
# python3 the SOP calls; socat bridges loopback services into guest namespaces;
# mmdebstrap builds the real guests' Debian image and systemd-nspawn (systemd-container) boots them; postgresql
# is the database of the tests' real Temporal cluster; shellcheck checks every script (npm run check);
# qemu-guest-agent is the real qemu-ga that test/lab/qm.test.ts runs on a temp socket for qm's protocol tests.
apt_packages=(curl iproute2 procps util-linux openssh-server openssh-client nginx rsync tar python3 socat openssl
  inotify-tools mmdebstrap systemd-container postgresql shellcheck qemu-guest-agent)

missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  # Packages like nginx and openssh-server start their service on install; the lab runs its own copies in
  # namespaces, so nothing may start on the host itself (policy-rc.d exit 101 = "not allowed").
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "Node.js 20 or later is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci only when the installed tree is not the locked one.
if ! cmp -s package-lock.json node_modules/.openclaw-migrate-lock; then
  npm ci --no-fund --no-audit
  cp package-lock.json node_modules/.openclaw-migrate-lock
fi

scripts/temporal-cli.sh >/dev/null
scripts/temporal-server.sh >/dev/null
