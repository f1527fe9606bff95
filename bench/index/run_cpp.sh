#!/usr/bin/env bash
# Runs the C++ index benchmarks, interleaved with the same-run peers, each
# trial in a fresh process. Usage:
#   bench/index/run_cpp.sh [BUILD_DIR] [--quick]
# BUILD_DIR defaults to build/native; configure it with
#   -DTESSERA_LIBCUCKOO_DIR=<dir containing libcuckoo/> to include libcuckoo.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${1:-build/native}"
quick="${2:-}"
runs="${RUNS:-3}"
bench="$dir/index/index_bench"
peer="$dir/index/libcuckoo_peer"
echo "# $(lscpu | sed -n 's/^Model name:\s*//p'), $(nproc) cores, $(uname -r), git $(git rev-parse --short HEAD)"
for i in $(seq "$runs"); do
  echo "## run $i"
  "$bench" lookup $quick  # 1 and 2 threads: not pinned
  [ -x "$peer" ] && "$peer" $quick
  taskset -c 1 "$bench" mixed $quick
  taskset -c 1 "$bench" scan $quick
  taskset -c 1 "$bench" delimiter $quick
done
"$bench" snapshot $quick
"$bench" memory $quick
