#!/usr/bin/env bash
# ctest runs each doctest TEST_CASE by its name, and CMake splits a name at ';' into two
# entries that each match nothing and fail. Caught here, with the place, instead of as two
# mysterious failures.
# Usage: check_test_names.sh <tests directory>
set -euo pipefail
bad=$(grep -rnE --include='*.cpp' 'TEST_CASE\("[^"]*;' "$1" || true)
if [[ -n "$bad" ]]; then
  echo "test names must not contain ';' (ctest splits them there):" >&2
  echo "$bad" >&2
  exit 1
fi
