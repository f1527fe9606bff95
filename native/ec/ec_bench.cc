// Raw native throughput of every usable kernel and the ISA-L backend:
// data bytes per second for encode and for reconstruct with m shards lost.
// Peers are measured interleaved (A B A B ...) and the median of the trials
// is printed. Pin it: `taskset -c 1 build/native/ec/ec_bench`.
//
// Usage: ec_bench [--trials N] [--ms T] [--quick] [--only LABEL-SUBSTRING]
//        ec_bench --paired [--rounds N (101)] [--ms T (5)]
//        ec_bench --pipes [--rounds N (101)] [--ms T (5)]
//        either with --cpu-time: time by this thread's CPU time, not wall time
//
// --pipes measures vpshufb/vpxor/vpsrlq throughput, prints the AVX2 PSHUFB
// method's bound for 8+4 and compares it and the avx2 kernel with ISA-L's
// backend (8+4 1 MiB hot, thread CPU time, medians of interleaved rounds).
//
// --paired measures the kernel-versus-ISA-L ratios (8+4, 1 MiB
// stripes, hot) as paired ratios: each round runs A then B (order
// alternating) for T ms each, and the median and quartiles of the per-round
// ratios are printed. Both sides of a ratio see the same moment's load.
#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ec/ec_kernels.h"
#include "ec/isal_library.h"
#include "ec/reed_solomon.h"

