#!/usr/bin/env bash
# tools/bench/measure.sh: the issue-5 scale check and the stock-ENet comparison in one bounded run.
# The load is volley-bots (tools/bots): --engine volley (protocol Peers on the engine) in a,
# --engine enet (stock libenet clients through the client library) in b-d.
#   a. 16,384 protocol-level bots on one volley-server socket, a reliable echo a second each:
#      connect time, server peak RSS, server CPU.
#   b. 4,000 stock-libenet bots (8 sockets x 500) idle for 60 s, against volley-server and then
#      volley-enet-echo-server: drops, server CPU over the idle window, RSS.
#   c. server CPU-us per echoed packet at 512 peers and equal offered load (rate x size), rounds
#      interleaved volley/stock, medians and the ratio.
#   d. user-space instructions per echoed packet under callgrind (difference of two runs that
#      differ only in the echo rate, so start-up and handshakes cancel out).
# Builds nothing. Loopback only. Every process it starts is bounded by its own --seconds and is
# ended by PID on exit. Usage: tools/bench/measure.sh BUILD_DIR [--quick] [--rounds N]
#   [--skip a,b,c,d] [--out DIR]
# Environment: VOLLEY_SERVER_ARGS adds flags to every volley-server run in a-c (for example
# "--backend epoll"); step d always runs volley-server with --backend epoll.
set -u

usage() { echo "usage: $0 BUILD_DIR [--quick] [--rounds N] [--skip a,b,c,d] [--out DIR]" >&2; exit 2; }
[ $# -ge 1 ] || usage
BUILD=$1; shift
QUICK=0; ROUNDS=3; SKIP=""; OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --rounds) [ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
    --skip) [ $# -ge 2 ] || usage; SKIP=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; OUT=$2; shift 2 ;;
    *) echo "$0: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -d "$BUILD" ] || { echo "$0: no build directory $BUILD" >&2; exit 2; }
OUT=${OUT:-$(mktemp -d /tmp/volley-scale.XXXXXX)}
mkdir -p "$OUT"

find_bin() { find "$BUILD" -name "$1" -type f -perm -u+x 2>/dev/null | head -n 1; }
VOLLEY_SERVER=$(find_bin volley-server)
ENET_SERVER=$(find_bin volley-enet-echo-server)
BOTS=$(find_bin volley-bots)
for b in ENET_SERVER BOTS; do
  [ -n "${!b}" ] || { echo "$0: $b not built under $BUILD" >&2; exit 2; }
done
[ -n "$VOLLEY_SERVER" ] || echo "note: no volley-server under $BUILD: stock-server rows only"

# Quick mode: the same steps, smaller and shorter (a tool check, not a measurement).
if [ $QUICK = 1 ]; then
  A_PEERS=2000; A_SECONDS=4; B_HOSTS=2; B_PER=250; B_WARM=3; B_IDLE=5; C_WARM=2; C_SECONDS=4; ROUNDS=1; D_SECONDS=3
else
  A_PEERS=16384; A_SECONDS=12; B_HOSTS=8; B_PER=500; B_WARM=5; B_IDLE=60; C_WARM=3; C_SECONDS=15; D_SECONDS=6
fi

# The machine may be shared: server on the last CPU, load generators on the others.
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
  SERVER_CPUS=$((NCPU - 1)); LOAD_CPUS="0-$((NCPU - 2))"
  SERVER_PIN="taskset -c $SERVER_CPUS"; LOAD_PIN="taskset -c $LOAD_CPUS"
else
  SERVER_PIN=""; LOAD_PIN=""
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skipped() { case ",$SKIP," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
jget() {  # FILE KEY: a report field, floats to 4 significant digits; n/a if missing
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2], "n/a"); print(("%.4g" % v) if isinstance(v, float) else v)' "$1" "$2" 2>/dev/null || echo n/a
}
calc() { python3 -c "import sys; print(eval(sys.argv[1]))" "$1" 2>/dev/null || echo n/a; }
median() { python3 -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:] if x!="n/a"]; print(round(s.median(v),2) if v else "n/a")' "$@"; }

