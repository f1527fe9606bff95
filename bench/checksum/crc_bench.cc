// Throughput of every CRC kernel this CPU can run, on buffers resident in
// cache. Each (kernel, size) cell is timed over several runs and the median
// GB/s is printed; run pinned to one core: `taskset -c 1 checksum_bench`.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "checksum/crc.h"
#include "checksum/crc_internal.h"

namespace {

using Clock = std::chrono::steady_clock;
volatile uint64_t g_sink;

template <typename Fn>
double MedianGbps(Fn fn, const uint8_t* data, size_t size) {
  constexpr int kRuns = 7;
  const size_t bytes_per_run = std::max<size_t>(size, 64u << 20);
  const size_t iters = bytes_per_run / size;
  std::vector<double> gbps;
  uint64_t acc = 0;
  for (int run = 0; run < kRuns; run++) {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < iters; i++) acc += fn(acc & 0xff, data, size);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    gbps.push_back(static_cast<double>(iters * size) / s / 1e9);
  }
  g_sink = acc;
  std::sort(gbps.begin(), gbps.end());
  return gbps[kRuns / 2];
}

template <typename Kernels>
void Report(const char* algo, const Kernels& kernels,
            const std::vector<size_t>& sizes, const uint8_t* data) {
  for (const auto& k : kernels) {
    std::printf("%-10s %-15s", algo, k.name);
    for (size_t s : sizes) {
      std::printf(" %8.2f", MedianGbps(k.fn, data, s));
    }
    std::printf("\n");
  }
}

}  // namespace

int main() {
  using namespace tessera::checksum;
  const std::vector<size_t> sizes = {64, 512, 4096, 65536, 1u << 20};
  std::vector<uint8_t> buf((1u << 20) + 64);
  std::mt19937_64 rng(42);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  const uint8_t* data = buf.data() + 1;  // deliberately unaligned
  std::printf("median GB/s (7 runs); sizes in bytes; data unaligned by 1\n");
  std::printf("%-10s %-15s", "algorithm", "kernel");
  for (size_t s : sizes) std::printf(" %8zu", s);
  std::printf("\n");
  Report("crc32c", AvailableCrc32cKernels(), sizes, data);
  Report("crc32", AvailableCrc32Kernels(), sizes, data);
  Report("crc64nvme", AvailableCrc64NvmeKernels(), sizes, data);
  std::printf("selected: crc32c=%s crc32=%s crc64nvme=%s\n",
              tessera::crc32c::KernelName(), tessera::crc32::KernelName(),
              tessera::crc64nvme::KernelName());
  return 0;
}
