#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "checksum/crc.h"
#include "index/index.h"
#include "index/test_util.h"

namespace tessera {
namespace index {
namespace {

using testing_util::MetaFor;
using testing_util::SameMeta;

std::string TempPath(const char* name) {
  return ::testing::TempDir() + "tessera_index_" + std::to_string(::getpid()) +
         "_" + name;
}

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void Fill(Index* idx, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string key =
        "dir" + std::to_string(i % 7) + "/obj" + std::to_string(i);
    ASSERT_TRUE(
        idx->Put("bucket-a", key, MetaFor(3 * i + 1), PutMode::kNewVersion)
            .ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(idx->Put("bucket-a", key,
                           MetaFor(3 * i + 2, 0, kFlagDeleteMarker),
                           PutMode::kNewVersion)
                      .ok());
    }
    if (i % 5 == 0) {
      ASSERT_TRUE(idx->Put("bucket-b", key, MetaFor(3 * i + 3, 0, kFlagUser2),
                           PutMode::kReplaceCurrent)
                      .ok());
    }
  }
}

void ExpectSameContents(const Index& a, const Index& b) {
  for (const char* bucket : {"bucket-a", "bucket-b"}) {
    ListVersionsRequest req;
    req.bucket = bucket;
    req.max_keys = kListKeysMax;
    ListVersionsPage pa, pb;
    ASSERT_TRUE(a.ListVersions(req, &pa).ok());
    ASSERT_TRUE(b.ListVersions(req, &pb).ok());
    ASSERT_EQ(pa.entries.size(), pb.entries.size());
    for (size_t i = 0; i < pa.entries.size(); ++i) {
      EXPECT_EQ(pa.entries[i].key, pb.entries[i].key);
      EXPECT_TRUE(SameMeta(pa.entries[i].meta, pb.entries[i].meta));
      EXPECT_EQ(pa.entries[i].is_latest, pb.entries[i].is_latest);
    }
  }
  EXPECT_EQ(a.key_count(), b.key_count());
}

TEST(Snapshot, RoundTripsEveryVersionAndLeavesNoTempFile) {
  Index idx;
  Fill(&idx, 3000);
  const std::string path = TempPath("roundtrip");
  ASSERT_TRUE(idx.SaveSnapshot(path).ok());
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
  std::unique_ptr<Index> loaded;
  const Status s = Index::LoadSnapshot(path, &loaded);
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectSameContents(idx, *loaded);
  // The loaded index accepts writes and lookups as usual.
  ObjectMeta m;
  ASSERT_TRUE(loaded->Get("bucket-a", "dir1/obj1", &m));
  EXPECT_EQ(m.version_id, 4u);
  ASSERT_TRUE(
      loaded->Put("bucket-a", "dir1/obj1", MetaFor(99999), PutMode::kNewVersion)
          .ok());
  ASSERT_TRUE(loaded->GetVersion("bucket-a", "dir1/obj1", 4, &m));
  std::remove(path.c_str());
}

TEST(Snapshot, EmptyIndexRoundTrips) {
  Index idx;
  const std::string path = TempPath("empty");
  ASSERT_TRUE(idx.SaveSnapshot(path).ok());
  EXPECT_EQ(ReadFile(path).size(), 64u);
  std::unique_ptr<Index> loaded;
  ASSERT_TRUE(Index::LoadSnapshot(path, &loaded).ok());
  EXPECT_EQ(loaded->key_count(), 0u);
  std::remove(path.c_str());
}

TEST(Snapshot, EveryTruncationIsDetected) {
  Index idx;
  Fill(&idx, 12);
  const std::string path = TempPath("trunc");
  ASSERT_TRUE(idx.SaveSnapshot(path).ok());
  const std::string good = ReadFile(path);
  for (size_t n = 0; n < good.size(); ++n) {
    WriteFile(path, good.substr(0, n));
    std::unique_ptr<Index> loaded;
    const Status s = Index::LoadSnapshot(path, &loaded);
    ASSERT_EQ(s.code(), StatusCode::kCorrupt) << "length " << n;
    ASSERT_EQ(loaded, nullptr);
  }
  std::remove(path.c_str());
}

TEST(Snapshot, EveryByteFlipIsDetected) {
  Index idx;
  Fill(&idx, 10);
  const std::string path = TempPath("flip");
  ASSERT_TRUE(idx.SaveSnapshot(path).ok());
  const std::string good = ReadFile(path);
  const uint64_t seed =
      testing_util::TestSeed("Snapshot.EveryByteFlipIsDetected");
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ (1 + rng() % 255));
    WriteFile(path, bad);
    std::unique_ptr<Index> loaded;
    const Status s = Index::LoadSnapshot(path, &loaded);
    // A flip in the version field reads as an unsupported version only if
    // the header checksum still matched, which it cannot.
    ASSERT_EQ(s.code(), StatusCode::kCorrupt) << "byte " << i;
    ASSERT_EQ(loaded, nullptr);
  }
  std::remove(path.c_str());
}

TEST(Snapshot, NewerFormatVersionIsUnsupportedNotCorrupt) {
  Index idx;
  Fill(&idx, 5);
  const std::string path = TempPath("version");
  ASSERT_TRUE(idx.SaveSnapshot(path).ok());
  std::string bytes = ReadFile(path);
  const uint32_t v2 = 2;
  std::memcpy(&bytes[8], &v2, 4);
  const uint32_t crc = crc32c::Extend(0, bytes.data(), 60);
  std::memcpy(&bytes[60], &crc, 4);
  WriteFile(path, bytes);
  std::unique_ptr<Index> loaded;
  const Status s = Index::LoadSnapshot(path, &loaded);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("format version 2 is not supported (expected 1)"),
            std::string::npos);
  std::remove(path.c_str());
}

TEST(Snapshot, OutOfOrderKeysWithAValidChecksumAreCorrupt) {
  // A structurally wrong body with a correct CRC (a writer bug, not bitrot)
  // must still be refused: swap two keys of equal length and re-checksum.
  Index idx;
  ASSERT_TRUE(idx.Put("bkt", "a", MetaFor(1), PutMode::kReplaceCurrent).ok());
  ASSERT_TRUE(idx.Put("bkt", "b", MetaFor(2), PutMode::kReplaceCurrent).ok());
  const std::string path = TempPath("order");
  ASSERT_TRUE(idx.SaveSnapshot(path).ok());
  std::string bytes = ReadFile(path);
  // Body: u16 len=5, "\x03bkta", u32 1, 52-byte entry; then the second key.
  const size_t first = 64 + 2 + 4, second = 64 + 2 + 5 + 4 + 52 + 2 + 4;
  ASSERT_EQ(bytes[first], 'a');
  ASSERT_EQ(bytes[second], 'b');
  std::swap(bytes[first], bytes[second]);
  uint64_t body_bytes;
  std::memcpy(&body_bytes, &bytes[32], 8);
  const uint32_t body_crc = crc32c::Extend(0, bytes.data() + 64, body_bytes);
  std::memcpy(&bytes[48], &body_crc, 4);
  const uint32_t crc = crc32c::Extend(0, bytes.data(), 60);
  std::memcpy(&bytes[60], &crc, 4);
  WriteFile(path, bytes);
  std::unique_ptr<Index> loaded;
  const Status s = Index::LoadSnapshot(path, &loaded);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("keys out of order"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace index
}  // namespace tessera
