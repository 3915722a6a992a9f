#!/usr/bin/env bash
# Prints the path of a Temporal server (temporal-server; beside it temporal-sql-tool and the PostgreSQL
# schema), building the pinned release from Go modules once per machine. The tests' real cluster runs it.
set -euo pipefail

# Newest tag that builds from the Go module proxy with Go 1.26.8: no replace directive in its go.mod, no newer
# Go asked for (v1.30.9 wants 1.26.10, which GOTOOLCHAIN=local refuses), and every dependency on the proxy
# (v1.31.x need go.temporal.io/auto-scaled-workers, which the proxy refuses: 403).
TEMPORAL_SERVER_VERSION=v1.30.8
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/openclaw-migrate/temporal-server-$TEMPORAL_SERVER_VERSION"

if [ -x "$cache_dir/temporal-server" ] && [ -x "$cache_dir/temporal-sql-tool" ] && [ -d "$cache_dir/schema/postgresql" ]; then
  echo "$cache_dir/temporal-server"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "No Go toolchain to build the Temporal server $TEMPORAL_SERVER_VERSION; install Go and run this again." >&2
  exit 1
fi

echo "Building the Temporal server $TEMPORAL_SERVER_VERSION into $cache_dir (once per machine; several minutes)..." >&2
mkdir -p "$cache_dir"
build_log="$cache_dir/build.log"
build() {
  GOTOOLCHAIN=local GOBIN="$cache_dir" go install "$1@$TEMPORAL_SERVER_VERSION" >>"$build_log" 2>&1
}
if ! { build go.temporal.io/server/cmd/server && build go.temporal.io/server/cmd/tools/sql; }; then
  echo "Building the Temporal server failed; the last lines of $build_log:" >&2
  tail -n 20 "$build_log" >&2
  exit 1
fi
mv "$cache_dir/server" "$cache_dir/temporal-server"
mv "$cache_dir/sql" "$cache_dir/temporal-sql-tool"
# The SQL tool applies versioned schema directories; they ship in the module source, not in the binaries.
module_dir="$(GOTOOLCHAIN=local go env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
rm -rf "$cache_dir/schema"
mkdir -p "$cache_dir/schema"
cp -r "$module_dir/schema/postgresql" "$cache_dir/schema/"
chmod -R u+w "$cache_dir/schema"
echo "$cache_dir/temporal-server"
