#!/usr/bin/env bash
# A sans-IO library (the protocol layer, the server's Host) takes bytes and a clock and returns
# bytes and events: no socket calls, no clock reads, no threads, no sleeping. Checked on the
# built archive's undefined symbols, so it holds whatever the headers happen to include.
# Usage: check_sans_io.sh <archive> <name for messages>
set -euo pipefail
archive=$1
name=${2:-$(basename "$archive")}
# libc sockets and polling, io_uring, clocks and sleeps, threads, std::chrono clocks and
# std::thread, and the engine's clock (engine::now) and loop (volley::engine::Loop members).
forbidden='^(socket|bind|connect|sendto|sendmsg|sendmmsg|recvfrom|recvmsg|recvmmsg|poll|select|epoll_.*|io_uring_.*|clock_gettime|gettimeofday|time|nanosleep|usleep|sleep|pthread_create|_ZNSt6chrono3_V212steady_clock3nowEv|_ZNSt6chrono3_V212system_clock3nowEv|_ZNSt6thread.*|_ZN6volley6engine3nowEv|_ZN6volley6engine4Loop.*)$'
if ! nm --format=posix "$archive" >/dev/null 2>&1; then
  echo "$name: cannot read $archive" >&2
  exit 1
fi
bad=$(nm -u --format=posix "$archive" | awk '{print $1}' | sed 's/@.*//' | grep -E "$forbidden" | sort -u || true)
if [[ -n "$bad" ]]; then
  echo "$name uses I/O, clock or thread symbols: $bad" >&2
  exit 1
fi
echo "$name: no socket, clock or thread symbols"
