#!/usr/bin/env bash
# Builds the native index tests with ThreadSanitizer and with
# AddressSanitizer + UBSan, each in its own build directory, and runs them.
# Any sanitizer report fails the run (halt_on_error / -fno-sanitize-recover).
#   native/index/run_sanitizers.sh [thread|address]...   (default: both)
# Environment: BUILD_ROOT (default build/), TESSERA_SEED to replay a seed,
# TESSERA_STRESS_OPS (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/../.."
build_root="${BUILD_ROOT:-build}"
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(thread address)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1 ${UBSAN_OPTIONS:-}"
for kind in "${kinds[@]}"; do
  dir="$build_root/native-$kind"
  echo "== index tests under -fsanitize=$kind ($dir)"
  cmake -S native -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTESSERA_SANITIZE="$kind" >/dev/null
  cmake --build "$dir" --target index_test index_concurrency_test
  # The stress test (>= 1,000,000 mixed ops on 4 threads) and the
  # linearizability check run in both builds; the unit and property tests
  # too (they are fast), except the exhaustive truncation/bit-flip sweeps
  # under TSan, which add minutes and no concurrency.
  "$dir/index/index_concurrency_test"
  if [ "$kind" = thread ]; then
    "$dir/index/index_test" --gtest_filter='-Snapshot.Every*'
  else
    "$dir/index/index_test"
  fi
done
echo "== sanitizers: no reports"
