// Raw I/O ceilings of the disk under the repository, and what IoEngine gets
// for the same patterns. Every pattern runs --runs times (default 3) for
// about --seconds each (default 1.0), interleaved with its peers, and
// prints the median, min..max and the ratio to the raw baseline.
// Files live in <repo>/.bench-data/io-bench-XXXXXX (never /tmp, which may be
// tmpfs), use at most ~600 MiB, and are deleted at the end.
//
//   io_bench [--dir DIR] [--runs N] [--seconds S]

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/fs.h"
#include "io/io_engine.h"
#include "io/uring.h"

using namespace tessera;
using namespace tessera::io;
using Clock = std::chrono::steady_clock;

namespace {

int g_runs = 3;
double g_seconds = 1.0;
constexpr uint64_t kBigFileBytes = 512ull << 20;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "io_bench: %s: %s\n", what, s.message().c_str());
    std::exit(1);
  }
}

struct Summary {
  double median, min, max;
};
Summary Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int OpenDirect(const std::string& path) {
  int fd = -1;
  Check(DefaultFs()->Open(path, kOpenWrite | kOpenCreate | kOpenDirect, &fd),
        "open");
  return fd;
}

// ---- raw patterns

// depth records of 4 KiB written (pwrite one by one, or all in flight on
// io_uring), then one fdatasync; records per second.
double BatchedRecordsPerSec(int fd, int depth, bool uring) {
  AlignedBuffer b;
  Check(AlignedBuffer::Allocate(4096ull * depth, &b), "alloc");
  IoUring ring;
  if (uring) Check(ring.Init(static_cast<uint32_t>(depth)), "uring");
  std::vector<struct iovec> iov(depth);
  std::vector<UringOp> ops(depth + 1);
  uint64_t records = 0, off = 0;
  const auto t0 = Clock::now();
  while (Since(t0) < g_seconds) {
    if (off + 4096ull * depth > (64ull << 20)) off = 0;
    if (uring) {
      std::vector<UringOp*> ptrs;
      for (int i = 0; i < depth; i++) {
        iov[i] = {b.data() + 4096 * i, 4096};
        ops[i] = UringOp();
        ops[i].kind = UringOp::kWritev;
        ops[i].fd = fd;
        ops[i].offset = off + 4096ull * i;
        ops[i].iov = &iov[i];
        ops[i].iovcnt = 1;
        ptrs.push_back(&ops[i]);
      }
      Check(ring.Run(&ptrs), "uring run");
      for (int i = 0; i < depth; i++) Check(ops[i].status, "uring write");
      ops[depth] = UringOp();
      ops[depth].kind = UringOp::kFdatasync;
      ops[depth].fd = fd;
      std::vector<UringOp*> sync = {&ops[depth]};
      Check(ring.Run(&sync), "uring run");
      Check(ops[depth].status, "uring fdatasync");
    } else {
      for (int i = 0; i < depth; i++) {
        Check(DefaultFs()->Pwrite(fd, b.data() + 4096 * i, 4096,
                                  off + 4096ull * i),
              "pwrite");
      }
      Check(DefaultFs()->Fdatasync(fd), "fdatasync");
    }
    off += 4096ull * depth;
    records += depth;
  }
  return records / Since(t0);
}

// Transfers of `block` bytes over the big file with `depth` in flight
// (depth 1 = plain pwrite/pread); sequential or random offsets. For writes
// the run ends with one fdatasync, inside the timing. Returns bytes/s.
double Transfer(int fd, bool write, bool random, size_t block, int depth,
                bool uring, uint64_t seed) {
  AlignedBuffer b;
  Check(AlignedBuffer::Allocate(block * depth, &b), "alloc");
  std::memset(b.data(), 0x3c, b.size());
  IoUring ring;
  if (uring) Check(ring.Init(static_cast<uint32_t>(depth)), "uring");
  std::mt19937_64 rng(seed);
  const uint64_t blocks = kBigFileBytes / block;
  uint64_t next = 0, bytes = 0;
  auto offset = [&]() -> uint64_t {
    if (random) return (rng() % blocks) * block;
    const uint64_t o = next * block;
    next = (next + 1) % blocks;
    return o;
  };
  std::vector<struct iovec> iov(depth);
  std::vector<UringOp> ops(depth);
  const auto t0 = Clock::now();
  while (Since(t0) < g_seconds) {
    if (uring) {
      std::vector<UringOp*> ptrs;
      for (int i = 0; i < depth; i++) {
        iov[i] = {b.data() + block * i, block};
        ops[i] = UringOp();
        ops[i].kind = write ? UringOp::kWritev : UringOp::kReadv;
        ops[i].fd = fd;
        ops[i].offset = offset();
        ops[i].iov = &iov[i];
        ops[i].iovcnt = 1;
        ptrs.push_back(&ops[i]);
      }
      Check(ring.Run(&ptrs), "uring run");
      for (int i = 0; i < depth; i++) Check(ops[i].status, "uring transfer");
      bytes += block * depth;
    } else {
      for (int i = 0; i < depth; i++) {
        size_t got = 0;
        if (write) {
          Check(DefaultFs()->Pwrite(fd, b.data(), block, offset()), "pwrite");
        } else {
          Check(DefaultFs()->Pread(fd, b.data(), block, offset(), &got),
                "pread");
        }
        bytes += block;
      }
    }
  }
  if (write) Check(DefaultFs()->Fdatasync(fd), "fdatasync");
  return bytes / Since(t0);
}

