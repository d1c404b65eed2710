#!/usr/bin/env bash
# Installs, from Debian packages only, whatever Volley's build and tests need and this machine
# lacks. Idempotent: does nothing (and no apt-get update) when everything is present.
#   scripts/install-deps.sh            native build + tests
#   scripts/install-deps.sh --windows  also the mingw-w64 cross compiler and Wine
#   scripts/install-deps.sh --fuzz     also clang and libFuzzer (the `fuzz` preset, scripts/fuzz.sh)
# Options combine; the optional groups are installed only by the steps that need them.
set -euo pipefail

packages=(cmake g++ make pkg-config libenet-dev libflatbuffers-dev flatbuffers-compiler
          libzstd-dev doctest-dev liburing-dev libpcap-dev libcli11-dev libcivetweb-dev
          curl python3-yaml)
for option in "$@"; do
  case "$option" in
    --windows) packages+=(g++-mingw-w64-x86-64-posix wine64) ;;
    --fuzz) packages+=(clang-16 libclang-rt-16-dev) ;;
    *) echo "install-deps.sh: unknown option '$option' (expected --windows, --fuzz or nothing)" >&2
       exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "install-deps.sh: missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when apt cannot see a missing package (fresh machine).
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
