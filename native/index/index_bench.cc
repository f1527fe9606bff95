// Micro-benchmarks of the native index. Usage:
//   index_bench [lookup|mixed|scan|delimiter|snapshot|memory|all] [--quick]
// Prints one line per figure: name, value, unit. --quick shrinks sizes for a
// smoke run. Pin single-thread figures with `taskset -c 1`.
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "index/index.h"
#include "index/key_hash.h"

namespace tessera {
namespace index {
namespace {

using Clock = std::chrono::steady_clock;
bool g_quick = false;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// CPU time of the calling thread. The machine is shared: wall time counts
// the time other processes held our core, CPU time does not, so every
// figure is also given per CPU-second ("cpu") and ratios use those.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

void Report(const char* name, double value, const char* unit) {
  std::printf("%-44s %14.3f %s\n", name, value, unit);
  std::fflush(stdout);
}

uint64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages_total = 0, pages_rss = 0;
  f >> pages_total >> pages_rss;
  return pages_rss * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// 16-byte keys: the hex of a scrambled counter (random order, no prefix
// structure).
std::string Key16(uint64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ull));
  return std::string(buf, 16);
}

ObjectMeta Meta(uint64_t i) {
  ObjectMeta m;
  m.segment = static_cast<uint32_t>(i & 0xFFFF);
  m.offset = i * 4096 & kSegmentOffsetMax;
  m.length = 4096;
  m.version_id = i + 1;
  m.size = 1000 + i % 5000;
  m.mtime_ms = 1700000000000ull + i;
  std::memcpy(m.etag, &i, 8);
  return m;
}

void Fill(Index* idx, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    Status s = idx->Put("bench", Key16(i), Meta(i), PutMode::kReplaceCurrent);
    if (!s.ok()) std::abort();
  }
}

void BenchLookup() {
  const uint64_t n = g_quick ? (1u << 18) : (1u << 23);
  Index idx;
  Fill(&idx, n);
  std::vector<std::string> keys(1u << 20);
  std::mt19937_64 rng(1);
  for (auto& k : keys) k = Key16(rng() % n);
  std::vector<std::string_view> views(keys.begin(), keys.end());
  const uint64_t lookups = g_quick ? 2000000 : 20000000;
  // mode 0: Get per key; mode 1: GetMany in batches of 64 (prefetching).
  for (int mode = 0; mode < 2; ++mode) {
    for (int threads : {1, 2}) {
      std::atomic<uint64_t> found{0};
      std::atomic<double> cpu_rate{0};  // sum over threads of ops per CPU-s
      const auto t0 = Clock::now();
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
          const double c0 = ThreadCpuSeconds();
          ObjectMeta m[64];
          bool f[64];
          uint64_t hits = 0;
          const uint64_t mine = lookups / threads;
          size_t j = static_cast<size_t>(t) * 7936;
          for (uint64_t i = 0; i < mine; i += 64) {
            if (mode == 0) {
              for (size_t k = 0; k < 64; ++k)
                hits += idx.Get("bench", views[j + k], &m[0]);
            } else {
              idx.GetMany("bench", &views[j], 64, m, f);
              for (size_t k = 0; k < 64; ++k) hits += f[k];
            }
            j = (j + 64) & (keys.size() - 1);
          }
          found.fetch_add(hits);
          const double rate = hits / (ThreadCpuSeconds() - c0);
          double cur = cpu_rate.load();
          while (!cpu_rate.compare_exchange_weak(cur, cur + rate)) {
          }
        });
      }
      for (auto& t : ts) t.join();
      const double s = Seconds(t0, Clock::now());
      if (found.load() != (lookups / threads + 63) / 64 * 64 * threads)
        std::abort();
      char name[64];
      std::snprintf(name, sizeof name,
                    "lookup %s 2^%d keys, %d thread%s (Mops/s)",
                    mode == 0 ? "Get" : "GetMany", g_quick ? 18 : 23, threads,
                    threads == 1 ? "" : "s");
      Report(name, found.load() / s / 1e6, "Mops/s");
      std::snprintf(name, sizeof name, "  per CPU-second (Mops/cpu-s)");
      Report(name, cpu_rate.load() / 1e6, "Mops/cpu-s");
    }
  }
}

