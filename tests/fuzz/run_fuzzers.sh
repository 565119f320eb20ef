#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 into build-fuzz/ and runs them,
# one after another (never in parallel: each wants a core), over their
# corpora, each until a time limit or a number of executions, whichever
# comes first. Ends with a table of executions and seconds per target.
#
#   tests/fuzz/run_fuzzers.sh [-t SECONDS] [-r RUNS] [TARGET...]
#
#   -t SECONDS  time limit per target (default 60)
#   -r RUNS     execution limit per target (default: none)
#   TARGET      one or more of the targets below (default: all)
#
# All code is instrumented (fuzzer-no-link, ASan, UBSan; LeakSanitizer comes
# with ASan), not only the entry points, so libFuzzer sees coverage of the
# parsers themselves. New inputs that libFuzzer finds go to
# build-fuzz/corpus/<target>/ (the checked-in corpus is only read); a crash
# writes build-fuzz/artifacts/<target>-crash-* (leak-*, timeout-*, oom-*):
# minimise it (-minimize_crash=1), fix the bug, add the input to
# tests/fuzz/corpus/<target>/crash-<what> so the replay test keeps it fixed.
set -euo pipefail

all_targets=(open_envelope receipt client_frame observer_request broker_frame observer_reply certificate certificate_request cli_json broker_config public_record)
seconds=60
runs=-1

usage() {
  echo "usage: $0 [-t seconds] [-r runs] [target...]; targets: ${all_targets[*]}" >&2
  exit 2
}
while getopts "t:r:h" option; do
  case "$option" in
    t) seconds="$OPTARG" ;;
    r) runs="$OPTARG" ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
[[ "$runs" =~ ^-?[0-9]+$ ]] || usage
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $target "* ]] || { echo "unknown target: $target" >&2; usage; }
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build-fuzz"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DFPX_FUZZ=ON -DFPX_SANITIZE=ON \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
ninja -C "$build" "${targets[@]/#/fuzz_}"

status=0
summary=()
for target in "${targets[@]}"; do
  corpus="$root/tests/fuzz/corpus/$target"
  found="$build/corpus/$target"
  mkdir -p "$found" "$build/artifacts"
  echo "== fuzz_$target: up to ${seconds}s / ${runs} runs over $corpus"
  log="$build/fuzz_$target.log"
  dictionary=()
  [[ -f "$root/tests/fuzz/$target.dict" ]] && dictionary=(-dict="$root/tests/fuzz/$target.dict")
  started=$(date +%s)
  # -rss_limit_mb: the envelope limit is 4 MiB; more than 1 GiB is a leak
  # or an amplification bug worth a report. -max_len: every input format
  # here (frames, certificates, CRLs, JSON, TOML) is interesting well below it.
  "$build/bin/fuzz_$target" -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=1024 -max_len=16384 \
    "${dictionary[@]}" -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$found" "$corpus" >"$log" 2>&1 || true
  elapsed=$(($(date +%s) - started))
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done [0-9]+ runs|ERROR|SUMMARY' "$log" || true
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  new_units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
  result=ok
  if grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:|==[0-9]+== ?ABORTING|^[a-z_]+_fuzz: ' "$log"; then
    result="FAILED (see $log and $build/artifacts/)"
    status=1
  fi
  summary+=("$(printf '%-18s %12s %9s %9s %6s  %s' "$target" "${executions:-?}" "$elapsed" "${per_second:-?}" \
    "${new_units:-?}" "$result")")
done

echo
printf '%-18s %12s %9s %9s %6s  %s\n' target executions seconds exec/s new result
printf '%s\n' "${summary[@]}"
exit "$status"
