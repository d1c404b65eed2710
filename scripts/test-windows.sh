#!/usr/bin/env bash
# Windows leg of CI: cross-builds the layers without third-party libraries (volley::engine and
# the protocol core) and their tests with the `mingw` preset and runs them under Wine: the engine
# suite on IOCP, the Peer suites over the simulated network. Wine facts this relies on (issue 3):
# Debian's wine64 has no /usr/bin/wine; a fresh prefix takes seconds; the wineserver must be
# started persistently and the prefix booted BEFORE ctest, or wine's background services keep
# ctest's output pipe open and ctest never returns; the wineserver is killed afterwards.
#   scripts/test-windows.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --windows

wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver64
export VOLLEY_WINE=$wine
export WINEPREFIX
WINEPREFIX=$(mktemp -d /tmp/volley-wine.XXXXXX)
export WINEDEBUG=-all
# No Mono/Gecko install prompts or downloads while booting the prefix.
export WINEDLLOVERRIDES="mscoree=;mshtml="

cleanup() {
  "$wineserver" -k 2>/dev/null || true
  rm -rf "$WINEPREFIX"
}
trap cleanup EXIT

"$wineserver" -p
"$wine" wineboot --init >/dev/null 2>&1

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset mingw >/dev/null
cmake --build --preset mingw -j "$jobs"
ctest --preset mingw "$@"