# start_server NAME KIND SECONDS ARGS...: starts a server pinned to its CPU, waits for its
# "listening" line (10 s at most), sets SERVER_PID and SERVER_PORT. KIND: volley | enet.
start_server() {
  local name=$1 kind=$2 seconds=$3; shift 3
  local bin=$ENET_SERVER mode=()
  # Every bot connects from 127.0.0.1: the per-IP cap (README "Limits") is lifted.
  [ "$kind" = volley ] && { bin=$VOLLEY_SERVER; mode=(--mode echo --per-ip-cap 0 ${VOLLEY_SERVER_ARGS:-}); }
  $SERVER_PIN "$bin" "${mode[@]}" --bind 127.0.0.1 --port 0 --seconds "$seconds" --stats-json "$OUT/$name.stats.json" \
    "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  SERVER_PORT=""
  for _ in $(seq 100); do
    SERVER_PORT=$(sed -n 's/^listening .*:\([0-9][0-9]*\)$/\1/p' "$OUT/$name.out" | head -n 1)
    [ -n "$SERVER_PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name: server did not start (see $OUT/$name.err)" >&2
  return 1
}

# stop_server: SIGINT, then up to 15 s for the stats JSON; SIGKILL and a note if it hangs.
stop_server() {
  kill -INT "$SERVER_PID" 2>/dev/null
  for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "ANOMALY: server $SERVER_PID ignored SIGINT for 15 s; killed" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  wait "$SERVER_PID" 2>/dev/null
  SERVER_RC=$?
  [ "$SERVER_RC" = 0 ] || echo "ANOMALY: server exit code $SERVER_RC" >&2
}

# Machine-wide UDP receive-buffer overflows (/proc/net/snmp RcvbufErrors): loss on loopback means
# some socket fell behind. Other users' traffic counts too, so it is a hint, not proof.
udp_drops() { awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $6; exit }' /proc/net/snmp; }

# A process's CPU (user + system, all threads) in seconds from /proc/PID/stat (fields 14, 15;
# the command name may hold spaces, so fields are counted after the last ')'), and a
# "Vm...:" line of /proc/PID/status in KiB. The windows below are timed by this script.
CLK_TCK=$(getconf CLK_TCK)
proc_cpu() { awk -v hz="$CLK_TCK" '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo n/a; }
proc_kib() { awk -v k="$2" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

ROWS=()
row() { ROWS+=("$*"); echo "  $*"; }

echo "output: $OUT (server on CPU ${SERVER_CPUS:-any}, load on CPUs ${LOAD_CPUS:-any})"

# --- a. 16,384 protocol-level bots on one volley-server socket ------------------------------
if ! skipped a && [ -n "$VOLLEY_SERVER" ]; then
  echo "a. $A_PEERS volley-bots --engine volley bots, a reliable 64 B echo per second each"
  if start_server a-volley volley 150 --max-peers "$A_PEERS"; then
    drops0=$(udp_drops); cpu0=$(proc_cpu "$SERVER_PID")
    $LOAD_PIN "$BOTS" --server "127.0.0.1:$SERVER_PORT" --engine volley --bots "$A_PEERS" --ramp 4000 \
      --rate 1 --delivery reliable --seconds "$A_SECONDS" --report-json "$OUT/a.bots.json" >"$OUT/a.bots.out" 2>&1
    rc=$?
    cpu1=$(proc_cpu "$SERVER_PID"); hwm=$(proc_kib "$SERVER_PID" VmHWM:)
    drops=$(( $(udp_drops) - drops0 ))
    stop_server
    f=$OUT/a.bots.json; s=$OUT/a-volley.stats.json
    row "| a | volley-server | $A_PEERS bots, 1 reliable echo/s each, ${A_SECONDS} s (bots rc=$rc) | connected $(jget $f connected), failed $(jget $f failed), dropped $(jget $f dropped), lost $(jget $f reliable_lost), peers_peak $(jget $s peers_peak), UDP RcvbufErrors +$drops | connect $(jget $f connect_time_s) s, RTT p50/p99 $(jget $f rtt_p50_us)/$(jget $f rtt_p99_us) us | server CPU $(calc "round($cpu1 - $cpu0, 2)") s over the run; volley-bots CPU $(jget $f cpu_user_s) + $(jget $f cpu_sys_s) s | VmHWM $hwm KiB |"
  fi
fi

# --- b. 4,000 stock-libenet peers idle for 60 s ---------------------------------------------
b_run() {  # KIND
  local kind=$1
  [ "$kind" = volley ] && [ -z "$VOLLEY_SERVER" ] && return
  if start_server "b-$kind" "$kind" $((B_IDLE + 60)) --max-peers 4095; then
    local drops0; drops0=$(udp_drops)
    # Connect (ramp 2,000/s), then B_IDLE seconds idle; this script times the CPU window.
    $LOAD_PIN "$BOTS" --server "127.0.0.1:$SERVER_PORT" --engine enet --bots $((B_HOSTS * B_PER)) \
      --sockets "$B_HOSTS" --ramp 2000 --rate 0 --seconds $((B_WARM + B_IDLE + 1)) \
      --report-json "$OUT/b-$kind.bots.json" >"$OUT/b-$kind.bots.out" 2>&1 &
    local bots_pid=$!; PIDS+=("$bots_pid")
    sleep "$B_WARM"
    local cpu0 cpu1 rss hwm; cpu0=$(proc_cpu "$SERVER_PID")
    sleep "$B_IDLE"
    cpu1=$(proc_cpu "$SERVER_PID"); rss=$(proc_kib "$SERVER_PID" VmRSS:); hwm=$(proc_kib "$SERVER_PID" VmHWM:)
    wait "$bots_pid"
    local rc=$? drops=$(( $(udp_drops) - drops0 ))
    stop_server
    local f=$OUT/b-$kind.bots.json s=$OUT/b-$kind.stats.json
    local cpu; cpu=$(calc "round($cpu1 - $cpu0, 3)")
    row "| b | $kind | $((B_HOSTS * B_PER)) libenet bots idle ${B_IDLE} s (bots rc=$rc) | connected $(jget $f connected), dropped $(jget $f dropped), server timeouts $(jget $s timeouts), UDP RcvbufErrors +$drops | connect $(jget $f connect_time_s) s | server CPU $cpu s = $(calc "round(100 * $cpu / $B_IDLE, 2)") % of a core | RSS $rss KiB, VmHWM $hwm KiB |"
  fi
}
if ! skipped b; then
  echo "b. $((B_HOSTS * B_PER)) stock-libenet bots idle for $B_IDLE s"
  b_run volley
  b_run enet
fi

# --- c. CPU-us per echoed packet, 512 bots x 20 Hz x 64 B reliable --------------------------
c_run() {  # KIND ROUND -> RESULT (server CPU-us per echo). Runs in this shell so cleanup sees PIDs.
  local kind=$1 round=$2
  RESULT=n/a
  [ "$kind" = volley ] && [ -z "$VOLLEY_SERVER" ] && return
  start_server "c-$kind-$round" "$kind" $((C_SECONDS + 40)) --max-peers 1024 || return
  $LOAD_PIN "$BOTS" --server "127.0.0.1:$SERVER_PORT" --engine enet --bots 512 --sockets 4 \
    --rate 20 --size 64 --delivery reliable --seconds $((C_WARM + C_SECONDS + 1)) \
    --report-json "$OUT/c-$kind-$round.bots.json" >"$OUT/c-$kind-$round.bots.out" 2>&1 &
  local bots_pid=$!; PIDS+=("$bots_pid")
  sleep "$C_WARM"
  local cpu0 cpu1; cpu0=$(proc_cpu "$SERVER_PID")
  sleep "$C_SECONDS"
  cpu1=$(proc_cpu "$SERVER_PID")
  wait "$bots_pid"
  local rc=$?
  stop_server
  [ $rc = 0 ] || echo "ANOMALY: c $kind round $round bots rc=$rc (see $OUT/c-$kind-$round.bots.json)" >&2
  # Equal offered load: 512 bots x 20 Hz, every echo checked back by the bots (rc 0).
  RESULT=$(calc "round(($cpu1 - $cpu0) * 1e6 / (512 * 20 * $C_SECONDS), 2)")
}
if ! skipped c; then
  echo "c. CPU-us per echoed packet: 512 bots x 20 Hz x 64 B reliable, ${C_SECONDS} s window, $ROUNDS interleaved rounds"
  CV=(); CE=()
  for r in $(seq "$ROUNDS"); do
    c_run volley "$r"; v=$RESULT
    c_run enet "$r"; e=$RESULT
    echo "  round $r: volley $v us, stock $e us"
    CV+=("$v"); CE+=("$e")
  done
  mv=$(median "${CV[@]}"); me=$(median "${CE[@]}")
  ratio=$(calc "round($me / $mv, 2)")
  row "| c | both | 512 libenet bots x 20 Hz x 64 B reliable | volley ${CV[*]} | stock ${CE[*]} | median CPU-us/echo: volley $mv, stock $me | stock/volley = $ratio x |"
fi

# --- d. instructions per echoed packet (callgrind) -------------------------------------------
d_run() {  # KIND RATE -> IR, ECHOES. Runs in this shell so cleanup sees the PID.
  local kind=$1 rate=$2 name="d-$1-$2"
  local bin=$ENET_SERVER extra=()
  IR=n/a; ECHOES=n/a
  # Under valgrind use epoll: the io_uring backend's kernel-side work is invisible to callgrind.
  [ "$kind" = volley ] && { bin=$VOLLEY_SERVER; extra=(--mode echo --backend epoll --per-ip-cap 0); }
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.callgrind" "$bin" --bind 127.0.0.1 \
    --port 0 --seconds $((D_SECONDS + 60)) --max-peers 128 "${extra[@]}" \
    --stats-json "$OUT/$name.stats.json" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); SERVER_PORT=""
  for _ in $(seq 300); do
    SERVER_PORT=$(sed -n 's/^listening .*:\([0-9][0-9]*\)$/\1/p' "$OUT/$name.out" | head -n 1)
    [ -n "$SERVER_PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$SERVER_PORT" ] || { echo "$name: server did not start under valgrind" >&2; return; }
  "$BOTS" --server "127.0.0.1:$SERVER_PORT" --engine enet --bots 64 --rate "$rate" --size 64 \
    --delivery reliable --seconds $((D_SECONDS + 1)) --report-json "$OUT/$name.bots.json" >"$OUT/$name.bots.out" 2>&1
  stop_server
  IR=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$OUT/$name.callgrind" 2>/dev/null | head -n 1)
  IR=${IR:-n/a}
  ECHOES=$(jget "$OUT/$name.stats.json" packets_out)
}
if ! skipped d && command -v valgrind >/dev/null; then
  echo "d. instructions per echoed packet under callgrind: 64 peers, idle vs 10 Hz, ${D_SECONDS} s"
  for kind in volley enet; do
    [ "$kind" = volley ] && [ -z "$VOLLEY_SERVER" ] && continue
    d_run "$kind" 0; ir0=$IR; p0=$ECHOES
    d_run "$kind" 10; ir1=$IR; p1=$ECHOES
    per=$(calc "round(($ir1 - $ir0) / ($p1 - $p0))")
    eval "D_$kind=\$per"
    row "| d | $kind | 64 libenet bots, 10 Hz vs idle, ${D_SECONDS} s | Ir $ir0 / $ir1 | echoes $p0 / $p1 | user-space instructions per echo: $per | |"
  done
  [ -n "${D_volley:-}" ] && [ -n "${D_enet:-}" ] && row "| d | both | | | | stock/volley = $(calc "round(${D_enet} / ${D_volley}, 2)") x | |"
fi

echo
echo "| step | server | load | result | time | CPU | memory |"
echo "|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
echo "raw reports: $OUT"
