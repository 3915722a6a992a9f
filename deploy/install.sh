#!/usr/bin/env bash
# Installs the worker as a systemd service from this checkout, as root:
#   bash deploy/install.sh            # code into /opt/openclaw-migrate, unit, user, /etc/openclaw-migrate
# Run it again to upgrade the code: it restarts a running worker gracefully (SIGTERM, then the unit's stop timeout).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

prefix=/opt/openclaw-migrate
etc=/etc/openclaw-migrate
unit=openclaw-migrate-worker.service
user=openclaw-migrate

[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root" >&2; exit 1; }
major=$(/usr/bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "install.sh: the unit runs /usr/bin/node, which must be Node.js 20 or later (found: $(/usr/bin/node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

getent group "$user" >/dev/null || groupadd --system "$user"
getent passwd "$user" >/dev/null ||
  useradd --system --gid "$user" --home-dir /var/lib/openclaw-migrate --no-create-home --shell /usr/sbin/nologin "$user"

# The code, owned by root and readable by the service: only what the worker runs (lib/, compiled, with the
# pre-built workflow bundle; `npm run build` needs this checkout's development dependencies), with its runtime
# dependencies.
npm run build --silent
staging=$(mktemp -d "${prefix}.new.XXXXXX")
trap 'rm -rf "$staging"' EXIT
cp -r lib package.json package-lock.json README.md "$staging/"
(cd "$staging" && npm ci --omit=dev --no-fund --no-audit --loglevel=error)
chmod -R u=rwX,go=rX "$staging"
rm -rf "${prefix}.old"
[ ! -e "$prefix" ] || mv "$prefix" "${prefix}.old"
mv "$staging" "$prefix"
rm -rf "${prefix}.old"

# Settings: examples only where the operator has none; the TLS key and the node's SSH key go beside them.
install -d -m 0750 -g "$user" "$etc" "$etc/tls" "$etc/ssh"
[ -e "$etc/worker.env" ] || install -m 0640 -g "$user" deploy/worker.env.example "$etc/worker.env"
[ -e "$etc/temporal.toml" ] || install -m 0640 -g "$user" deploy/temporal.toml.example "$etc/temporal.toml"
install -m 0644 "deploy/$unit" "/etc/systemd/system/$unit"

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl try-restart "$unit"
fi
cat <<MSG
installed $prefix and /etc/systemd/system/$unit
next: edit $etc/worker.env and $etc/temporal.toml (certificates in $etc/tls, the node's SSH key in $etc/ssh,
all group $user, mode 0640), then: systemctl enable --now $unit
MSG
