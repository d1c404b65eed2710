#!/usr/bin/env bash
# Builds the `fuzz` preset (clang-16, libFuzzer, ASan + UBSan) and runs each fuzz target for a
# bounded time, one at a time on one core (docs/fuzzing.md).
#   scripts/fuzz.sh [seconds per target, default 30] [target ...]
# Targets: datagram range_coder snapshot host sender (default: all). FUZZ_PRESET=fuzz-ubsan uses the
# cheaper build without ASan (UBSan only; no leak or malloc-limit checks) for volume. Each run starts from the committed
# seeds (tests/fuzz/corpus/<target>) plus what earlier runs kept in build/fuzz/corpus/<target>;
# a crash, leak, timeout or broken invariant fails the script and leaves the input in
# build/fuzz/artifacts/ (add it to tests/fuzz/corpus/<target>/ once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(datagram range_coder snapshot host sender)

scripts/install-deps.sh --fuzz
jobs=$(nproc 2>/dev/null || echo 2)
preset=${FUZZ_PRESET:-fuzz}
out=build/$preset
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"

mkdir -p $out/artifacts
status=0
for target in "${targets[@]}"; do
  corpus=$out/corpus/$target
  mkdir -p "$corpus"
  echo "fuzz: $target for ${seconds} s"
  # host: its scripts grow to ~3,700 bytes without a cap and run ~40 a second, so a 30 s run
  # spent three quarters of its time loading the seeds (which the `fuzz` test label replays whole
  # anyway): 330 new inputs. Capped at 1,024 bytes (seeds load cut to it): ~2,700 new inputs in
  # 30 s, keeping 99 % of the seeds' coverage (docs/fuzzing.md).
  limits=()
  [[ $target == host ]] && limits=(-max_len=1024)
  # -rss_limit_mb / -malloc_limit_mb: growth past these is a finding (bounded memory).
  if ! $out/tests/fuzz/volley_fuzz_"$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 "${limits[@]}" \
      -artifact_prefix=$out/artifacts/"$target"- "$corpus" tests/fuzz/corpus/"$target" \
      > $out/"$target".log 2>&1; then
    status=1
    echo "fuzz: $target FAILED ($out/$target.log, input in $out/artifacts/):" >&2
    grep -E "ERROR|invariant|SUMMARY" $out/"$target".log | head -20 >&2 || true
  fi
  grep -E "^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb" \
    $out/"$target".log | sed "s/^/  $target /" || true
done
exit $status
