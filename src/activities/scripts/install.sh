# Phase D (SOP §5.4): node and openclaw on the VM. Runs the install command ($1, a shell command line the operator
# configures) only when either is missing, then reports versions and where the binaries really are, for the units
# (the installer may not put them in /usr/bin). $2, when given, is the release to install: the real installer
# (openclaw.ai/install.sh) reads it from OPENCLAW_VERSION.
set -uo pipefail
export HOME=/root
if command -v node >/dev/null && command -v openclaw >/dev/null; then
  echo "installed_now=0"
else
  if [ -n "${2:-}" ]; then export OPENCLAW_VERSION="$2"; fi
  bash -c "$1" </dev/null || { echo "the install command failed (exit $?)" >&2; exit 1; }
  hash -r
  echo "installed_now=1"
fi
command -v node >/dev/null || { echo "node is missing after the install" >&2; exit 1; }
command -v openclaw >/dev/null || { echo "openclaw is missing after the install" >&2; exit 1; }
echo "node_path=$(command -v node)"
echo "node_version=$(node -v)"
echo "openclaw_path=$(command -v openclaw)"
echo "openclaw_version=$(openclaw --version | head -n 1)"
