#!/usr/bin/env bash
# The README's demo command. First the demo game: volley-server --mode demo on 127.0.0.1 (the
# 256-entity demo scene at 30 Hz, a player entity per client, chat as snapshot events) and 100
# game bots in one volley-bots process (--behavior game on the client library, stock libenet
# 1.3.17 underneath) moving and chatting for 10 s, each checking what it is shown; then the bots'
# report and what the server saw. Then, shorter: volley-server --mode echo with 200 volley-bots
# echo bots (reliable and unreliable 64-byte messages at 20 Hz for 5 s, each checked: exactly
# once, in order, intact), and a stock libenet session captured and decoded by volley-dump,
# Volley's own ENet wire codec. Everything stays on loopback, every process is bounded by
# --seconds and is ended by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== building volley-server, volley-bots, volley-dump (the first build takes minutes)"
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" \
  --target volley-server volley-bots volley-dump volley-capture-enet >/dev/null
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

# Starts volley-server with the given flags; sets server_pid and port. Every bot connects from
# 127.0.0.1, so the per-IP cap (32 by default, README "Limits") is lifted.
start_server() {
  "$bin/server/volley-server" "$@" --bind 127.0.0.1 --port 0 --seconds 60 --per-ip-cap 0 \
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
echo "== volley-bots --behavior game --engine enet --bots 100 --seconds 10 (inputs every tick, a chat line every 5 s each)"
# The live progress line goes to stderr when it is a terminal; the report to stdout.
"$bin/tools/bots/volley-bots" --server "127.0.0.1:$port" --behavior game --engine enet --bots 100 --seconds 10 \
  --chat-every 5 --report-json "$out/bots.json" --report-html "$bin/demo-bots.html" >"$out/bots.out" || bots_failed=1
stop_server
sed 's/^/   /' "$out/bots.out"
b=$out/bots.json s=$out/server.json
echo "   what both sides saw:"
printf '   %-48s %s\n' \
  "bots connected (bots / server connects, peak)" "$(json "$b" connected) of $(json "$b" bots) / $(json "$s" connects), peak $(json "$s" peers_peak)" \
  "frames sent by the server (full / delta)" "$(json "$s" snapshots_full) / $(json "$s" snapshots_delta) over $(json "$s" snapshot_frames) ticks" \
  "frames applied by the bots" "$(json "$b" snapshots_applied) of $(json "$b" snapshots_received) received" \
  "events raised by the server (chat, entities)" "$(json "$s" events_raised), undeliverable $(json "$s" events_undeliverable), pending $(json "$s" events_pending)" \
  "events the game held back (window full) / lost" "$(json "$s" demo_events_deferred) / $(json "$s" demo_events_refused)" \
  "events shown by the bots / shown twice" "$(json "$b" events_shown) / $(json "$b" events_duplicated)" \
  "chat lines sent / received by the server" "$(json "$b" chat_sent) / $(json "$s" demo_chat_received)" \
  "chat lines shown (x every bot) / missed" "$(json "$b" chat_shown) / $(json "$b" chat_missed)" \
  "inputs sent / received by the server" "$(json "$b" inputs_sent) / $(json "$s" demo_inputs)" \
  "snapshot bytes per client per second (server)" "$(json "$s" snapshot_bytes_per_client_s)" \
  "bytes per bot per second in / out (bots)" "$(json "$b" bytes_in_per_bot_s) / $(json "$b" bytes_out_per_bot_s)" \
  "server CPU user / sys (s)" "$(json "$s" cpu_user_s) / $(json "$s" cpu_sys_s)"
echo "   the bots' HTML report with plots: $bin/demo-bots.html"
echo "   server log:"; sed 's/^/     /' "$out/server.err"
if [[ -n "${bots_failed:-}" ]]; then echo "volley-bots reported a failure (see its report above)"; exit 1; fi

echo
echo "== volley-server --mode echo"
start_server --mode echo

echo "== volley-bots --behavior echo --engine enet --bots 200 --sockets 8 --rate 20 --seconds 5 (64 B, reliable and unreliable)"
"$bin/tools/bots/volley-bots" --server "127.0.0.1:$port" --behavior echo --engine enet --bots 200 --sockets 8 \
  --rate 20 --size 64 --seconds 5 --report-json "$out/echo.json" >"$out/echo.out" || echo_failed=1
stop_server
sed 's/^/   /' "$out/echo.out"
s=$out/server.json
echo "   what the server saw:"
printf '   %-34s %s\n' \
  "connects / disconnects" "$(json "$s" connects) / $(json "$s" disconnects)" \
  "packets in / out" "$(json "$s" packets_in) / $(json "$s" packets_out)" \
  "datagrams in / out" "$(json "$s" datagrams_in) / $(json "$s" datagrams_out)" \
  "bad datagrams, peak peers" "$(json "$s" bad_datagrams), $(json "$s" peers_peak)" \
  "CPU user / sys (s), backend" "$(json "$s" cpu_user_s) / $(json "$s" cpu_sys_s), $(json "$s" backend)"
echo "   server log:"; sed 's/^/     /' "$out/server.err"
if [[ -n "${echo_failed:-}" ]]; then echo "volley-bots (echo) reported a failure (see its report above)"; exit 1; fi

echo
echo "== a stock libenet session captured to pcap, decoded by volley-dump"
"$bin/tools/capture/volley-capture-enet" --out "$out/session.pcap" >/dev/null
"$bin/tools/dump/volley-dump" --pcap "$out/session.pcap" > "$out/session.json"
head -n 3 "$out/session.json" | cut -c 1-200 | sed 's/$/ .../'
echo "   datagrams: $(wc -l < "$out/session.json"), errors: $(grep -c '"error"' "$out/session.json" || true)"
echo "   commands:  $(grep -o '"command":"[A-Z_]*"' "$out/session.json" | sort | uniq -c | awk '{printf "%s x%s  ", substr($2, 12, length($2) - 12), $1}')"
