// Segment preparation (docs/engine.md, "Segment preparation"): a segment
// that a roll by a small commit group creates is zero-filled (so later
// small commits overwrite written extents and their fdatasync only flushes
// data); a roll by a large group (1 MiB or more of data, a stream of big
// stripes) skips the zero-fill, which would double the bytes such a stream
// writes. Counted through FaultFs's pwrite counter over the real file
// system; every body reads back either way.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/test_util.h"
#include "io/fault_fs.h"

namespace tessera {
namespace engine {
namespace {

using Kind = WriteRequest::Kind;

using test_util::RemoveTree;
using test_util::Run;
std::string TempDir() { return test_util::TempDir("segprep"); }
std::string Bytes(uint64_t seed, size_t n) {
  return test_util::RandomBytes(seed, n);
}

// 512 stripes of 4 KiB chunks on 4+2: segment files of 2 MiB + 4 KiB (three
// 1 MiB zero writes each), about 7.9 MiB of data per segment, commit groups
// of at most half of that.
constexpr uint32_t kZeroWritesPerDrive = 3;
constexpr uint32_t kDrives = 6;

EngineOptions Opts(const std::string& path, io::Fs* fs, bool zero_segments,
                   bool zero_large_rolls) {
  EngineOptions o;
  o.path = path;
  o.data_shards = 4;
  o.parity_shards = 2;
  o.segment_stripes = 512;
  o.fs = fs;
  o.now_ms = 1700000000000;
  o.zero_segments = zero_segments;
  o.zero_large_rolls = zero_large_rolls;
  return o;
}

// Puts `sizes` one at a time (one commit group each) into a fresh store,
// reads every body back, and returns the pwrites issued after the open.
uint64_t PwritesFor(const std::vector<size_t>& sizes, bool zero_segments,
                    bool zero_large_rolls) {
  const std::string dir = TempDir();
  io::FaultFs fs(io::DefaultFs());
  std::unique_ptr<Engine> e;
  EXPECT_TRUE(
      Engine::Open(Opts(dir, &fs, zero_segments, zero_large_rolls), &e).ok());
  if (e == nullptr) return 0;
  WriteRequest b = test_util::BucketCreateRequest("bkt");
  EXPECT_TRUE(Run(e.get(), b).ok());
  const uint64_t before = fs.calls(io::FaultOp::kPwrite);
  std::vector<std::string> bodies;
  for (size_t i = 0; i < sizes.size(); i++) {
    bodies.push_back(Bytes(i + 1, sizes[i]));
    WriteRequest r =
        test_util::PutRequest("bkt", "k" + std::to_string(i), bodies.back());
    Status s = Run(e.get(), r);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  const uint64_t pwrites = fs.calls(io::FaultOp::kPwrite) - before;
  size_t segments = 0;  // the sequence rolled to a second segment
  for (const auto& f :
       std::filesystem::directory_iterator(dir + "/drive-0/segments")) {
    segments += f.path().extension() == ".dat" ? 1 : 0;
  }
  EXPECT_EQ(segments, 2u);
  for (size_t i = 0; i < sizes.size(); i++) {
    ObjectInfo info;
    std::string got;
    Status s =
        e->Get("bkt", "k" + std::to_string(i), "", 0, UINT64_MAX, &info, &got);
    EXPECT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE(got == bodies[i]) << "body " << i << " differs";
  }
  EXPECT_TRUE(e->Close().ok());
  e.reset();
  RemoveTree(dir);
  return pwrites;
}

TEST(SegmentPrep, ARollByALargeGroupSkipsTheZeroFill) {
  // 3 MiB, 3 MiB, then a 3 MiB group that does not fit: it rolls.
  const std::vector<size_t> sizes = {3u << 20, 3u << 20, 3u << 20};
  const uint64_t by_default = PwritesFor(sizes, true, false);
  const uint64_t always = PwritesFor(sizes, true, true);
  const uint64_t never = PwritesFor(sizes, false, false);
  EXPECT_EQ(always - by_default, uint64_t(kZeroWritesPerDrive) * kDrives);
  EXPECT_EQ(by_default, never);
}

TEST(SegmentPrep, ARollBySmallGroupsStillZeroFills) {
  // 3 MiB, 3 MiB, then 512 KiB groups until one does not fit.
  std::vector<size_t> sizes = {3u << 20, 3u << 20};
  for (int i = 0; i < 6; i++) sizes.push_back(512u << 10);
  const uint64_t by_default = PwritesFor(sizes, true, false);
  const uint64_t always = PwritesFor(sizes, true, true);
  const uint64_t never = PwritesFor(sizes, false, false);
  EXPECT_EQ(by_default, always);
  EXPECT_EQ(by_default - never, uint64_t(kZeroWritesPerDrive) * kDrives);
}

}  // namespace
}  // namespace engine
}  // namespace tessera