// ---- IoEngine patterns

class Waiter {
 public:
  void Done() {
    std::lock_guard<std::mutex> l(mu_);
    done_++;
    cv_.notify_all();
  }
  void WaitFor(uint64_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return done_ >= n; });
  }
  uint64_t done() {
    std::lock_guard<std::mutex> l(mu_);
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t done_ = 0;
};

struct EngineRun {
  double value;
  IoEngineStats stats;
};

// Keeps `depth` requests of `block` bytes in flight for g_seconds (writes:
// each completes after its group's fdatasync). Returns requests/s.
EngineRun EngineTransfer(const char* backend_name, int fd, bool write,
                         bool random, size_t block, int depth) {
  IoEngine engine;
  IoEngineOptions o;
  o.backend = std::string(backend_name) == "io_uring" ? IoBackend::kUring
                                                      : IoBackend::kPwrite;
  o.uring_entries = 256;
  Check(engine.Start(o), "engine start");
  uint32_t id;
  Check(engine.AddFile(fd, "bench", &id), "add file");
  AlignedBuffer b;
  Check(AlignedBuffer::Allocate(block * depth, &b), "alloc");
  std::mt19937_64 rng(7);
  const uint64_t blocks = kBigFileBytes / block;
  uint64_t next = 0;
  Waiter waiter;
  std::atomic<bool> failed{false};
  uint64_t submitted = 0;
  const auto t0 = Clock::now();
  auto submit_one = [&](int slot) {
    const uint64_t off =
        random ? (rng() % blocks) * block : (next++ % blocks) * block;
    std::vector<IoOp> ops = {{id, off, b.data() + block * slot, block}};
    Status s;
    if (write) {
      s = engine.SubmitWrite(std::move(ops), [&](const Status& st) {
        if (!st.ok()) failed = true;
        waiter.Done();
      });
    } else {
      s = engine.SubmitRead(std::move(ops), [&](const Status& st, size_t) {
        if (!st.ok()) failed = true;
        waiter.Done();
      });
    }
    Check(s, "submit");
    submitted++;
  };
  // Closed loop: a new request as soon as one completes. Slots are reused
  // round-robin; a slot's buffer may be rewritten while a previous request
  // on it is still in flight, which is fine for a throughput test.
  for (int i = 0; i < depth; i++) submit_one(i);
  while (Since(t0) < g_seconds) {
    waiter.WaitFor(submitted - depth + 1);
    submit_one(static_cast<int>(submitted % depth));
  }
  waiter.WaitFor(submitted);
  const double rate = submitted / Since(t0);
  engine.Stop();
  if (failed) {
    std::fprintf(stderr, "io_bench: an engine request failed\n");
    std::exit(1);
  }
  return {rate, engine.stats()};
}

std::string Fmt(const char* f, double a, double b = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b);
  return buf;
}

// One measurement of one member of a comparison group.
struct Sample {
  double value = 0;  // rate in the group's unit, or p50 latency (us)
  double p99 = 0;    // latency groups only
  std::string extra;
};

struct Member {
  std::string name;
  std::function<Sample()> run;
};

