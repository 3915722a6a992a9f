#!/usr/bin/env bash
# npm run build: the worker as production runs it (deploy/openclaw-migrate-worker.service), into lib/:
# the compiled JavaScript, the guest scripts it reads beside it, and the pre-built workflow bundle.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rm -rf lib
npx tsc -p tsconfig.build.json
# Files the code reads next to itself at run time (guest scripts); paths kept relative to src/.
(cd src && find . -type f -name '*.sh' -print0) | while IFS= read -r -d '' file; do
  install -D -m 0644 "src/$file" "lib/$file"
done
node lib/workflow-code.js
