#!/usr/bin/env bash
# Builds the native C++ core without Node (CMake + GoogleTest) and runs its
# unit tests. Sanitizer builds: TESSERA_SANITIZE=address|thread.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sanitize="${TESSERA_SANITIZE:-}"
# Not build/native: node-gyp writes its per-component makefiles there, and
# `node-gyp rebuild` wipes build/ as a whole.
dir="$root/build/cmake${sanitize:+-$sanitize}"
cmake -S "$root/native" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTESSERA_SANITIZE="$sanitize" > /dev/null
cmake --build "$dir" -j "$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}
