#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 into build-fuzz/ and runs each
# one over its corpus for a number of seconds (default 60).
#
#   tests/fuzz/run_fuzzers.sh [seconds]
#
# All code is instrumented (fuzzer-no-link, ASan, UBSan), not only the entry
# point, so libFuzzer sees coverage of the parsers themselves. New inputs
# that libFuzzer finds go to build-fuzz/corpus/<target>/ (the checked-in
# corpus is only read); a crash writes build-fuzz/artifacts/<target>-crash-*:
# minimise it (-minimize_crash=1), fix the bug, add the input to
# tests/fuzz/corpus/<target>/ so the replay test keeps it fixed.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [seconds per target]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build-fuzz"
targets=(open_envelope)

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DFPX_FUZZ=ON -DFPX_SANITIZE=ON \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link
ninja -C "$build" "${targets[@]/#/fuzz_}"

status=0
for target in "${targets[@]}"; do
  corpus="$root/tests/fuzz/corpus/$target"
  found="$build/corpus/$target"
  mkdir -p "$found" "$build/artifacts"
  echo "== fuzz_$target for ${seconds}s over $corpus"
  log="$build/fuzz_$target.log"
  # -rss_limit_mb: the envelope limit is 4 MiB; more than 1 GiB is a leak
  # or an amplification bug worth a report.
  if ! "$build/bin/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$found" "$corpus" 2>&1 | tee "$log" | grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY'; then
    :
  fi
  if grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:' "$log"; then
    echo "fuzz_$target FAILED: see $log" >&2
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::new_units_added|^stat::peak_rss_mb' "$log" \
    | sed "s/^stat::/fuzz_$target /" || true
done
exit "$status"