// Same-run calibration peer: std::unordered_map with the same 16-byte keys
// and 16-byte values, one thread (the machine is shared and noisy).
void BenchPeer() {
  const uint64_t n = g_quick ? (1u << 18) : (1u << 23);
  std::unordered_map<std::string, std::array<char, 16>> map;
  map.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    map.emplace(Key16(i), std::array<char, 16>{});
  std::vector<std::string> keys(1u << 20);
  std::mt19937_64 rng(1);
  for (auto& k : keys) k = Key16(rng() % n);
  const uint64_t lookups = g_quick ? 2000000 : 20000000;
  uint64_t hits = 0;
  const auto t0 = Clock::now();
  const double c0 = ThreadCpuSeconds();
  for (uint64_t i = 0; i < lookups; ++i) {
    auto it = map.find(keys[i & (keys.size() - 1)]);
    hits += it != map.end() && it->second[0] == 0;
  }
  const double cpu = ThreadCpuSeconds() - c0;
  const double s = Seconds(t0, Clock::now());
  if (hits != lookups) std::abort();
  Report("peer std::unordered_map lookup, 1 thread (Mops/s)", lookups / s / 1e6,
         "Mops/s");
  Report("  per CPU-second (Mops/cpu-s)", lookups / cpu / 1e6, "Mops/cpu-s");
}

void BenchMixed() {
  const uint64_t n = g_quick ? (1u << 18) : (1u << 23);
  Index idx;
  Fill(&idx, n);
  const uint64_t ops = g_quick ? 1000000 : 10000000;
  std::vector<std::string> keys(1u << 20);
  std::mt19937_64 rng(2);
  for (auto& k : keys) k = Key16(rng() % n);
  uint64_t next_new = n;
  ObjectMeta m;
  const auto t0 = Clock::now();
  const double c0 = ThreadCpuSeconds();
  uint64_t found = 0;
  for (uint64_t i = 0; i < ops; ++i) {
    if (i % 10 == 9) {
      if (!idx.Put("bench", Key16(next_new), Meta(next_new),
                   PutMode::kReplaceCurrent)
               .ok()) {
        std::abort();
      }
      ++next_new;
    } else {
      found += idx.Get("bench", keys[i & (keys.size() - 1)], &m);
    }
  }
  const double cpu = ThreadCpuSeconds() - c0;
  const double s = Seconds(t0, Clock::now());
  if (found == 0) std::abort();
  Report("90% lookup / 10% insert, 1 thread (Mops/s)", ops / s / 1e6, "Mops/s");
  Report("  per CPU-second (Mops/cpu-s)", ops / cpu / 1e6, "Mops/cpu-s");
}

void BenchScan() {
  const uint64_t n = g_quick ? 100000 : 1000000;
  Index idx;
  // Two prefixes of n keys each, interleaved in insertion order; we scan one.
  for (uint64_t i = 0; i < n; ++i) {
    char a[40], b[40];
    std::snprintf(a, sizeof a, "logs/2024/%010llu",
                  static_cast<unsigned long long>(i));
    std::snprintf(b, sizeof b, "data/x/%010llu",
                  static_cast<unsigned long long>(i));
    if (!idx.Put("bench", a, Meta(i), PutMode::kReplaceCurrent).ok())
      std::abort();
    if (!idx.Put("bench", b, Meta(i), PutMode::kReplaceCurrent).ok())
      std::abort();
  }
  for (int rep = 0; rep < 3; ++rep) {
    ListRequest req;
    req.bucket = "bench";
    req.prefix = "logs/";
    req.max_keys = 1000;
    std::string token;
    uint64_t total = 0;
    const auto t0 = Clock::now();
    const double c0 = ThreadCpuSeconds();
    for (;;) {
      ListPage page;
      req.continuation = token;
      if (!idx.List(req, &page).ok()) std::abort();
      total += page.entries.size();
      if (!page.truncated) break;
      token = page.next_continuation;
    }
    const double cpu = ThreadCpuSeconds() - c0;
    const double s = Seconds(t0, Clock::now());
    if (total != n) std::abort();
    Report("prefix scan via List, 1000/page (Mkeys/s)", total / s / 1e6,
           "Mkeys/s");
    Report("  per CPU-second (Mkeys/cpu-s)", total / cpu / 1e6, "Mkeys/cpu-s");
  }
}

