#!/usr/bin/env bash
# The README's demo command: volley-server in echo mode on 127.0.0.1, 200 unmodified stock
# libenet 1.3.17 clients (8 hosts x 25 peers) sending 64-byte reliable packets at 20 Hz each for
# 5 s, then a report from both sides. Afterwards a short stock libenet session is captured and
# decoded by volley-dump, Volley's own ENet wire codec. Everything stays on loopback, every
# process is bounded by --seconds and is ended by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" \
  --target volley-server volley-enet-swarm volley-dump volley-capture-enet >/dev/null
bin=build/default
out=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

# Value of a numeric or string key in a flat JSON object.
json() { sed -n "s/.*\"$2\": *\"\{0,1\}\([^,\"}]*\).*/\1/p" "$1" | head -n 1; }

echo "== volley-server --mode echo"
"$bin/server/volley-server" --mode echo --bind 127.0.0.1 --port 0 --seconds 60 \
  --stats-json "$out/server.json" --status-interval 2 >"$out/server.out" 2>"$out/server.err" &
server_pid=$!
for _ in $(seq 50); do grep -q '^listening' "$out/server.out" && break; sleep 0.1; done
listening=$(grep '^listening' "$out/server.out") || { cat "$out/server.err"; exit 1; }
port=${listening##*:}
echo "   $listening (pid $server_pid)"

echo "== 200 stock libenet clients, 20 Hz x 64 B reliable each, 5 s"
"$bin/tools/scale/volley-enet-swarm" --server "127.0.0.1:$port" --hosts 8 --peers-per-host 25 \
  --rate 20 --size 64 --idle 5 --seconds 30 --server-pid "$server_pid" \
  --report-json "$out/swarm.json" >/dev/null 2>"$out/swarm.err" || swarm_failed=1
kill -INT "$server_pid"
wait "$server_pid" || true
server_pid=

w=$out/swarm.json s=$out/server.json
printf '   %-34s %s\n' \
  "clients connected" "$(json "$w" connected) of $(json "$w" peers) in $(json "$w" connect_time_s) s" \
  "echoes sent / received" "$(json "$w" echoes_sent) / $(json "$w" echoes_received)" \
  "lost / out of order / corrupt" "$(json "$w" lost) / $(json "$w" out_of_order) / $(json "$w" corrupt)" \
  "round trip p50 / p99 / max (us)" "$(json "$w" rtt_p50_us) / $(json "$w" rtt_p99_us) / $(json "$w" rtt_max_us)" \
  "server CPU per echo (us)" "$(json "$w" server_cpu_us_per_echo)" \
  "server: connects / disconnects" "$(json "$s" connects) / $(json "$s" disconnects)" \
  "server: packets in / out" "$(json "$s" packets_in) / $(json "$s" packets_out)" \
  "server: datagrams in / out" "$(json "$s" datagrams_in) / $(json "$s" datagrams_out)" \
  "server: bad datagrams, peak peers" "$(json "$s" bad_datagrams), $(json "$s" peers_peak)" \
  "server: backend" "$(json "$s" backend)"
echo "   server log:"; sed 's/^/     /' "$out/server.err"
if [[ -n "${swarm_failed:-}" ]]; then echo "the client swarm reported a failure:"; cat "$out/swarm.err"; exit 1; fi

echo
echo "== a stock libenet session captured to pcap, decoded by volley-dump"
"$bin/tools/capture/volley-capture-enet" --out "$out/session.pcap" >/dev/null
"$bin/tools/dump/volley-dump" --pcap "$out/session.pcap" > "$out/session.json"
head -n 3 "$out/session.json" | cut -c 1-200 | sed 's/$/ .../'
echo "   datagrams: $(wc -l < "$out/session.json"), errors: $(grep -c '"error"' "$out/session.json" || true)"
echo "   commands:  $(grep -o '"command":"[A-Z_]*"' "$out/session.json" | sort | uniq -c | awk '{printf "%s x%s  ", substr($2, 12, length($2) - 12), $1}')"
