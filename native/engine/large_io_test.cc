// Large-object I/O (docs/engine.md, "Segment preparation" and "Large
// reads"): segments created on every drive at once, a batch's data-drive
// reads in flight together through the reader thread's io_uring (the real
// file system: no test layer), and GetInto, which reads a body range
// straight into the caller's memory. Every body is compared byte for byte,
// before and after a reopen, with a damaged chunk too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/test_util.h"

namespace tessera {
namespace engine {
namespace {

using Kind = WriteRequest::Kind;

using test_util::RemoveTree;
std::string TempDir() { return test_util::TempDir("largeio"); }
Status RunWrite(Engine* e, WriteRequest r) {
  return test_util::Run(e, std::move(r));
}
std::string Bytes(uint64_t seed, size_t n) {
  return test_util::RandomBytes(seed, n);
}

// 512 stripes of 4 KiB chunks on 4+2: about 7.9 MiB of data per segment,
// so the bodies below roll through several segments.
EngineOptions Opts(const std::string& path, bool parallel) {
  EngineOptions o;
  o.path = path;
  o.data_shards = 4;
  o.parity_shards = 2;
  o.segment_stripes = 512;
  o.now_ms = 1700000000000;
  o.parallel_segment_create = parallel;
  o.auto_heal = false;
  return o;
}

size_t SegmentFiles(const std::string& drive_dir) {
  size_t n = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(drive_dir + "/segments")) {
    n += f.path().extension() == ".dat" ? 1 : 0;
  }
  return n;
}

// Whole bodies and ranges that cross chunks, stripes and 1 MiB read
// batches, through Get and GetInto.
void ExpectBodies(Engine* e, const std::vector<std::string>& bodies) {
  for (size_t i = 0; i < bodies.size(); i++) {
    const std::string key = "k" + std::to_string(i);
    ObjectInfo info;
    std::string got;
    Status s = e->Get("bkt", key, "", 0, UINT64_MAX, &info, &got);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(got == bodies[i]) << "Get body " << i << " differs";
    const uint64_t size = bodies[i].size();
    const std::vector<std::pair<uint64_t, uint64_t>> ranges = {
        {0, size},
        {1, size - 1},
        {4093, 3 * 4096 + 5},
        {(1u << 20) - 7, (1u << 20) + 11},
        {size - 100, 100}};
    for (const auto& [off, len] : ranges) {
      std::string out(len + 3, '\x5a');
      uint64_t n = 0;
      s = e->GetInto("bkt", key, "", off, len,
                     reinterpret_cast<uint8_t*>(&out[0]), len, &n);
      ASSERT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(n, len);
      EXPECT_TRUE(out.compare(0, len, bodies[i], off, len) == 0)
          << "GetInto body " << i << " at " << off << " differs";
      EXPECT_EQ(out.substr(len), "\x5a\x5a\x5a") << "wrote past the range";
    }
  }
}

void PutAndReadBack(bool parallel) {
  const std::string dir = TempDir();
  std::vector<std::string> bodies;
  {
    std::unique_ptr<Engine> e;
    ASSERT_TRUE(Engine::Open(Opts(dir, parallel), &e).ok());
    WriteRequest b = test_util::BucketCreateRequest("bkt");
    ASSERT_TRUE(RunWrite(e.get(), b).ok());
    const uint64_t piece = e->info().record_bytes_max;
    for (size_t i = 0; i < 6; i++) {
      bodies.push_back(Bytes(
          i + 7, size_t(std::min<uint64_t>(piece, (3u << 20) + 4096 * i + i))));
      WriteRequest r =
          test_util::PutRequest("bkt", "k" + std::to_string(i), bodies.back());
      Status s = RunWrite(e.get(), r);
      ASSERT_TRUE(s.ok()) << s.message();
    }
    EXPECT_EQ(e->info().io_backend, std::string("io_uring"))
        << "this kernel refuses io_uring: the ring read path is not tested";
    ExpectBodies(e.get(), bodies);
    ASSERT_TRUE(e->Close().ok());
  }
  // Every drive has every segment (created in parallel, each durable).
  const size_t segs = SegmentFiles(dir + "/drive-0");
  EXPECT_GE(segs, 3u);
  for (int d = 1; d < 6; d++) {
    EXPECT_EQ(SegmentFiles(dir + "/drive-" + std::to_string(d)), segs);
  }
  {
    std::unique_ptr<Engine> e;
    ASSERT_TRUE(Engine::Open(Opts(dir, parallel), &e).ok());
    ExpectBodies(e.get(), bodies);
    ASSERT_TRUE(e->Close().ok());
  }
  RemoveTree(dir);
}

TEST(LargeIo, ParallelSegmentCreationReadsBackAfterReopen) {
  PutAndReadBack(true);
}

TEST(LargeIo, SerialSegmentCreationReadsBackAfterReopen) {
  PutAndReadBack(false);
}

TEST(LargeIo, GetIntoChecksItsTarget) {
  const std::string dir = TempDir();
  std::unique_ptr<Engine> e;
  ASSERT_TRUE(Engine::Open(Opts(dir, true), &e).ok());
  WriteRequest b = test_util::BucketCreateRequest("bkt");
  ASSERT_TRUE(RunWrite(e.get(), b).ok());
  const std::string body = Bytes(3, 100000);
  WriteRequest r = test_util::PutRequest("bkt", "k", body);
  ASSERT_TRUE(RunWrite(e.get(), r).ok());
  std::string out(1000, '\0');
  uint64_t n = 7;
  Status s = e->GetInto("bkt", "k", "", 0, 1001,
                        reinterpret_cast<uint8_t*>(&out[0]), 1000, &n);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(n, 0u);
  s = e->GetInto("bkt", "missing", "", 0, 10,
                 reinterpret_cast<uint8_t*>(&out[0]), 1000, &n);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  // A range past the end is clipped to the body, as Get clips it.
  s = e->GetInto("bkt", "k", "", body.size() - 10, 1000,
                 reinterpret_cast<uint8_t*>(&out[0]), 1000, &n);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(n, 10u);
  EXPECT_EQ(out.substr(0, 10), body.substr(body.size() - 10));
  ASSERT_TRUE(e->Close().ok());
  e.reset();
  RemoveTree(dir);
}

// A damaged data chunk on one drive: the ring read sees its CRC fail and
// the batch is rebuilt from parity; the bytes served are the bytes put.
TEST(LargeIo, RingReadRebuildsADamagedChunk) {
  const std::string dir = TempDir();
  const std::string body = Bytes(11, 2u << 20);
  {
    std::unique_ptr<Engine> e;
    ASSERT_TRUE(Engine::Open(Opts(dir, true), &e).ok());
    WriteRequest b = test_util::BucketCreateRequest("bkt");
    ASSERT_TRUE(RunWrite(e.get(), b).ok());
    WriteRequest r = test_util::PutRequest("bkt", "k0", body);
    ASSERT_TRUE(RunWrite(e.get(), r).ok());
    ASSERT_TRUE(e->Close().ok());
  }
  // Flip a byte in the middle of drive 1's newest segment's data.
  std::string seg;
  for (const auto& f :
       std::filesystem::directory_iterator(dir + "/drive-1/segments")) {
    if (f.path().extension() == ".dat" && f.path().string() > seg) {
      seg = f.path().string();
    }
  }
  ASSERT_FALSE(seg.empty());
  const int fd = open(seg.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 0;
  const off_t at = 64 * 4096 + 100;  // stripe 63's chunk, inside the body
  ASSERT_EQ(pread(fd, &c, 1, at), 1);
  c = char(c ^ 0x40);
  ASSERT_EQ(pwrite(fd, &c, 1, at), 1);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  {
    std::unique_ptr<Engine> e;
    ASSERT_TRUE(Engine::Open(Opts(dir, true), &e).ok());
    std::string out(body.size(), '\0');
    uint64_t n = 0;
    Status s = e->GetInto("bkt", "k0", "", 0, body.size(),
                          reinterpret_cast<uint8_t*>(&out[0]), out.size(), &n);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(n, body.size());
    EXPECT_TRUE(out == body) << "the rebuilt body differs";
    EXPECT_GE(e->stats().chunks_bad, 1u);
    ASSERT_TRUE(e->Close().ok());
  }
  RemoveTree(dir);
}

}  // namespace
}  // namespace engine
}  // namespace tessera
