#!/usr/bin/env bash
# The sans-IO layers (volley::protocol, volley::snapshot) must stay sans-IO: no socket calls, no
# clock reads, no threads. Checked on the built archive's undefined symbols, so it holds whatever
# the headers happen to include.
set -euo pipefail
archive=$1
forbidden='^(socket|bind|connect|sendto|sendmsg|sendmmsg|recvfrom|recvmsg|recvmmsg|poll|epoll_.*|io_uring_.*|clock_gettime|gettimeofday|time|pthread_create|_ZNSt6chrono3_V212steady_clock3nowEv|_ZNSt6chrono3_V212system_clock3nowEv)$'
bad=$(nm -u --format=posix "$archive" | awk '{print $1}' | sed 's/@.*//' | grep -E "$forbidden" | sort -u || true)
if [[ -n "$bad" ]]; then
  echo "$(basename "$archive") uses I/O or clock symbols: $bad" >&2
  exit 1
fi
echo "$(basename "$archive"): no socket, clock or thread symbols"
