// The read cache inside the engine: hits and misses are counted, the bound
// holds, and no overwrite, delete or race makes a stale or mismatched byte
// reachable (through Get or the memory-only GetCached).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "checksum/crc.h"
#include "engine/engine.h"

namespace tessera {
namespace engine {
namespace {

using Kind = WriteRequest::Kind;

class CacheEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/tessera-cache-" + std::string(6, 'X');
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    const char* env = getenv("TESSERA_SEED");
    seed_ = env ? strtoull(env, nullptr, 10) : std::random_device{}();
    printf("seed %llu (replay: TESSERA_SEED=%llu)\n", (unsigned long long)seed_,
           (unsigned long long)seed_);
  }
  void TearDown() override {
    if (e_) {
      EXPECT_TRUE(e_->Close().ok());
    }
    const std::string cmd = "rm -rf '" + dir_ + "'";
    EXPECT_EQ(system(cmd.c_str()), 0);
  }
  void Open(uint64_t cache_bytes) {
    EngineOptions o;
    o.path = dir_;
    o.data_shards = 4;
    o.parity_shards = 2;
    o.segment_stripes = 64;
    o.group_bytes_max = 256 << 10;
    o.zero_segments = false;
    o.cache_bytes = cache_bytes;
    ASSERT_TRUE(Engine::Open(o, &e_).ok());
  }
  Status Write(WriteRequest r, WriteResult* result = nullptr) {
    std::promise<std::pair<Status, WriteResult>> p;
    auto f = p.get_future();
    Status s = e_->Submit(std::move(r),
                          [&p](const Status& st, const WriteResult& res) {
                            p.set_value({st, res});
                          });
    if (!s.ok()) return s;
    auto out = f.get();
    if (result) *result = out.second;
    return out.first;
  }
  Status CreateBucket(const std::string& name, log::Versioning v) {
    WriteRequest r;
    r.kind = Kind::kBucketCreate;
    r.bucket = name;
    r.versioning = v;
    return Write(r);
  }
  // A put whose ETag's first 4 bytes are the body's CRC32C, so a reader can
  // check that info and body belong together.
  Status Put(const std::string& key, const std::string& body,
             WriteResult* result = nullptr) {
    WriteRequest r;
    r.kind = Kind::kPut;
    r.bucket = "bkt";
    r.key = key;
    r.body = reinterpret_cast<const uint8_t*>(body.data());
    r.body_bytes = body.size();
    const uint32_t crc = crc32c::Extend(0, body.data(), body.size());
    memcpy(r.etag, &crc, 4);
    return Write(r, result);
  }
  Status Delete(const std::string& key, const std::string& version = "") {
    WriteRequest r;
    r.kind = Kind::kDelete;
    r.bucket = "bkt";
    r.key = key;
    r.version_id = version;
    return Write(r);
  }
  Status Get(const std::string& key, std::string* body,
             const std::string& version = "", ObjectInfo* info = nullptr) {
    ObjectInfo local;
    return e_->Get("bkt", key, version, 0, UINT64_MAX, info ? info : &local,
                   body);
  }
  // The memory-only path: the body, or "" with false on a miss.
  bool Cached(const std::string& key, std::string* body,
              const std::string& version = "", ObjectInfo* info = nullptr) {
    ObjectInfo local;
    std::shared_ptr<const CachedRecord> rec;
    if (!e_->GetCached("bkt", key, version, info ? info : &local, &rec)) {
      return false;
    }
    body->assign(rec->bytes, rec->header_bytes, std::string::npos);
    return true;
  }
  static bool Consistent(const ObjectInfo& info, const std::string& body) {
    const uint32_t crc = crc32c::Extend(0, body.data(), body.size());
    return memcmp(info.etag, &crc, 4) == 0 && info.size == body.size();
  }

