#!/usr/bin/env bash
# Cross-compiles checksum_test for aarch64 and runs it under qemu-user, so
# the arm64 kernels (crc_arm64.cc, crc_fold_pmull.cc) are tested on an x86
# machine. Needs (Debian): g++-aarch64-linux-gnu libc6-dev-arm64-cross
# qemu-user libgtest-dev (for the googletest sources in /usr/src).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(dirname "$here")"
gt=/usr/src/googletest/googletest
out="${1:-$native/../build/arm64-checksum}"
cxx="aarch64-linux-gnu-g++ -O2 -Wall -Wextra -std=c++17 -I$native -I$gt/include"
mkdir -p "$out"
cd "$out"
[ -f gtest-all.o ] || $cxx -I"$gt" -c "$gt/src/gtest-all.cc" -o gtest-all.o
[ -f gtest_main.o ] || $cxx -c "$gt/src/gtest_main.cc" -o gtest_main.o
for f in checksum/crc.cc checksum/crc_reference.cc checksum/crc_test.cc \
  core/status.cc core/cpu_features.cc; do
  $cxx -c "$native/$f" -o "$(basename "$f" .cc).o"
done
$cxx -march=armv8-a+crc -c "$here/crc_arm64.cc" -o crc_arm64.o
$cxx -march=armv8-a+crc+crypto -c "$here/crc_fold_pmull.cc" -o crc_fold_pmull.o
aarch64-linux-gnu-g++ -static -o checksum_test crc.o crc_reference.o \
  crc_test.o status.o cpu_features.o crc_arm64.o crc_fold_pmull.o \
  gtest-all.o gtest_main.o -lpthread 2> /dev/null
qemu-aarch64 ./checksum_test
