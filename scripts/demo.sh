#!/usr/bin/env bash
# The README's demo command. First the demo game: volley-server --mode demo on 127.0.0.1 (the
# 256-entity demo scene at 30 Hz, a player entity per client, chat as snapshot events) and a
# crowd of 100 game clients in one volley-client process (the client library over stock libenet
# 1.3.17) moving and chatting for 10 s, then a report of what both sides saw. Then, shorter:
# volley-server --mode echo with 200 unmodified stock libenet clients (8 hosts x 25 peers, 64-byte
# reliable packets at 20 Hz for 5 s), and a stock libenet session captured and decoded by
# volley-dump, Volley's own ENet wire codec. Everything stays on loopback, every process is
# bounded by --seconds and is ended by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" \
  --target volley-server volley-client volley-enet-swarm volley-dump volley-capture-enet >/dev/null
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

# Starts volley-server with the given flags; sets server_pid and port.
start_server() {
  "$bin/server/volley-server" "$@" --bind 127.0.0.1 --port 0 --seconds 60 \
    --stats-json "$out/server.json" --status-interval 2 >"$out/server.out" 2>"$out/server.err" &
  server_pid=$!
  for _ in $(seq 50); do grep -q '^listening' "$out/server.out" && break; sleep 0.1; done
  listening=$(grep '^listening' "$out/server.out") || { cat "$out/server.err"; exit 1; }
  port=${listening##*:}
  echo "   $listening (pid $server_pid)"
}
stop_server() {
  kill -INT "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

echo "== volley-server --mode demo (256 entities, 30 Hz)"
start_server --mode demo --tick-hz 30 --entities 256
echo "== volley-client --clients 100 --seconds 10 (moves every tick, a chat line every 5 s each)"
"$bin/client/volley-client" --server "127.0.0.1:$port" --clients 100 --seconds 10 --chat-every 5 \
  --report-json "$out/client.json" </dev/null >"$out/client.out" 2>"$out/client.err" || client_failed=1
sed -n '/^t=/p' "$out/client.out" | sed -n '1p;5p;$p' | cut -c 1-160 | sed 's/^/   /'
stop_server
c=$out/client.json s=$out/server.json
printf '   %-44s %s\n' \
  "clients connected (client / server)" "$(json "$c" connected) of $(json "$c" clients) / $(json "$s" connects), peak $(json "$s" peers_peak)" \
  "frames sent by the server (full / delta)" "$(json "$s" snapshots_full) / $(json "$s" snapshots_delta) over $(json "$s" snapshot_frames) ticks" \
  "frames applied by the clients" "$(json "$c" frames_applied) of $(json "$c" frames_received) received" \
  "frames dropped: old / corrupt / no baseline" "$(json "$c" frames_dropped_old) / $(json "$c" frames_dropped_corrupt) / $(json "$c" frames_dropped_no_baseline)" \
  "frames going backwards" "$(json "$c" frame_regressions)" \
  "events raised by the server (chat, entities)" "$(json "$s" events_raised), undeliverable $(json "$s" events_undeliverable), pending $(json "$s" events_pending)" \
  "events shown by the clients / shown twice" "$(json "$c" events_shown) / $(json "$c" events_duplicated)" \
  "chat lines sent / shown (x every client)" "$(json "$c" chat_sent) / $(json "$c" chat_shown)" \
  "snapshot bytes per client per second (server)" "$(json "$s" snapshot_bytes_per_client_s)" \
  "bytes per client per second in / out (client)" "$(json "$c" bytes_in_per_client_s) / $(json "$c" bytes_out_per_client_s)" \
  "RTT p50 / p99 (ms)" "$(json "$c" rtt_p50_ms) / $(json "$c" rtt_p99_ms)" \
  "server CPU user / sys (s)" "$(json "$s" cpu_user_s) / $(json "$s" cpu_sys_s)"
echo "   server log:"; sed 's/^/     /' "$out/server.err"
if [[ -n "${client_failed:-}" ]]; then echo "volley-client reported a failure:"; cat "$out/client.err"; exit 1; fi

echo
echo "== volley-server --mode echo"
start_server --mode echo

echo "== 200 stock libenet clients, 20 Hz x 64 B reliable each, 5 s"
"$bin/tools/scale/volley-enet-swarm" --server "127.0.0.1:$port" --hosts 8 --peers-per-host 25 \
  --rate 20 --size 64 --idle 5 --seconds 30 --server-pid "$server_pid" \
  --report-json "$out/swarm.json" >/dev/null 2>"$out/swarm.err" || swarm_failed=1
stop_server

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