  std::string dir_;
  uint64_t seed_ = 0;
  std::unique_ptr<Engine> e_;
};

std::string Body(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

TEST_F(CacheEngineTest, HitsAfterTheFirstReadAndOverwriteDeleteAreSeen) {
  Open(8 << 20);
  ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kUnversioned).ok());
  const std::string a = Body(1, 4096), b = Body(2, 4000);
  ASSERT_TRUE(Put("k", a).ok());
  std::string got;
  EXPECT_FALSE(Cached("k", &got));  // never read yet
  ASSERT_TRUE(Get("k", &got).ok());
  EXPECT_EQ(got, a);
  const EngineStats s1 = e_->stats();
  EXPECT_GE(s1.cache_misses, 1u);
  ASSERT_TRUE(Get("k", &got).ok());
  EXPECT_EQ(got, a);
  EXPECT_GT(e_->stats().cache_hits, s1.cache_hits);
  EXPECT_EQ(e_->stats().chunks_read, s1.chunks_read);  // no disk read
  ASSERT_TRUE(Cached("k", &got));
  EXPECT_EQ(got, a);
  EXPECT_GT(e_->stats().cache_bytes, 4096u);

  // Overwrite: the new version is read, from disk first, never the old.
  ASSERT_TRUE(Put("k", b).ok());
  EXPECT_FALSE(Cached("k", &got));
  ASSERT_TRUE(Get("k", &got).ok());
  EXPECT_EQ(got, b);
  ASSERT_TRUE(Cached("k", &got));
  EXPECT_EQ(got, b);

  // Delete: neither path answers.
  ASSERT_TRUE(Delete("k").ok());
  EXPECT_FALSE(Cached("k", &got));
  EXPECT_EQ(Get("k", &got).code(), StatusCode::kNotFound);

  // Re-created with the first bytes: a new version, read right.
  ASSERT_TRUE(Put("k", a).ok());
  ASSERT_TRUE(Get("k", &got).ok());
  EXPECT_EQ(got, a);
}

TEST_F(CacheEngineTest, VersionsAndDeleteMarkers) {
  Open(8 << 20);
  ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kEnabled).ok());
  const std::string a = Body(3, 100), b = Body(4, 200);
  WriteResult ra, rb;
  ASSERT_TRUE(Put("k", a, &ra).ok());
  ASSERT_TRUE(Put("k", b, &rb).ok());
  std::string got;
  ObjectInfo info;
  ASSERT_TRUE(Get("k", &got, ra.version_id).ok());
  ASSERT_TRUE(Get("k", &got, rb.version_id).ok());
  ASSERT_TRUE(Cached("k", &got, ra.version_id, &info));
  EXPECT_EQ(got, a);
  EXPECT_FALSE(info.is_latest);
  ASSERT_TRUE(Cached("k", &got, "", &info));
  EXPECT_EQ(got, b);
  EXPECT_TRUE(info.is_latest);
  EXPECT_EQ(info.version_id, rb.version_id);
  // A delete marker hides the current version on both paths.
  ASSERT_TRUE(Delete("k").ok());
  EXPECT_FALSE(Cached("k", &got));
  EXPECT_EQ(Get("k", &got).code(), StatusCode::kNotFound);
  // Deleting a version for good: its cached record is unreachable.
  ASSERT_TRUE(Delete("k", ra.version_id).ok());
  EXPECT_FALSE(Cached("k", &got, ra.version_id));
  EXPECT_EQ(Get("k", &got, ra.version_id).code(), StatusCode::kNotFound);
  ASSERT_TRUE(Cached("k", &got, rb.version_id));
  EXPECT_EQ(got, b);
}

TEST_F(CacheEngineTest, RandomOperationsAgainstAModelWithATinyCache) {
  // 48 KiB of cache for 24 keys of up to 8 KiB: constant eviction and
  // admission decisions while keys are overwritten and deleted.
  Open(48 << 10);
  ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kUnversioned).ok());
  std::mt19937_64 rng(seed_);
  std::map<std::string, std::string> model;
  for (int op = 0; op < 1500; op++) {
    const std::string key = "key" + std::to_string(rng() % 24);
    const unsigned what = rng() % 10;
    std::string got;
    if (what < 3) {
      const std::string body = Body(rng(), 1 + rng() % 8192);
      ASSERT_TRUE(Put(key, body).ok());
      model[key] = body;
    } else if (what < 4) {
      Status s = Delete(key);
      ASSERT_TRUE(s.ok() || s.code() == StatusCode::kNotFound);
      model.erase(key);
    } else {
      Status s = Get(key, &got);
      auto m = model.find(key);
      if (m == model.end()) {
        ASSERT_EQ(s.code(), StatusCode::kNotFound) << op;
      } else {
        ASSERT_TRUE(s.ok()) << s.message();
        ASSERT_EQ(got, m->second) << "op " << op;
      }
      if (Cached(key, &got)) {
        ASSERT_NE(m, model.end()) << "a deleted key was served, op " << op;
        ASSERT_EQ(got, m->second) << "stale cached bytes, op " << op;
      }
    }
    ASSERT_LE(e_->stats().cache_bytes, 48u << 10);
  }
  const EngineStats s = e_->stats();
  EXPECT_GT(s.cache_hits, 0u);
  EXPECT_GT(s.cache_misses, 0u);
}

