#!/usr/bin/env bash
# Prints the path of a Temporal CLI, building the pinned one from Go modules when none is found.
# Order: $TEMPORAL_CLI, `temporal` on PATH, the project's build cache; else build into that cache.
set -euo pipefail

TEMPORAL_CLI_VERSION=v1.5.1 # newest tag whose go.mod has no replace directive (go install refuses those)
cache_bin="${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-migrate/temporal-cli-$TEMPORAL_CLI_VERSION"

if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || { echo "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable file" >&2; exit 1; }
  echo "$TEMPORAL_CLI"
  exit 0
fi
if on_path=$(command -v temporal 2>/dev/null); then
  echo "$on_path"
  exit 0
fi
if [ -x "$cache_bin/temporal" ]; then
  echo "$cache_bin/temporal"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<MSG
No Temporal CLI found and no Go toolchain to build one.
Either put 'temporal' on PATH, set TEMPORAL_CLI=/path/to/temporal, or install Go and run this again
(it builds github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION from the Go module proxy).
MSG
  exit 1
fi

echo "Building the Temporal CLI $TEMPORAL_CLI_VERSION into $cache_bin (once per machine; several minutes)..." >&2
mkdir -p "$cache_bin"
build_log="$cache_bin/build.log"
if ! GOTOOLCHAIN=local GOBIN="$cache_bin" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >"$build_log" 2>&1; then
  echo "Building the Temporal CLI failed; the last lines of $build_log:" >&2
  tail -n 20 "$build_log" >&2
  exit 1
fi
echo "$cache_bin/temporal"
