// Same-run peer for the index lookup benchmark: libcuckoo's
// cuckoohash_map (the figure the issue quotes). libcuckoo is not vendored:
// fetch it (github.com/efficient/libcuckoo, header-only) and configure with
//   -DTESSERA_LIBCUCKOO_DIR=/path/containing/libcuckoo
// Usage: libcuckoo_peer [--quick]. Prints lines like index_bench.
#include <time.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "libcuckoo/cuckoohash_map.hh"

namespace {

using Clock = std::chrono::steady_clock;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

std::string Key16(uint64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ull));
  return std::string(buf, 16);
}

template <typename Map, typename KeyFn>
void Run(const char* label, uint64_t n, uint64_t lookups, KeyFn key_of) {
  Map map;
  map.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    map.insert(key_of(i), std::array<char, 16>{});
  using K = decltype(key_of(0));
  std::vector<K> keys(1u << 20);
  std::mt19937_64 rng(1);
  for (auto& k : keys) k = key_of(rng() % n);
  for (int threads : {1, 2}) {
    std::atomic<uint64_t> found{0};
    std::atomic<double> cpu_rate{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        const double c0 = ThreadCpuSeconds();
        std::array<char, 16> v;
        uint64_t hits = 0;
        size_t j = static_cast<size_t>(t) * 7936;
        for (uint64_t i = 0; i < lookups / threads; ++i) {
          hits += map.find(keys[j], v);
          j = (j + 1) & (keys.size() - 1);
        }
        found.fetch_add(hits);
        const double rate = hits / (ThreadCpuSeconds() - c0);
        double cur = cpu_rate.load();
        while (!cpu_rate.compare_exchange_weak(cur, cur + rate)) {
        }
      });
    }
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (found.load() != lookups / threads * threads) std::abort();
    char name[80];
    std::snprintf(name, sizeof name, "peer libcuckoo %s, %d thread%s (Mops/s)",
                  label, threads, threads == 1 ? "" : "s");
    std::printf("%-44s %14.3f %s\n", name, found.load() / s / 1e6, "Mops/s");
    std::printf("%-44s %14.3f %s\n", "  per CPU-second (Mops/cpu-s)",
                cpu_rate.load() / 1e6, "Mops/cpu-s");
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const uint64_t n = quick ? (1u << 18) : (1u << 23);
  const uint64_t lookups = quick ? 2000000 : 20000000;
  Run<libcuckoo::cuckoohash_map<uint64_t, std::array<char, 16>>>(
      "u64 keys", n, lookups,
      [](uint64_t i) { return i * 0x9E3779B97F4A7C15ull; });
  Run<libcuckoo::cuckoohash_map<std::string, std::array<char, 16>>>(
      "16B string keys", n, lookups, [](uint64_t i) { return Key16(i); });
  return 0;
}