TEST_F(CacheEngineTest, ReadersRacingOverwritesSeeMatchingInfoAndBody) {
  Open(1 << 20);
  ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kUnversioned).ok());
  for (int k = 0; k < 8; k++) {
    ASSERT_TRUE(Put("k" + std::to_string(k), Body(k, 512)).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> checked{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; t++) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(seed_ + t);
      while (!stop.load()) {
        const std::string key = "k" + std::to_string(rng() % 8);
        std::string body;
        ObjectInfo info;
        if (rng() % 2 == 0) {
          if (!Get(key, &body, "", &info).ok()) continue;
        } else if (!Cached(key, &body, "", &info)) {
          continue;
        }
        if (!Consistent(info, body)) bad++;
        checked++;
      }
    });
  }
  std::mt19937_64 rng(seed_);
  for (int i = 0; i < 400; i++) {
    ASSERT_TRUE(
        Put("k" + std::to_string(rng() % 8), Body(rng(), 1 + rng() % 3000))
            .ok());
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(checked.load(), 0u);
}

TEST_F(CacheEngineTest, ZeroDisablesAndLargeObjectsBypass) {
  Open(0);
  ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kUnversioned).ok());
  const std::string a = Body(5, 4096);
  ASSERT_TRUE(Put("k", a).ok());
  std::string got;
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(Get("k", &got).ok());
    EXPECT_EQ(got, a);
  }
  EXPECT_FALSE(Cached("k", &got));
  const EngineStats s = e_->stats();
  EXPECT_EQ(s.cache_hits, 0u);
  EXPECT_EQ(s.cache_bytes, 0u);
}

TEST_F(CacheEngineTest, ObjectsOverTheSizeLimitAreNotCached) {
  Open(8 << 20);
  ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kUnversioned).ok());
  const std::string big = Body(6, (64 << 10) + 1);
  ASSERT_TRUE(Put("big", big).ok());
  std::string got;
  for (int i = 0; i < 3; i++) {
    ASSERT_TRUE(Get("big", &got).ok());
    EXPECT_EQ(got, big);
  }
  EXPECT_FALSE(Cached("big", &got));
  EXPECT_EQ(e_->stats().cache_hits, 0u);
}

TEST_F(CacheEngineTest, ParallelReadsRightAfterAReopenOpenEachSegmentOnce) {
  // After a reopen, segments are opened lazily by the first read that
  // needs one; readers racing to open the same segment must share it (a
  // replaced Segment was once freed under the other reader).
  std::vector<std::string> bodies;
  for (int round = 0; round < 12; round++) {
    Open(0);
    if (round == 0) {
      ASSERT_TRUE(CreateBucket("bkt", log::Versioning::kUnversioned).ok());
      for (int k = 0; k < 16; k++) {
        bodies.push_back(Body(100 + k, 200000));
        ASSERT_TRUE(Put("k" + std::to_string(k), bodies.back()).ok());
      }
    }
    std::atomic<int> wrong{0}, ready{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 8; t++) {
      readers.emplace_back([&] {
        ready++;
        while (ready.load() < 8) {
        }
        for (int k = 0; k < 16; k++) {
          const int key = k;  // all threads hit the same segment together
          std::string got;
          if (!Get("k" + std::to_string(key), &got).ok() ||
              got != bodies[key]) {
            wrong++;
          }
        }
      });
    }
    for (auto& r : readers) r.join();
    EXPECT_EQ(wrong.load(), 0) << "round " << round;
    ASSERT_TRUE(e_->Close().ok());
    e_.reset();
  }
}

}  // namespace
}  // namespace engine
}  // namespace tessera
