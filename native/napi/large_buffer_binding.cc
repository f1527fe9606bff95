// largeBuffer(bytes): an uninitialized Buffer for a large get's body, mapped
// on its own and advised to use transparent huge pages.
//
// Why: a 64 MiB get into a Buffer.allocUnsafe body took 16384 page faults
// (one per 4 KiB page, taken by the reader threads as they copy in, both
// contending on the mapping's lock), about 60% of the get's CPU time in a
// profile (session 5, docs/BENCHMARKS.md). With MADV_HUGEPAGE a 2 MiB-aligned
// mapping faults in 2 MiB at a time, 32 faults for 64 MiB. The JS thread
// never touches the pages: a fresh mapping is faulted in by whoever writes
// it first (the reader threads, or the spare-preparing thread below). Where
// huge pages are unavailable (THP "never", no free huge page) the kernel
// falls back to 4 KiB pages: slower, never wrong.
//
// When the Buffer is collected its mapping goes back to a small pool (at
// most kPoolBytes, a mapping at most twice the size asked for is reused)
// instead of to the kernel: a fresh mapping's pages must be zeroed and, on
// a virtual machine, often backed by the host again on first touch, which
// made the CPU time of a 64 MiB get swing 2x from one get to the next (the
// raw-read baseline reuses its buffers and never pays that). A reused
// mapping holds a previous body of this process: every byte is written
// again before a get returns it (lib/store checks each piece's count).
// Beyond the pool, mappings are unmapped. When largeBuffer finds no pooled
// mapping for a size, a helper thread prepares one (mapped, advised, every
// page written once) for the next request of that size, so the cost of new
// memory is paid off the reader threads' path, while a get waits on disk;
// the spare counts against the pool's bound. V8 counts an external Buffer's
// bytes like any other ArrayBuffer's for GC pressure.
#include <napi.h>
#include <sys/mman.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "napi/errors.h"
#include "napi/registry.h"

namespace tessera::napi {
namespace {

constexpr size_t kHugePage = 2u << 20;

constexpr size_t kPoolBytes = 192u << 20;

struct Mapping {
  void* base;
  size_t bytes;
};

// Freed mappings kept for reuse. Finalizers and largeBuffer run on JS
// threads; worker threads have their own, hence the mutex.
std::mutex pool_mu;
std::vector<Mapping> pool;  // guarded by pool_mu, oldest first
size_t pool_bytes = 0;      // guarded by pool_mu

// Whether pooled mapping `m` may serve a request of `bytes`: it holds them
// and wastes at most as much again.
bool Fits(const Mapping& m, size_t bytes) {
  return m.bytes >= bytes && m.bytes <= 2 * bytes;
}

bool TakeFromPool(size_t bytes, Mapping* out) {
  std::lock_guard<std::mutex> lock(pool_mu);
  for (size_t i = pool.size(); i-- > 0;) {
    if (Fits(pool[i], bytes)) {
      *out = pool[i];
      pool.erase(pool.begin() + long(i));
      pool_bytes -= out->bytes;
      return true;
    }
  }
  return false;
}

void GiveToPool(Mapping m) {
  std::vector<Mapping> drop;
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (m.bytes > kPoolBytes) {
      drop.push_back(m);
    } else {
      pool.push_back(m);
      pool_bytes += m.bytes;
      while (pool_bytes > kPoolBytes) {
        drop.push_back(pool.front());
        pool_bytes -= pool.front().bytes;
        pool.erase(pool.begin());
      }
    }
  }
  for (const Mapping& d : drop) munmap(d.base, d.bytes);
}

// A fresh mapping of `bytes`, 2 MiB-aligned part advised as huge pages;
// false when the kernel refuses the mapping.
bool MapFresh(size_t bytes, Mapping* out) {
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return false;
  *out = Mapping{base, bytes};
#ifdef MADV_HUGEPAGE
  const uintptr_t aligned =
      (uintptr_t(base) + kHugePage - 1) & ~(kHugePage - 1);
  (void)madvise(reinterpret_cast<void*>(aligned),
                bytes - (aligned - uintptr_t(base)),
                MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
#endif
  return true;
}

bool PoolHas(size_t bytes) {
  std::lock_guard<std::mutex> lock(pool_mu);
  for (const Mapping& m : pool) {
    if (Fits(m, bytes)) return true;
  }
  return false;
}

// The spare-preparing thread's state. Never freed: the thread is detached
// and may be waiting on it while the process exits.
struct Prep {
  std::mutex mu;
  std::condition_variable cv;
  size_t want = 0;  // guarded by mu; 0: nothing asked
  bool started = false;
};
Prep* prep = new Prep();

void PrepLoop() {
  for (;;) {
    size_t want = 0;
    {
      std::unique_lock<std::mutex> lock(prep->mu);
      prep->cv.wait(lock, [] { return prep->want != 0; });
      want = prep->want;
      prep->want = 0;
    }
    if (PoolHas(want)) continue;
    Mapping m;
    if (!MapFresh(want, &m)) continue;
    // Fault every page in now (one write per 4 KiB; with huge pages the
    // kernel zeroes 2 MiB per fault).
    auto* p = static_cast<volatile uint8_t*>(m.base);
    for (size_t off = 0; off < m.bytes; off += 4096) p[off] = 0;
    GiveToPool(m);
  }
}

void RequestSpare(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(prep->mu);
    if (!prep->started) {
      prep->started = true;
      std::thread(PrepLoop).detach();
    }
    prep->want = bytes;
  }
  prep->cv.notify_one();
}

Napi::Value LargeBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw ArgumentError(env, "ERR_INVALID_ARG_TYPE", "largeBuffer(bytes)");
  }
  const double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want >= 1 && want <= double(uint64_t(1) << 40))) {
    throw ArgumentError(env, "ERR_OUT_OF_RANGE",
                        "largeBuffer needs 1 byte to 1 TiB");
  }
  const size_t length = size_t(want);
  // Over-map by one huge page so the body can start 2 MiB-aligned.
  const size_t bytes = (length + 2 * kHugePage - 1) / kHugePage * kHugePage;
  Mapping got;
  if (!TakeFromPool(bytes, &got) && !MapFresh(bytes, &got)) {
    // As Buffer.allocUnsafe fails: the caller sees an allocation error.
    throw ArgumentError(env, "ERR_MEMORY_ALLOCATION_FAILED",
                        "cannot map " + std::to_string(bytes) + " bytes");
  }
  if (!PoolHas(bytes)) RequestSpare(bytes);
  auto* m = new Mapping(got);
  const uintptr_t start =
      (uintptr_t(m->base) + kHugePage - 1) & ~(kHugePage - 1);
  return Napi::Buffer<uint8_t>::New(
      env, reinterpret_cast<uint8_t*>(start), length,
      [](Napi::Env, uint8_t*, Mapping* hint) {
        GiveToPool(*hint);
        delete hint;
      },
      m);
}

}  // namespace

void RegisterLargeBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("largeBuffer", Napi::Function::New(env, LargeBuffer));
}

}  // namespace tessera::napi
