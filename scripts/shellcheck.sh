#!/usr/bin/env bash
# Every shell script in the repository through shellcheck: the guest scripts of the phases, the lab's, CI's own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files '*.sh' .ci/run)
shellcheck --shell=bash "${files[@]}"
