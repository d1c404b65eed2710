#!/usr/bin/env bash
# The attack and fault runs (docs/attacks.md): connect flood, the stock-ENet comparison, garbage
# flood, soak through volley-netsim, churn. Each writes OUT/<scenario>.json and the summary;
# exits 1 when a figure is not met, 2 for a bad flag. All flags: tools/attack/run.py --help.
#   scripts/attack.sh                          # full lengths (30 s floods, 5 min soak and churn)
#   scripts/attack.sh --short                  # the CI lengths, each scenario under 60 s
#   scripts/attack.sh --short --asan --server-build build/asan   # the server under ASan
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 tools/attack/run.py "$@"