void BenchDelimiter() {
  const uint64_t folders = g_quick ? 100 : 1000, per = 1000;
  Index idx;
  for (uint64_t f = 0; f < folders; ++f) {
    for (uint64_t i = 0; i < per; ++i) {
      char k[48];
      std::snprintf(k, sizeof k, "f%05llu/obj%06llu",
                    static_cast<unsigned long long>(f),
                    static_cast<unsigned long long>(i));
      if (!idx.Put("bench", k, Meta(f * per + i), PutMode::kReplaceCurrent)
               .ok())
        std::abort();
    }
  }
  ListRequest req;
  req.bucket = "bench";
  req.delimiter = "/";
  req.max_keys = 1000;
  const auto t0 = Clock::now();
  ListPage page;
  if (!idx.List(req, &page).ok()) std::abort();
  const double s = Seconds(t0, Clock::now());
  if (page.common_prefixes.size() != folders) std::abort();
  Report("delimiter listing: folders returned", static_cast<double>(folders),
         "prefixes");
  Report("delimiter listing over folders*1000 keys (ms)", s * 1e3, "ms");
  Report("delimiter listing: time per folder (us)", s * 1e6 / folders, "us");
}

void BenchSnapshot() {
  const uint64_t n = g_quick ? 1000000 : 10000000;
  const std::string path = "/tmp/tessera_index_bench.snap";
  double write_s, load_s, write_cpu;
  {
    Index idx(IndexOptions{0, n});
    Fill(&idx, n);
    const auto t0 = Clock::now();
    const double c0 = ThreadCpuSeconds();
    const Status s = idx.SaveSnapshot(path);
    write_cpu = ThreadCpuSeconds() - c0;
    write_s = Seconds(t0, Clock::now());
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      std::abort();
    }
  }
  std::unique_ptr<Index> loaded;
  const auto t1 = Clock::now();
  const double c1 = ThreadCpuSeconds();
  const Status s = Index::LoadSnapshot(path, &loaded);
  const double load_cpu = ThreadCpuSeconds() - c1;
  load_s = Seconds(t1, Clock::now());
  if (!s.ok() || loaded->key_count() != n) std::abort();
  Report("snapshot write (M entries/s)", n / write_s / 1e6, "M/s");
  Report("  write per CPU-second (M/cpu-s)", n / write_cpu / 1e6, "M/cpu-s");
  Report("snapshot load (M entries/s)", n / load_s / 1e6, "M/s");
  Report("  load per CPU-second (M/cpu-s)", n / load_cpu / 1e6, "M/cpu-s");
  std::remove(path.c_str());
}

void ReportMemory(const std::string& tag, const IndexMemory& m) {
  if (m.keys == 0) std::abort();
  const uint64_t n = m.keys;
  Report(("bytes/object excl. keys, accounted" + tag).c_str(),
         m.bytes_per_object_excluding_keys, "B");
  Report(("  records (incl. 1 B len + pad)" + tag).c_str(),
         static_cast<double>(m.record_bytes - m.key_bytes) / n, "B");
  Report(("  hash table" + tag).c_str(), static_cast<double>(m.hash_bytes) / n,
         "B");
  Report(("  key-order tree" + tag).c_str(),
         static_cast<double>(m.tree_bytes) / n, "B");
}

void BenchMemory() {
  for (uint64_t n : {uint64_t{1000000}, uint64_t{10000000}}) {
    if (g_quick && n > 1000000) break;
    const std::string size = n == 1000000 ? "1M" : "10M";
    const std::string path = "/tmp/tessera_index_bench_mem.snap";
    const uint64_t rss0 = RssBytes();
    {
      Index idx;
      // Object keys like "photos/2024/07/IMG_0001234.jpg" (30 bytes), in a
      // scrambled order, so the tree sees random inserts.
      for (uint64_t i = 0; i < n; ++i) {
        char k[48];
        // A permutation of 0..n-1 (7919 is prime and divides no n used),
        // so there are exactly n distinct keys.
        const uint64_t x = (i * 7919) % n;
        std::snprintf(k, sizeof k, "photos/2024/%02llu/IMG_%07llu.jpg",
                      static_cast<unsigned long long>(x % 12),
                      static_cast<unsigned long long>(x));
        if (!idx.Put("bench", k, Meta(i), PutMode::kReplaceCurrent).ok()) {
          std::abort();
        }
      }
      const IndexMemory m = idx.Memory();
      const uint64_t rss = RssBytes() - rss0;
      if (m.keys != n) std::abort();
      ReportMemory(" (" + size + ", built by puts)", m);
      Report(("bytes/object excl. keys, RSS delta (" + size + ")").c_str(),
             static_cast<double>(rss - m.key_bytes) / n, "B");
      Report(("key bytes/object (" + size + ")").c_str(),
             static_cast<double>(m.key_bytes) / n, "B");
      if (!idx.SaveSnapshot(path).ok()) std::abort();
    }
    std::unique_ptr<Index> loaded;
    if (!Index::LoadSnapshot(path, &loaded).ok()) std::abort();
    ReportMemory(" (" + size + ", loaded from snapshot)", loaded->Memory());
    std::remove(path.c_str());
  }
}

