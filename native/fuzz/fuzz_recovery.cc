// libFuzzer targets for recovery on an in-memory store (io::CrashFs):
//
// - FUZZ_SNAPSHOT: the input replaces snapshots/snapshot.dat on every
//   drive; Open must load it or reject it (then scan the log), and every
//   object must read back exact or fail cleanly (a snapshot that cannot be
//   trusted must never point reads at other bytes).
// - FUZZ_SEGMENT: the input becomes the payload of one chunk of segment 0
//   (drive, stripe, group_seq and flags taken from its first bytes) sealed
//   with a *valid* trailer, and snapshots are removed, so the scanner
//   (group chain, record decoding, replay) runs on forged but
//   checksum-correct bytes. Open must succeed or fail with a Status; no
//   crash, no sanitizer report. (A forged chunk with a valid CRC is not bit
//   rot, so reads are not compared here.)
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/ts_assert.h"
#include "engine/engine.h"
#include "io/crash_fs.h"

using namespace tessera;

namespace {

constexpr uint32_t kStripes = 16;
const char* kBodies[] = {"", "x", "hello, tessera",
                         "0123456789abcdef0123456789abcdef0123456789"};

engine::EngineOptions Options(io::Fs* fs) {
  engine::EngineOptions o;
  o.path = "/store";
  o.fs = fs;
  o.data_shards = 2;
  o.parity_shards = 1;
  o.segment_stripes = kStripes;
  o.zero_segments = false;
  o.reader_threads = 1;
  o.now_ms = 1700000000000;
  return o;
}

Status Run(engine::Engine* e, engine::WriteRequest r) {
  std::promise<Status> p;
  auto f = p.get_future();
  Status s = e->Submit(
      std::move(r),
      [&p](const Status& st, const engine::WriteResult&) { p.set_value(st); });
  return s.ok() ? f.get() : s;
}

// A small store: a bucket and four objects, closed (snapshot written).
void Build(io::CrashFs* fs) {
  std::unique_ptr<engine::Engine> e;
  TS_ASSERT(engine::Engine::Open(Options(fs), &e).ok());
  engine::WriteRequest b;
  b.kind = engine::WriteRequest::Kind::kBucketCreate;
  b.bucket = "bkt";
  TS_ASSERT(Run(e.get(), b).ok());
  for (int i = 0; i < 4; i++) {
    engine::WriteRequest r;
    r.kind = engine::WriteRequest::Kind::kPut;
    r.bucket = "bkt";
    r.key = "k" + std::to_string(i);
    r.body = reinterpret_cast<const uint8_t*>(kBodies[i]);
    r.body_bytes = strlen(kBodies[i]);
    TS_ASSERT(Run(e.get(), r).ok());
  }
  TS_ASSERT(e->Close().ok());
}

void Replace(io::CrashFs* fs, const std::string& path, const uint8_t* data,
             size_t size, uint64_t offset, bool truncate) {
  int fd = -1;
  TS_ASSERT(
      fs->Open(path, io::kOpenRead | io::kOpenWrite | io::kOpenCreate, &fd)
          .ok());
  if (truncate) TS_ASSERT(fs->Ftruncate(fd, 0).ok());
  if (size > 0) TS_ASSERT(fs->Pwrite(fd, data, size, offset).ok());
  TS_ASSERT(fs->Fdatasync(fd).ok());
  TS_ASSERT(fs->Close(fd).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 16)) return 0;
  io::CrashFs fs;
  Build(&fs);
#if defined(FUZZ_SNAPSHOT)
  for (int d = 0; d < 3; d++) {
    Replace(&fs,
            "/store/drive-" + std::to_string(d) + "/snapshots/snapshot.dat",
            data, size, 0, true);
  }
  std::unique_ptr<engine::Engine> e;
  if (engine::Engine::Open(Options(&fs), &e).ok()) {
    for (int i = 0; i < 4; i++) {
      engine::ObjectInfo info;
      std::string body;
      Status s = e->Get("bkt", "k" + std::to_string(i), "", 0, UINT64_MAX,
                        &info, &body);
      // Exact bytes, or a clean error; never other bytes.
      TS_ASSERT_MSG(!s.ok() || body == kBodies[i], "wrong bytes served");
    }
    (void)e->Close().ok();
  }
#elif defined(FUZZ_SEGMENT)
  if (size < 12) return 0;
  const uint32_t drive = data[0] % 3;
  const uint32_t stripe = data[1] % kStripes;
  log::ChunkTrailer t;
  t.segment_id = 0;
  t.stripe_index = stripe;
  t.drive_index = uint8_t(drive);
  t.flags = data[2] & 1;
  t.group_seq = 1 + data[3] % 8;
  std::vector<uint8_t> chunk(4096, 0);
  memcpy(chunk.data(), data + 4, std::min<size_t>(size - 4, 4096 - 32));
  log::SealChunk(t, chunk.data(), chunk.size());
  for (int d = 0; d < 3; d++) {
    (void)fs
        .Unlink("/store/drive-" + std::to_string(d) + "/snapshots/snapshot.dat")
        .ok();
  }
  Replace(&fs,
          "/store/drive-" + std::to_string(drive) +
              "/segments/seg-0000000000000000.dat",
          chunk.data(), chunk.size(), 4096 + uint64_t(stripe) * 4096, false);
  std::unique_ptr<engine::Engine> e;
  if (engine::Engine::Open(Options(&fs), &e).ok()) {
    for (int i = 0; i < 4; i++) {
      engine::ObjectInfo info;
      std::string body;
      (void)e
          ->Get("bkt", "k" + std::to_string(i), "", 0, UINT64_MAX, &info, &body)
          .ok();
    }
    engine::ScrubReport report;
    (void)e->Scrub(engine::ScrubOptions(), &report).ok();
    (void)e->Close().ok();
  }
#else
#error "define FUZZ_SNAPSHOT or FUZZ_SEGMENT"
#endif
  return 0;
}
