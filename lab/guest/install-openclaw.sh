#!/usr/bin/env bash
# The lab's OpenClaw installer, standing in for `curl -fsSL https://openclaw.ai/install.sh | bash` (SOP §5.4),
# which cannot reach openclaw.ai here. Run inside a guest as root:
#
#     bash install-openclaw.sh [--no-prompt] [--no-onboard] [--no-gum]
#
# Like the real install.sh it is interactive unless --no-prompt: it asks "Choose install method [1/2]:" and reads
# the answer from the terminal, else from stdin. With no terminal and stdin at end-of-file (what the QEMU guest
# agent gives a process) there is no answer to read, and it keeps waiting, as the real one did in record 000.
#
# How it installs, from $OPENCLAW_LAB_INSTALL_CONF (default /run/openclaw-lab/install-openclaw.conf, key=value lines
# the lab writes: method=prefix|registry, version=<openclaw version>; OPENCLAW_LAB_INSTALL overrides the method):
# - prefix (the default): unpacking the prepared prefix (Node 24 + npm + openclaw, see lab/openclaw-cache.ts) from
#   $OPENCLAW_LAB_PREFIX_TGZ (default /run/openclaw-lab/openclaw-prefix.tgz) into $PREFIX (default /usr/local). An
#   install of the same tarball is detected and kept (idempotent); a different one replaces node_modules/openclaw and
#   npm first.
# - registry: as the real installer does. Node first (the real one installs Node from NodeSource's packages when the
#   machine's is missing or too old; here the same Node 24 and npm as the prefix's are unpacked from
#   $OPENCLAW_LAB_NODE_TGZ, default /run/openclaw-lab/openclaw-node.tgz, see lab/registry.ts), then
#   `npm install -g openclaw@$OPENCLAW_VERSION` (the real installer's variable; the conf's version by default)
#   into $PREFIX through npm's configured registry: in a guest the lab's Verdaccio (/root/.npmrc). A Node of the same
#   tarball and an openclaw of the same version are kept (idempotent).
# With the default PREFIX it also links node, npm, npx and openclaw into /usr/bin, where the real installer's Node
# (NodeSource) and `npm install -g` (prefix /usr) put them and where the SOP's units look (ExecStart=/usr/bin/openclaw,
# /usr/bin/node); OPENCLAW_LAB_LINK_DIR overrides the link directory ('' = none).
#
# Fault: LAB_FAULT_INSTALL_HANG=1 or the file $LAB_ROOT/run/openclaw-lab-faults/install-hang makes it wait for
# input whatever the flags say.
set -euo pipefail

NO_PROMPT=0
NO_ONBOARD=0
NO_GUM=0
for arg in "$@"; do
  case "$arg" in
    --no-prompt) NO_PROMPT=1 ;;
    --no-onboard) NO_ONBOARD=1 ;;
    --no-gum) NO_GUM=1 ;;
    -h | --help)
      echo "Usage: install-openclaw.sh [--no-prompt] [--no-onboard] [--no-gum]"
      exit 0
      ;;
    *)
      echo "Unknown option: $arg" >&2
      echo "Usage: install-openclaw.sh [--no-prompt] [--no-onboard] [--no-gum]" >&2
      exit 2
      ;;
  esac
done

TGZ=${OPENCLAW_LAB_PREFIX_TGZ:-/run/openclaw-lab/openclaw-prefix.tgz}
NODE_TGZ=${OPENCLAW_LAB_NODE_TGZ:-/run/openclaw-lab/openclaw-node.tgz}
INSTALL_FROM=prefix
LAB_VERSION=''
CONF=${OPENCLAW_LAB_INSTALL_CONF:-/run/openclaw-lab/install-openclaw.conf}
if [ -f "$CONF" ]; then
  while IFS='=' read -r key value; do
    case "$key" in
      method) INSTALL_FROM=$value ;;
      version) LAB_VERSION=$value ;;
    esac
  done <"$CONF"
fi
INSTALL_FROM=${OPENCLAW_LAB_INSTALL:-$INSTALL_FROM}
if [ -n "${PREFIX:-}" ]; then
  LINK_DIR=${OPENCLAW_LAB_LINK_DIR-}
else
  PREFIX=/usr/local
  LINK_DIR=${OPENCLAW_LAB_LINK_DIR-/usr/bin}
fi
FAULT_FILE="${LAB_ROOT:-}/run/openclaw-lab-faults/install-hang"
STAMP="$PREFIX/lib/node_modules/.openclaw-lab-prefix"

say() { printf '%s\n' "$*"; }
# gum draws spinners and boxes in the real installer; --no-gum (and this lab build) print plain lines.
step() { printf '==> %s\n' "$*"; }

say "🦞 OpenClaw Installer (lab)"
[ "$NO_GUM" = 1 ] || true

# Reads one answer into ANSWER: from the terminal if there is one, else from stdin. No answer (EOF) → wait for
# ever, like an installer blocked on a prompt nobody will answer. The wait is a read on a pipe this shell holds
# open for writing itself: no child process, so killing this shell ends it all.
ANSWER=''
read_answer() {
  ANSWER=''
  if (: </dev/tty) 2>/dev/null; then
    { IFS= read -r ANSWER </dev/tty || [ -n "$ANSWER" ]; } && return 0
  elif IFS= read -r ANSWER || [ -n "$ANSWER" ]; then
    return 0
  fi
  IFS= read -r _ <> <(:)
}