namespace tessera {
namespace ec {

// ec_bench_skeleton.cc (AVX-512 unit, x86-64 only).
bool MemorySkeletonUsable();
// ec_bench_pipes.cc: prints vector-pipe throughputs and returns the AVX2
// PSHUFB method's issue bound for k+m in GB/s.
bool PipesUsable();
double PrintPipesAndBound(int k, int m);
void EncodeMemorySkeleton(size_t len, int k, int m, uint8_t* const* src,
                          uint8_t* const* dst);

namespace {

// Seconds on the clock the run measures with: wall time by default; with
// --cpu-time this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which leaves
// out the time the thread was preempted, so ratios stay readable when other
// work shares the cores (cache contention from other processes remains).
bool use_cpu_time = false;

double Now() {
  if (use_cpu_time) {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + t.tv_nsec * 1e-9;
  }
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Workload {
  int k, m;
  size_t stripe_bytes;  // data bytes per stripe
  size_t working_set;   // total bytes cycled through (hot: one stripe)
  const char* label;
};

struct Memory {
  std::vector<uint8_t*> shards;  // stripes * (k+m)
  std::unique_ptr<uint8_t[], void (*)(void*)> block{nullptr, std::free};
  int stripes = 0;
};

Memory Allocate(const Workload& w) {
  Memory mem;
  const size_t shard = w.stripe_bytes / w.k;
  const size_t stripe_total = shard * (w.k + w.m);
  mem.stripes =
      static_cast<int>(std::max<size_t>(1, w.working_set / stripe_total));
  const size_t total = stripe_total * mem.stripes;
  mem.block.reset(
      static_cast<uint8_t*>(std::aligned_alloc(64, (total + 63) / 64 * 64)));
  for (size_t i = 0; i < total; ++i)
    mem.block[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  for (int s = 0; s < mem.stripes; ++s) {
    for (int i = 0; i < w.k + w.m; ++i) {
      mem.shards.push_back(mem.block.get() + s * stripe_total + i * shard);
    }
  }
  return mem;
}

// GB/s of data bytes for `seconds` of repeated work.
double Measure(const ReedSolomonCodec& codec, const Workload& w, Memory& mem,
               bool reconstruct, double seconds) {
  const size_t shard = w.stripe_bytes / w.k;
  int missing[parity_shards_max];
  for (int i = 0; i < w.m; ++i) missing[i] = i;  // lose m data shards
  size_t ops = 0;
  const double start = Now();
  const double deadline = start + seconds;
  double now = start;
  int s = 0;
  do {
    for (int rep = 0; rep < 8; ++rep) {
      uint8_t* const* shards = &mem.shards[s * (w.k + w.m)];
      if (reconstruct) {
        codec.Reconstruct(shard, shards, missing, w.m);
      } else {
        codec.Encode(shard, shards);
      }
      if (++s == mem.stripes) s = 0;
      ++ops;
    }
    now = Now();
  } while (now < deadline);
  const double elapsed = now - start;
  return static_cast<double>(ops) * shard * w.k / elapsed / 1e9;
}

// ISA-L's AVX2 entry point, exported by libisal: the ISA-L figure an
// AVX2-only CPU would get, for comparison with tessera's avx2 kernel.
using IsalEncodeFn = void (*)(int, int, int, unsigned char*, unsigned char**,
                              unsigned char**);

IsalEncodeFn IsalAvx2() {
  if (LoadIsal() == nullptr) return nullptr;
  void* handle = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (handle == nullptr) return nullptr;
  return reinterpret_cast<IsalEncodeFn>(dlsym(handle, "ec_encode_data_avx2"));
}

double MeasureIsalAvx2(IsalEncodeFn fn, const Workload& w, Memory& mem,
                       double seconds) {
  std::vector<uint8_t> g(static_cast<size_t>(w.k) * (w.k + w.m));
  LoadIsal()->gf_gen_cauchy1_matrix(g.data(), w.k + w.m, w.k);
  std::vector<uint8_t> tables(32 * w.k * w.m);
  LoadIsal()->ec_init_tables(w.k, w.m, g.data() + w.k * w.k, tables.data());
  const size_t shard = w.stripe_bytes / w.k;
  size_t ops = 0;
  const double start = Now();
  const double deadline = start + seconds;
  double now = start;
  int s = 0;
  do {
    for (int rep = 0; rep < 8; ++rep) {
      uint8_t** shards = &mem.shards[s * (w.k + w.m)];
      fn(static_cast<int>(shard), w.k, w.m, tables.data(), shards,
         shards + w.k);
      if (++s == mem.stripes) s = 0;
      ++ops;
    }
    now = Now();
  } while (now < deadline);
  const double elapsed = now - start;
  return static_cast<double>(ops) * shard * w.k / elapsed / 1e9;
}

const ReedSolomonCodec* FindCodec(
    const std::vector<std::unique_ptr<ReedSolomonCodec>>& codecs,
    const char* name) {
  for (const auto& c : codecs)
    if (!std::strcmp(c->kernel_name(), name)) return c.get();
  return nullptr;
}

int Paired(int rounds, double ms) {
  const Workload w = {8, 4, 1 << 20, 0, "8+4 1MiB hot"};
  const IsalLibrary* isal = LoadIsal();
  if (isal == nullptr) {
    std::printf("isal: %s\n", IsalUnavailableReason());
    return 1;
  }
  std::vector<std::unique_ptr<ReedSolomonCodec>> codecs;
  for (const char* name : {"gfni-avx512", "avx2"}) {
    const EcKernel* kernel = FindUsableKernel(name);
    std::unique_ptr<ReedSolomonCodec> c;
    if (kernel != nullptr &&
        ReedSolomonCodec::Create(w.k, w.m, EcBackend::kBuiltin, kernel, &c)
            .ok())
      codecs.push_back(std::move(c));
  }
  std::unique_ptr<ReedSolomonCodec> isal_codec;
  if (!ReedSolomonCodec::Create(w.k, w.m, EcBackend::kIsal, nullptr,
                                &isal_codec)
           .ok())
    return 1;
  const IsalEncodeFn isal_avx2 = IsalAvx2();
  Memory mem = Allocate(w);
  const double s = ms / 1000;
  // The memory-only skeleton: the same loads, stores and prefetches as the
  // gfni-avx512 kernel with no GF multiply, i.e. what the memory system
  // allows for this access pattern (docs/ec.md, "How far from the bound").
  const double skeleton_s = s;
  auto skeleton = [&]() {
    const size_t shard = w.stripe_bytes / w.k;
    size_t ops = 0;
    const double start = Now();
    const double deadline = start + skeleton_s;
    double now = start;
    do {
      for (int rep = 0; rep < 8; ++rep, ++ops)
        EncodeMemorySkeleton(shard, w.k, w.m, &mem.shards[0], &mem.shards[w.k]);
      now = Now();
    } while (now < deadline);
    const double elapsed = now - start;
    return static_cast<double>(ops) * shard * w.k / elapsed / 1e9;
  };
  struct Pair {
    const char* label;
    std::function<double()> a, b;
  };
  auto enc = [&](const ReedSolomonCodec* c) {
    return [&, c]() { return Measure(*c, w, mem, false, s); };
  };
  std::vector<Pair> pairs;
  const ReedSolomonCodec* gfni = FindCodec(codecs, "gfni-avx512");
  if (gfni != nullptr)
    pairs.push_back(
        {"gfni-avx512 / isal (backend)", enc(gfni), enc(isal_codec.get())});
  if (const ReedSolomonCodec* a = FindCodec(codecs, "avx2")) {
    pairs.push_back({"avx2 / isal (backend)", enc(a), enc(isal_codec.get())});
    if (isal_avx2 != nullptr)
      pairs.push_back({"avx2 / isal ec_encode_data_avx2", enc(a), [&]() {
                         return MeasureIsalAvx2(isal_avx2, w, mem, s);
                       }});
  }
  if (MemorySkeletonUsable()) {
    pairs.push_back({"memory-only skeleton / isal (backend)", skeleton,
                     enc(isal_codec.get())});
    if (gfni != nullptr)
      pairs.push_back(
          {"memory-only skeleton / gfni-avx512", skeleton, enc(gfni)});
  }
  std::printf(
      "paired ratios, 8+4 1 MiB hot, %d rounds of %.0f ms %s per side\n",
      rounds, ms, use_cpu_time ? "thread CPU time" : "wall time");
  std::printf("%-38s %8s %8s %8s %10s %10s\n", "pair", "median", "q1", "q3",
              "A GB/s", "B GB/s");
  for (const Pair& p : pairs) {
    p.a();
    p.b();
    std::vector<double> ratio, ga, gb;
    for (int r = 0; r < rounds; ++r) {
      double x, y;
      if (r % 2 == 0) {
        x = p.a();
        y = p.b();
      } else {
        y = p.b();
        x = p.a();
      }
      ratio.push_back(x / y);
      ga.push_back(x);
      gb.push_back(y);
    }
    auto at = [](std::vector<double> v, double q) {
      std::sort(v.begin(), v.end());
      return v[static_cast<size_t>(q * (v.size() - 1) + 0.5)];
    };
    std::printf("%-38s %8.3f %8.3f %8.3f %10.2f %10.2f\n", p.label,
                at(ratio, 0.5), at(ratio, 0.25), at(ratio, 0.75), at(ga, 0.5),
                at(gb, 0.5));
  }
  return 0;
}

int Pipes(int rounds, double ms) {
  if (!PipesUsable()) {
    std::printf("pipes: needs AVX2\n");
    return 1;
  }
  use_cpu_time = true;
  const Workload w = {8, 4, 1 << 20, 0, "8+4 1MiB hot"};
  const double bound = PrintPipesAndBound(w.k, w.m);
  std::unique_ptr<ReedSolomonCodec> avx2, isal;
  const EcKernel* kernel = FindUsableKernel("avx2");
  if (kernel == nullptr ||
      !ReedSolomonCodec::Create(w.k, w.m, EcBackend::kBuiltin, kernel, &avx2)
           .ok() ||
      !ReedSolomonCodec::Create(w.k, w.m, EcBackend::kIsal, nullptr, &isal)
           .ok()) {
    std::printf("pipes: avx2 kernel or isal unavailable\n");
    return 1;
  }
  Memory mem = Allocate(w);
  const double s = ms / 1000;
  Measure(*avx2, w, mem, false, s);
  Measure(*isal, w, mem, false, s);
  std::vector<double> a, b;
  for (int r = 0; r < rounds; ++r) {
    if (r % 2 == 0) {
      a.push_back(Measure(*avx2, w, mem, false, s));
      b.push_back(Measure(*isal, w, mem, false, s));
    } else {
      b.push_back(Measure(*isal, w, mem, false, s));
      a.push_back(Measure(*avx2, w, mem, false, s));
    }
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double avx2_gbs = a[a.size() / 2], isal_gbs = b[b.size() / 2];
  std::printf(
      "8+4 1 MiB hot, thread CPU time: avx2 kernel %.1f GB/s (%.0f%% of the "
      "bound), isal backend %.1f GB/s; bound / isal %.2f, avx2 / isal %.2f\n",
      avx2_gbs, 100 * avx2_gbs / bound, isal_gbs, bound / isal_gbs,
      avx2_gbs / isal_gbs);
  return 0;
}

int Main(int argc, char** argv) {
  int trials = 5;
  double ms = 150;
  double paired_ms = 5;        // short windows: fewer preemptions inside one
  const char* only = nullptr;  // run workloads whose label contains this
  bool paired = false;
  bool pipes = false;
  int rounds = 101;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--trials") && i + 1 < argc)
      trials = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--ms") && i + 1 < argc)
      ms = paired_ms = std::atof(argv[++i]);
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (!std::strcmp(argv[i], "--pipes"))
      pipes = true;
    else if (!std::strcmp(argv[i], "--cpu-time"))
      use_cpu_time = true;
    else if (!std::strcmp(argv[i], "--paired"))
      paired = true;
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick")) {
      trials = 3;
      ms = 60;
    }
  }
  if (paired) return Paired(rounds, paired_ms);
  if (pipes) return Pipes(rounds, paired_ms);
  const size_t mib = 1 << 20;
  const Workload workloads[] = {
      {8, 4, mib, 0, "8+4 1MiB hot"},
      {8, 4, mib, 128 * mib, "8+4 1MiB cold"},
      {10, 4, 1000 * 1024, 0, "10+4 1MiB hot"},
      {10, 4, 1000 * 1024, 128 * mib, "10+4 1MiB cold"},
      {4, 2, mib, 0, "4+2 1MiB hot"},
      {4, 2, mib, 128 * mib, "4+2 1MiB cold"},
      {8, 4, 32 * 1024, 0, "8+4 32KiB hot"},
  };
  const IsalLibrary* isal = LoadIsal();
  std::printf(
      "isal: %s\n",
      isal ? (isal->has_gfni ? "loaded (gfni)" : "loaded (no gfni: <= 2.30)")
           : IsalUnavailableReason());
  std::printf("%-16s %-12s %10s %10s %10s %10s\n", "workload", "kernel",
              "enc GB/s", "rec GB/s", "enc/isal", "rec/enc");
  for (const Workload& w : workloads) {
    if (only != nullptr && std::strstr(w.label, only) == nullptr) continue;
    std::vector<std::unique_ptr<ReedSolomonCodec>> codecs;
    for (int i = 0; i < UsableKernelCount(); ++i) {
      if (!std::strcmp(UsableKernel(i)->name, "scalar")) continue;
      std::unique_ptr<ReedSolomonCodec> c;
      if (ReedSolomonCodec::Create(w.k, w.m, EcBackend::kBuiltin,
                                   UsableKernel(i), &c)
              .ok())
        codecs.push_back(std::move(c));
    }
    if (isal) {
      std::unique_ptr<ReedSolomonCodec> c;
      if (ReedSolomonCodec::Create(w.k, w.m, EcBackend::kIsal, nullptr, &c)
              .ok())
        codecs.push_back(std::move(c));
    }
    Memory mem = Allocate(w);
    std::vector<std::vector<double>> enc(codecs.size()), rec(codecs.size());
    const IsalEncodeFn isal_avx2 = IsalAvx2();
    std::vector<double> isal_avx2_enc;
    for (auto& c : codecs) Measure(*c, w, mem, false, 0.02);
    for (int t = 0; t < trials; ++t) {
      for (size_t c = 0; c < codecs.size(); ++c) {
        enc[c].push_back(Measure(*codecs[c], w, mem, false, ms / 1000));
        rec[c].push_back(Measure(*codecs[c], w, mem, true, ms / 1000));
      }
      if (isal_avx2 != nullptr) {
        isal_avx2_enc.push_back(MeasureIsalAvx2(isal_avx2, w, mem, ms / 1000));
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    const double isal_enc = isal ? median(enc.back()) : 0;
    for (size_t c = 0; c < codecs.size(); ++c) {
      const double e = median(enc[c]), r = median(rec[c]);
      std::printf("%-16s %-12s %10.2f %10.2f %10.2f %10.2f\n", w.label,
                  codecs[c]->kernel_name(), e, r,
                  isal_enc > 0 ? e / isal_enc : 0.0, r / e);
    }
    if (!isal_avx2_enc.empty()) {
      const double e = median(isal_avx2_enc);
      std::printf("%-16s %-12s %10.2f %10s %10.2f %10s\n", w.label, "isal-avx2",
                  e, "-", e / isal_enc, "-");
    }
  }
  return 0;
}

}  // namespace
}  // namespace ec
}  // namespace tessera

int main(int argc, char** argv) { return tessera::ec::Main(argc, argv); }
