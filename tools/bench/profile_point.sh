#!/usr/bin/env bash
# tools/bench/profile_point.sh: where one server's CPU goes at 4,000 reliable bots (issue 13's
# 4,000-peer ratio): the server pinned to CPU 1, volley-bots (--engine volley, 2 messages/s
# each, 8,000/s in all) on CPU 0, perf (2 kHz cpu-clock, call graphs) for 10 s in the middle
# of a 25 s run. Prints the samples by object (kernel, the server, libenet, libc).
# Usage: tools/bench/profile_point.sh BUILD_DIR epoll|io_uring|enet OUT_PREFIX [PORT]
# Needs perf and root (or perf_event_paranoid <= 0). Ends only the processes it started.
set -u
[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR epoll|io_uring|enet OUT_PREFIX [PORT]" >&2; exit 2; }
BUILD=$1 KIND=$2 OUT=$3 PORT=${4:-47110}
command -v perf >/dev/null || { echo "error: perf is not installed" >&2; exit 2; }
case $KIND in
  enet) server=("$BUILD/tools/bench/volley-enet-echo-server" --max-peers 4095 --port "$PORT") ;;
  epoll | io_uring) server=("$BUILD/server/volley-server" --mode echo --backend "$KIND" --max-peers 4100 --per-ip-cap 0 --port "$PORT") ;;
  *) echo "error: unknown server kind '$KIND' (epoll, io_uring or enet)" >&2; exit 2 ;;
esac
mkdir -p "$(dirname "$OUT")"
taskset -c 1 "${server[@]}" >"$OUT.server.log" 2>&1 &
SPID=$!
sleep 1
kill -0 "$SPID" 2>/dev/null || { echo "error: the server did not start (see $OUT.server.log)" >&2; exit 1; }
taskset -c 0 "$BUILD/tools/bots/volley-bots" --server "127.0.0.1:$PORT" --bots 4000 --rate 2 \
  --delivery reliable --seconds 25 --engine volley --report-json "$OUT.bots.json" >"$OUT.bots.log" 2>&1 &
BPID=$!
sleep 10
perf record -e cpu-clock -F 2000 -g -p "$SPID" -o "$OUT.data" -- sleep 10 >"$OUT.perf.log" 2>&1
wait "$BPID"
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("bots connected:", j.get("connected"), "of", j.get("bots"))' "$OUT.bots.json" 2>/dev/null
perf report -i "$OUT.data" --no-children --sort dso --stdio -g none -F overhead,sample,dso 2>/dev/null | grep -E '^ +[0-9]'