choose_method() {
  say ""
  say "How would you like to install OpenClaw?"
  say "  1) npm (recommended) - install the openclaw package globally with npm"
  say "  2) git - clone the repository and build from source"
  while :; do
    printf 'Choose install method [1/2]: '
    read_answer
    case "$ANSWER" in
      1 | '') METHOD=npm && return 0 ;;
      2) METHOD=git && return 0 ;;
      *) say "Please answer 1 or 2." ;;
    esac
  done
}

METHOD=npm
if [ "${LAB_FAULT_INSTALL_HANG:-0}" = 1 ] || [ -e "$FAULT_FILE" ]; then
  choose_method
elif [ "$NO_PROMPT" != 1 ]; then
  choose_method
fi
if [ "$METHOD" = git ]; then
  say "The lab has no network to clone from; installing the prepared npm package instead."
fi

# Unpacks tarball $2 into $PREFIX, saying step $1 and first removing $5…, unless the stamp file $3 says this very
# tarball is there and the file $4 exists. UNPACKED says which (1 or 0). Not called as a condition, so that `set -e`
# holds inside.
UNPACKED=0
unpack_once() {
  local what=$1 tgz=$2 stamp=$3 witness=$4 id
  shift 4
  if [ ! -f "$tgz" ]; then
    say "error: the prepared package is missing: $tgz" >&2
    exit 1
  fi
  id=$(stat -L -c '%s %Y' "$tgz")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$id" ] && [ -x "$PREFIX/bin/node" ] && [ -e "$witness" ]; then
    UNPACKED=0
    return 0
  fi
  UNPACKED=1
  step "$what"
  mkdir -p "$PREFIX"
  rm -rf "$@" "$stamp"
  tar -xzf "$tgz" -C "$PREFIX" --no-same-owner
  printf '%s\n' "$id" >"$stamp"
}

if [ "$INSTALL_FROM" = registry ]; then
  VERSION=${OPENCLAW_VERSION:-${LAB_VERSION:-latest}}
  npm_cli=$PREFIX/lib/node_modules/npm/bin/npm-cli.js
  unpack_once "Installing Node.js and npm into $PREFIX" "$NODE_TGZ" "$PREFIX/lib/node_modules/.openclaw-lab-node" \
    "$npm_cli" "$PREFIX/lib/node_modules/npm"
  [ "$UNPACKED" = 1 ] || step "Node.js $("$PREFIX/bin/node" -v) is already installed in $PREFIX"
  installed=$("$PREFIX/bin/node" -p 'require(process.argv[1]).version' "$PREFIX/lib/node_modules/openclaw/package.json" 2>/dev/null || true)
  if [ "$installed" = "$VERSION" ] && [ -e "$PREFIX/bin/openclaw" ]; then
    step "OpenClaw $VERSION is already installed in $PREFIX"
  else
    step "Installing OpenClaw $VERSION with npm from $("$PREFIX/bin/npm" config get registry)"
    PATH="$PREFIX/bin:$PATH" SHARP_IGNORE_GLOBAL_LIBVIPS=${SHARP_IGNORE_GLOBAL_LIBVIPS:-1} \
      "$PREFIX/bin/npm" install -g --prefix "$PREFIX" --no-fund --no-audit \
      --loglevel "${OPENCLAW_NPM_LOGLEVEL:-error}" "openclaw@$VERSION"
  fi
else
  unpack_once "Installing Node.js, npm and OpenClaw into $PREFIX" "$TGZ" "$STAMP" \
    "$PREFIX/lib/node_modules/openclaw/openclaw.mjs" "$PREFIX/lib/node_modules/openclaw" "$PREFIX/lib/node_modules/npm"
  [ "$UNPACKED" = 1 ] || step "OpenClaw is already installed in $PREFIX (same package); nothing to unpack"
fi

if [ -n "$LINK_DIR" ]; then
  mkdir -p "$LINK_DIR"
  for tool in node npm npx openclaw; do
    if [ -e "$PREFIX/bin/$tool" ]; then
      ln -sfn "$PREFIX/bin/$tool" "$LINK_DIR/$tool"
    fi
  done
fi

node_version=$("$PREFIX/bin/node" -v)
npm_version=$("$PREFIX/bin/node" -p 'require(process.argv[1]).version' "$PREFIX/lib/node_modules/npm/package.json" 2>/dev/null || echo none)
openclaw_version=$("$PREFIX/bin/node" -p 'require(process.argv[1]).version' "$PREFIX/lib/node_modules/openclaw/package.json")
say "✓ node $node_version → $PREFIX/bin/node"
say "✓ npm $npm_version → $PREFIX/bin/npm"
say "✓ openclaw $openclaw_version → $PREFIX/bin/openclaw"
if [ -n "$LINK_DIR" ]; then
  say "✓ linked node, npm, npx, openclaw into $LINK_DIR"
fi
if [ "$NO_ONBOARD" = 1 ]; then
  say "Skipping onboarding (--no-onboard). Run 'openclaw onboard' to configure later."
else
  say "Onboarding is not run in the lab. Run 'openclaw onboard' to configure."
fi
say "🦞 OpenClaw $openclaw_version installed."
