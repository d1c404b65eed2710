#!/usr/bin/env bash
# The README's test command: install what is missing, build a preset, run its tests.
#   scripts/test.sh                 preset "default", every test
#   scripts/test.sh asan [-L label] preset "asan", optionally a ctest label filter
# VOLLEY_TARGETS="a b" builds only those targets (ctest then runs only the tests they hold).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-default}
shift || true
case "$preset" in default|release|asan|tsan) ;;
  *) echo "test.sh: unknown preset '$preset' (default, release, asan, tsan)" >&2; exit 2;; esac

scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset "$preset" >/dev/null
if [[ -n "${VOLLEY_TARGETS:-}" ]]; then
  read -r -d '' -a targets <<< "$VOLLEY_TARGETS" || true   # names may span lines
  cmake --build --preset "$preset" -j "$jobs" --target "${targets[@]}"
else
  cmake --build --preset "$preset" -j "$jobs"
fi
ctest --preset "$preset" -j "$jobs" "$@"
