#!/usr/bin/env bash
# The README's demo command. Until the server lands (issue 5) the demo records a real session
# between two stock libenet 1.3.17 hosts on 127.0.0.1 and decodes it with volley-dump, which
# uses Volley's own ENet wire codec.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" --target volley-dump volley-capture-enet >/dev/null
bin=build/default/tools
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for mode in plain checksum range-coder; do
  flags=()
  [[ $mode == checksum ]] && flags=(--checksum)
  [[ $mode == range-coder ]] && flags=(--range-coder)
  "$bin/capture/volley-capture-enet" --out "$out/$mode.pcap" "${flags[@]}" >/dev/null
  echo "== stock libenet session ($mode), decoded by volley-dump:"
  "$bin/dump/volley-dump" --pcap "$out/$mode.pcap" "${flags[@]}" > "$out/$mode.json"
  if [[ $mode == plain ]]; then head -n 4 "$out/$mode.json"; echo "..."; fi
  echo "   datagrams: $(wc -l < "$out/$mode.json"), errors: $(grep -c '"error"' "$out/$mode.json" || true)"
  echo "   commands:  $(grep -o '"command":"[A-Z_]*"' "$out/$mode.json" | sort | uniq -c | awk '{printf "%s x%s  ", substr($2, 12, length($2) - 12), $1}')"
done