// Runs every member once per run, interleaved (A B C A B C ...), so all of
// them share the same disk noise, then prints medians, min..max and the
// median of the per-run ratios to the first member (the raw baseline).
void Group(const char* title, const char* unit, bool latency,
           const std::vector<Member>& members) {
  std::vector<std::vector<Sample>> samples(members.size());
  for (int r = 0; r < g_runs; r++) {
    for (size_t m = 0; m < members.size(); m++) {
      samples[m].push_back(members[m].run());
    }
  }
  std::printf("\n%s\n", title);
  for (size_t m = 0; m < members.size(); m++) {
    std::vector<double> v, p99, ratio;
    for (int r = 0; r < g_runs; r++) {
      v.push_back(samples[m][r].value);
      p99.push_back(samples[m][r].p99);
      ratio.push_back(samples[m][r].value / samples[0][r].value);
    }
    const Summary s = Summarize(v);
    std::printf("  %-46s %10.1f %-6s (%.1f..%.1f)", members[m].name.c_str(),
                s.median, unit, s.min, s.max);
    if (latency) {
      const Summary q = Summarize(p99);
      std::printf("  p99 %.1f us (%.1f..%.1f)", q.median, q.min, q.max);
    }
    if (m > 0) std::printf("  x%.2f", Summarize(ratio).median);
    if (!samples[m].back().extra.empty()) {
      std::printf("  %s", samples[m].back().extra.c_str());
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}

std::string PerSync(const IoEngineStats& st) {
  return Fmt("%.1f writes/fdatasync",
             double(st.write_requests) / std::max<uint64_t>(1, st.fdatasyncs));
}

// The disk's flush latency swings by 30x from second to second here (other
// tenants flush the same device), so the serial comparison alternates single
// operations: raw, raw into unwritten extents, then one awaited write per
// engine, round after round, all at the same moment's noise.
void SerialInterleaved(const std::string& dir, int big_fd,
                       const std::vector<const char*>& backends) {
  const int fresh_fd = OpenDirect(dir + "/serial");
  Check(DefaultFs()->Fallocate(fresh_fd, 0, 64ull << 20), "fallocate");
  Check(DefaultFs()->Fdatasync(fresh_fd), "fdatasync");
  Check(DefaultFs()->FsyncDir(dir), "fsync dir");
  std::vector<std::unique_ptr<IoEngine>> engines;
  std::vector<uint32_t> ids;
  for (const char* b : backends) {
    engines.push_back(std::make_unique<IoEngine>());
    IoEngineOptions o;
    o.backend =
        std::string(b) == "io_uring" ? IoBackend::kUring : IoBackend::kPwrite;
    Check(engines.back()->Start(o), "engine start");
    uint32_t id;
    Check(engines.back()->AddFile(big_fd, "bench", &id), "add file");
    ids.push_back(id);
  }
  AlignedBuffer buf;
  Check(AlignedBuffer::Allocate(4096, &buf), "alloc");
  const size_t members = 2 + engines.size();
  std::vector<std::vector<double>> lat(members);
  Waiter waiter;
  uint64_t submitted = 0;
  const auto t0 = Clock::now();
  for (uint64_t i = 0; Since(t0) < g_seconds * g_runs * members && i < 16384;
       i++) {
    const uint64_t off = (i % 16384) * 4096;
    auto t = Clock::now();
    Check(DefaultFs()->Pwrite(big_fd, buf.data(), 4096, off), "pwrite");
    Check(DefaultFs()->Fdatasync(big_fd), "fdatasync");
    lat[0].push_back(Since(t) * 1e6);
    t = Clock::now();
    Check(DefaultFs()->Pwrite(fresh_fd, buf.data(), 4096, off), "pwrite");
    Check(DefaultFs()->Fdatasync(fresh_fd), "fdatasync");
    lat[1].push_back(Since(t) * 1e6);
    for (size_t e = 0; e < engines.size(); e++) {
      t = Clock::now();
      Check(engines[e]->SubmitWrite({{ids[e], off, buf.data(), 4096}},
                                    [&](const Status& st) {
                                      Check(st, "engine write");
                                      waiter.Done();
                                    }),
            "submit");
      waiter.WaitFor(++submitted);
      lat[2 + e].push_back(Since(t) * 1e6);
    }
  }
  for (auto& e : engines) e->Stop();
  Check(DefaultFs()->Close(fresh_fd), "close");
  Check(DefaultFs()->Unlink(dir + "/serial"), "unlink");
  std::printf(
      "\n4 KiB durable write, one at a time (ops alternated, %zu rounds): "
      "latency\n",
      lat[0].size());
  std::vector<std::string> names = {"raw O_DIRECT pwrite + fdatasync",
                                    "raw, into fallocated (unwritten) extents"};
  for (const char* b : backends) {
    names.push_back(std::string("engine[") + b + "] durable write, awaited");
  }
  const double base = Percentile(lat[0], 0.5);
  for (size_t m = 0; m < members; m++) {
    const double p50 = Percentile(lat[m], 0.5);
    std::printf("  %-46s p50 %8.1f us  p90 %8.1f us  p99 %8.1f us",
                names[m].c_str(), p50, Percentile(lat[m], 0.9),
                Percentile(lat[m], 0.99));
    if (m > 0) std::printf("  x%.2f", p50 / base);
    std::printf("\n");
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = ".bench-data";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--dir") base = argv[i + 1];
    if (a == "--runs") g_runs = std::max(1, std::atoi(argv[i + 1]));
    if (a == "--seconds") g_seconds = std::atof(argv[i + 1]);
  }
  ::mkdir(base.c_str(), 0755);
  std::string tmpl = base + "/io-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  struct statfs sf;
  ::statfs(dir.c_str(), &sf);
  std::string uring_detail;
  const bool uring = IoUring::Available(&uring_detail);
  if (!uring) {
    std::printf("io_uring rows skipped: %s\n", uring_detail.c_str());
  }
  std::printf(
      "io_bench: dir %s (statfs f_type 0x%lx%s), %d interleaved runs x %.1f "
      "s per member; median (min..max), xR = median per-run ratio to the "
      "first row\n",
      dir.c_str(), static_cast<unsigned long>(sf.f_type),
      sf.f_type == 0x01021994 ? " = tmpfs!" : "", g_runs, g_seconds);

  // The big file, written once end to end so every pattern overwrites
  // written extents (the steady state of pre-zeroed segments).
  const std::string big = dir + "/big";
  const int fd = OpenDirect(big);
  Check(DefaultFs()->Fallocate(fd, 0, kBigFileBytes), "fallocate");
  {
    AlignedBuffer zeros;
    Check(AlignedBuffer::Allocate(1 << 20, &zeros), "alloc");
    for (uint64_t off = 0; off < kBigFileBytes; off += 1 << 20) {
      Check(DefaultFs()->Pwrite(fd, zeros.data(), 1 << 20, off), "zero fill");
    }
  }
  Check(DefaultFs()->Fdatasync(fd), "fdatasync");
  Check(DefaultFs()->FsyncDir(dir), "fsync dir");

  std::vector<const char*> backends = {"pwrite"};
  if (uring) backends.push_back("io_uring");
  auto engine_name = [](const char* b, const char* what) {
    return std::string("engine[") + b + "] " + what;
  };

  { SerialInterleaved(dir, fd, backends); }
  {
    std::vector<Member> m = {
        {"raw 64 x pwrite + 1 fdatasync", [&] {
           return Sample{BatchedRecordsPerSec(fd, 64, false), 0, ""};
         }}};
    if (uring) {
      m.push_back({"raw 64 x io_uring write + 1 fdatasync", [&] {
                     return Sample{BatchedRecordsPerSec(fd, 64, true), 0, ""};
                   }});
    }
    for (const char* b : backends) {
      m.push_back({engine_name(b, "64 durable writes in flight"), [&, b] {
                     const EngineRun e =
                         EngineTransfer(b, fd, true, false, 4096, 64);
                     return Sample{e.value, 0, PerSync(e.stats)};
                   }});
    }
    Group("4 KiB durable records, 64 at a time: records/s", "rec/s", false, m);
  }
  struct Raw {
    const char* name;
    bool write, random;
    size_t block;
    int depth;
    bool uring;
  };
  struct Shape {
    const char* title;
    const char* unit;
    bool write, random;
    size_t block;
    int engine_depth;
    std::vector<Raw> raws;
  };
  const std::vector<Shape> shapes = {
      {"1 MiB sequential O_DIRECT writes (+ final fdatasync): MiB/s",
       "MiB/s",
       true,
       false,
       1 << 20,
       8,
       {{"raw pwrite, depth 1", true, false, 1 << 20, 1, false},
        {"raw io_uring, depth 8", true, false, 1 << 20, 8, true}}},
      {"1 MiB sequential O_DIRECT reads: MiB/s",
       "MiB/s",
       false,
       false,
       1 << 20,
       8,
       {{"raw pread, depth 1", false, false, 1 << 20, 1, false},
        {"raw io_uring, depth 8", false, false, 1 << 20, 8, true}}},
      {"4 KiB random O_DIRECT reads: IOPS",
       "IOPS",
       false,
       true,
       4096,
       64,
       {{"raw pread, depth 1", false, true, 4096, 1, false},
        {"raw io_uring, depth 64", false, true, 4096, 64, true}}},
  };
  uint64_t seed = 100;
  for (const Shape& shape : shapes) {
    std::vector<Member> m;
    for (const Raw& r : shape.raws) {
      if (r.uring && !uring) continue;
      m.push_back({r.name, [&, r] {
                     const double bps = Transfer(fd, r.write, r.random, r.block,
                                                 r.depth, r.uring, seed++);
                     return Sample{
                         r.block == 4096 ? bps / 4096 : bps / (1 << 20), 0, ""};
                   }});
    }
    for (const char* b : backends) {
      const std::string what = std::to_string(shape.engine_depth) +
                               " in flight" + (shape.write ? " (durable)" : "");
      m.push_back(
          {engine_name(b, what.c_str()), [&, b] {
             const EngineRun e =
                 EngineTransfer(b, fd, shape.write, shape.random, shape.block,
                                shape.engine_depth);
             return Sample{e.value, 0, shape.write ? PerSync(e.stats) : ""};
           }});
    }
    Group(shape.title, shape.unit, false, m);
  }
  Check(DefaultFs()->Close(fd), "close");
  Check(DefaultFs()->Unlink(big), "unlink");
  ::rmdir(dir.c_str());
  return 0;
}
