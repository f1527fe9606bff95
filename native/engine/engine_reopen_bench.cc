// Reopen time of a store with N small objects, from the snapshot and from a
// full scan of the log, and the index's memory per object (issue 5).
//
//   engine_reopen_bench [objects=1000000] [dir=/var/tmp]
//
// Writes N 16-byte objects (keys "obj/<8 digits>") into one bucket of a 4+2
// store with many puts in flight (group commit), closes (writes the
// snapshot), then times three opens from the snapshot and three from a full
// scan (the snapshot files removed before each), printing each.
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/ts_assert.h"
#include "engine/engine.h"

namespace tessera {
namespace engine {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

EngineOptions Options(const std::string& path) {
  EngineOptions o;
  o.path = path;
  o.data_shards = 4;
  o.parity_shards = 2;
  o.direct_io = io::DirectIoMode::kOptional;
  o.snapshot_every_groups = 0;  // only at close: the bench times that one
  return o;
}

uint64_t SnapshotBytes(const std::string& dir) {
  const std::string path = dir + "/drive-0/snapshots/snapshot.dat";
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return 0;
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fclose(f);
  return uint64_t(n);
}

int Main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? strtoull(argv[1], nullptr, 10) : 1000000;
  const std::string base = argc > 2 ? argv[2] : "/var/tmp";
  // mkdtemp replaces the six trailing X characters.
  std::string tmpl = base + "/tessera-reopen-" + std::string(6, 'X');
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  TS_ASSERT(mkdtemp(buf.data()) != nullptr);
  const std::string dir(buf.data());
  std::unique_ptr<Engine> e;
  Status s = Engine::Open(Options(dir), &e);
  TS_ASSERT_MSG(s.ok(), s.message().c_str());

  std::mutex mu;
  std::condition_variable cv;
  uint64_t done = 0, failed = 0;
  auto wait_below = [&](uint64_t submitted, uint64_t window) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return submitted - done < window; });
  };
  WriteRequest b;
  b.kind = WriteRequest::Kind::kBucketCreate;
  b.bucket = "bench";
  s = e->Submit(b, [&](const Status& st, const WriteResult&) {
    std::lock_guard<std::mutex> lock(mu);
    if (!st.ok()) failed++;
    done++;
    cv.notify_all();
  });
  TS_ASSERT(s.ok());
  wait_below(1, 1);
  static const char kBody[17] = "0123456789abcdef";
  const auto t0 = Clock::now();
  char key[32];
  for (uint64_t i = 0; i < n; i++) {
    WriteRequest r;
    r.kind = WriteRequest::Kind::kPut;
    r.bucket = "bench";
    snprintf(key, sizeof(key), "obj/%08llu", (unsigned long long)i);
    r.key = key;
    r.body = reinterpret_cast<const uint8_t*>(kBody);
    r.body_bytes = 16;
    wait_below(i + 1, 8192);
    s = e->Submit(std::move(r), [&](const Status& st, const WriteResult&) {
      std::lock_guard<std::mutex> lock(mu);
      if (!st.ok()) failed++;
      done++;
      cv.notify_all();
    });
    TS_ASSERT_MSG(s.ok(), s.message().c_str());
  }
  wait_below(n + 1, 1);
  const auto t1 = Clock::now();
  TS_ASSERT(failed == 0);
  const index::IndexMemory mem = e->directory().IndexMemoryUse();
  printf("objects %llu, puts %.1f s (%.0f puts/s)\n", (unsigned long long)n,
         Seconds(t0, t1), double(n) / Seconds(t0, t1));
  printf(
      "index: %llu keys, %.1f bytes/object excluding keys, %llu key bytes, "
      "arena %llu, hash %llu, tree %llu\n",
      (unsigned long long)mem.keys, mem.bytes_per_object_excluding_keys,
      (unsigned long long)mem.key_bytes, (unsigned long long)mem.record_bytes,
      (unsigned long long)mem.hash_bytes, (unsigned long long)mem.tree_bytes);
  const auto c0 = Clock::now();
  s = e->Close();
  const auto c1 = Clock::now();
  TS_ASSERT(s.ok());
  e.reset();
  printf(
      "close (writes the snapshot to 6 drives): %.3f s, snapshot %llu bytes\n",
      Seconds(c0, c1), (unsigned long long)SnapshotBytes(dir));
  for (int pass = 0; pass < 6; pass++) {
    const bool scan = pass >= 3;
    if (scan) {
      for (int d = 0; d < 6; d++) {
        unlink((dir + "/drive-" + std::to_string(d) + "/snapshots/snapshot.dat")
                   .c_str());
      }
    }
    EngineOptions o = Options(dir);
    o.data_shards = o.parity_shards = 0;
    const auto a = Clock::now();
    s = Engine::Open(o, &e);
    const auto z = Clock::now();
    TS_ASSERT_MSG(s.ok(), s.message().c_str());
    TS_ASSERT(e->info().recovered_from_snapshot == !scan);
    TS_ASSERT(e->directory().object_versions() == n);
    printf("open from %s: %.3f s\n", scan ? "full scan" : "snapshot",
           Seconds(a, z));
    e.reset();
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("max RSS %ld MiB\n", ru.ru_maxrss / 1024);
  const std::string cmd = "rm -rf '" + dir + "'";
  return system(cmd.c_str()) == 0 ? 0 : 1;
}

}  // namespace
}  // namespace engine
}  // namespace tessera

int main(int argc, char** argv) { return tessera::engine::Main(argc, argv); }
