#!/usr/bin/env bash
# Builds the libFuzzer targets (native/fuzz) with clang-14, ASan and UBSan,
# and runs each for TESSERA_FUZZ_SECONDS (default 60) on a copy of its
# checked-in corpus (native/fuzz/corpus/<target>). Any finding fails the
# script (libFuzzer exits non-zero and leaves crash-* in build/fuzz/out).
# Needs: apt install clang-14 libfuzzer-14-dev
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/build/fuzz"
seconds="${TESSERA_FUZZ_SECONDS:-60}"
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
CC=clang-14 CXX=clang++-14 cmake -S "$root/native" -B "$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSERA_FUZZ=ON \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
targets=(codec snapshot segment)
cmake --build "$dir" --target "${targets[@]/#/fuzz_}"
mkdir -p "$dir/out"
for t in "${targets[@]}"; do
  work="$dir/corpus-$t"
  rm -rf "$work" && mkdir -p "$work"
  cp "$root/native/fuzz/corpus/$t/"* "$work/"
  echo "fuzz_$t: ${seconds}s"
  (cd "$dir/out" && "$dir/fuzz/fuzz_$t" -max_total_time="$seconds" \
    -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$work" 2>&1 | grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|.*ERROR)" || true)
  # libFuzzer's exit status is hidden by the pipe: a finding leaves a file.
  if ls "$dir/out"/crash-* "$dir/out"/leak-* "$dir/out"/timeout-* \
    "$dir/out"/oom-* > /dev/null 2>&1; then
    echo "fuzz_$t: finding in $dir/out" >&2
    exit 1
  fi
done
echo "fuzz: no findings"