// Where a single Get's time goes (one thread, same process, alternating):
// the full Get over random keys of a 2^23-key table (two dependent cache
// misses: hash group, then record), the same Get over 256 hot keys (every
// line cached: the instruction cost), and the parts alone: hashing a 22-byte
// internal key, and entering + leaving an epoch guard. ns per op of CPU.
void BenchGetPath() {
  const uint64_t n = g_quick ? (1u << 18) : (1u << 23);
  Index idx;
  Fill(&idx, n);
  std::vector<std::string> keys(1u << 20);
  std::mt19937_64 rng(1);
  for (auto& k : keys) k = Key16(rng() % n);
  std::vector<std::string_view> views(keys.begin(), keys.end());
  const uint64_t ops = g_quick ? 1000000 : 4000000;
  ObjectMeta m;
  auto run = [&](const char* name, uint64_t mask) {
    uint64_t hits = 0;
    const double c0 = ThreadCpuSeconds();
    for (uint64_t i = 0; i < ops; ++i)
      hits += idx.Get("bench", views[i & mask], &m);
    const double cpu = ThreadCpuSeconds() - c0;
    if (hits != ops) std::abort();
    Report(name, cpu / ops * 1e9, "ns/op (cpu)");
  };
  // The floor: one dependent DRAM miss, measured as a random pointer chase
  // over 512 MiB (huge-page advised, as the table and the arena are).
  const size_t chase_n =
      (g_quick ? (size_t{64} << 20) : (size_t{512} << 20)) / 8;
  uint64_t* chase =
      static_cast<uint64_t*>(std::aligned_alloc(size_t{2} << 20, chase_n * 8));
  (void)::madvise(chase, chase_n * 8, MADV_HUGEPAGE);
  {
    // Sattolo's algorithm: one cycle through every slot.
    for (size_t i = 0; i < chase_n; ++i) chase[i] = i;
    std::mt19937_64 r(3);
    for (size_t i = chase_n - 1; i > 0; --i) {
      const size_t j = r() % i;
      std::swap(chase[i], chase[j]);
    }
  }
  for (int rep = 0; rep < 3; ++rep) {
    {
      uint64_t at = 0;
      const double c0 = ThreadCpuSeconds();
      for (uint64_t i = 0; i < ops; ++i) at = chase[at];
      const double cpu = ThreadCpuSeconds() - c0;
      if (at == chase_n) std::abort();
      Report("getpath one dependent miss (pointer chase)", cpu / ops * 1e9,
             "ns/op (cpu)");
    }
    run("getpath Get, random keys of the table", keys.size() - 1);
    run("getpath Get, 256 hot keys", 255);
    {
      uint64_t acc = 0;
      const double c0 = ThreadCpuSeconds();
      for (uint64_t i = 0; i < ops; ++i)
        acc += HashIndexKey("bench", views[i & 4095], i);
      const double cpu = ThreadCpuSeconds() - c0;
      if (acc == 1) std::abort();
      Report("getpath HashIndexKey, bucket + 16-byte key", cpu / ops * 1e9,
             "ns/op (cpu)");
    }
    {
      const double c0 = ThreadCpuSeconds();
      for (uint64_t i = 0; i < ops; ++i) {
        ReadGuard g;
        asm volatile("" ::: "memory");
      }
      const double cpu = ThreadCpuSeconds() - c0;
      Report("getpath ReadGuard enter+exit", cpu / ops * 1e9, "ns/op (cpu)");
    }
  }
  std::free(chase);
}

}  // namespace
}  // namespace index
}  // namespace tessera

int main(int argc, char** argv) {
  using namespace tessera::index;
  std::string which = "all";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_quick = true;
    } else {
      which = argv[i];
    }
  }
  if (which == "all" || which == "lookup") BenchLookup();
  if (which == "all" || which == "lookup" || which == "peer") BenchPeer();
  if (which == "getpath") BenchGetPath();
  if (which == "all" || which == "mixed") BenchMixed();
  if (which == "all" || which == "scan") BenchScan();
  if (which == "all" || which == "delimiter") BenchDelimiter();
  if (which == "all" || which == "snapshot") BenchSnapshot();
  if (which == "all" || which == "memory") BenchMemory();
  return 0;
}
