#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/hash_table.h"
#include "index/index.h"
#include "index/record_arena.h"
#include "index/test_util.h"

namespace tessera {
namespace index {
namespace {

using testing_util::MetaFor;
using testing_util::SameMeta;

std::vector<std::string> Keys(const ListPage& p) {
  std::vector<std::string> out;
  for (const auto& e : p.entries) out.push_back(e.key);
  return out;
}

TEST(Index, PutGetOverwriteRemove) {
  Index idx;
  ObjectMeta m;
  EXPECT_FALSE(idx.Get("bkt", "a", &m));
  ASSERT_TRUE(idx.Put("bkt", "a", MetaFor(1), PutMode::kReplaceCurrent).ok());
  ASSERT_TRUE(idx.Get("bkt", "a", &m));
  EXPECT_TRUE(SameMeta(m, MetaFor(1)));
  EXPECT_FALSE(idx.Get("bk2", "a", &m));  // other bucket
  ASSERT_TRUE(idx.Put("bkt", "a", MetaFor(2), PutMode::kReplaceCurrent).ok());
  ASSERT_TRUE(idx.Get("bkt", "a", &m));
  EXPECT_TRUE(SameMeta(m, MetaFor(2)));
  EXPECT_FALSE(idx.GetVersion("bkt", "a", 1, &m));  // replaced, not kept
  EXPECT_EQ(idx.key_count(), 1u);
  ASSERT_TRUE(idx.Remove("bkt", "a").ok());
  EXPECT_FALSE(idx.Get("bkt", "a", &m));
  EXPECT_EQ(idx.Remove("bkt", "a").code(), StatusCode::kNotFound);
  EXPECT_EQ(idx.key_count(), 0u);
}

TEST(Index, RejectsBadNamesAndFieldsWithExactMessages) {
  Index idx;
  Status s = idx.Put("ab", "k", MetaFor(1), PutMode::kReplaceCurrent);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "bucket name must be 3..63 bytes, got 2");
  s = idx.Put("abc", std::string(1025, 'k'), MetaFor(1),
              PutMode::kReplaceCurrent);
  EXPECT_EQ(s.message(), "object key must be at most 1024 bytes, got 1025");
  EXPECT_TRUE(idx.Put(std::string(63, 'b'), std::string(1024, 'k'), MetaFor(1),
                      PutMode::kReplaceCurrent)
                  .ok());
  ObjectMeta m = MetaFor(2);
  m.size = kObjectSizeMax + 1;
  s = idx.Put("abc", "k", m, PutMode::kReplaceCurrent);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(s.message(), "size and mtime_ms must be < 2^48");
  m = MetaFor(2);
  m.segment = kSegmentMax + 1;
  EXPECT_EQ(idx.Put("abc", "k", m, PutMode::kReplaceCurrent).code(),
            StatusCode::kOutOfRange);
  m = MetaFor(2);
  m.flags = 0x08;
  EXPECT_EQ(idx.Put("abc", "k", m, PutMode::kReplaceCurrent).code(),
            StatusCode::kInvalidArgument);
  ListPage page;
  ListRequest req;
  req.bucket = "abc";
  req.max_keys = 0;
  s = idx.List(req, &page);
  EXPECT_EQ(s.message(), "max_keys must be in 1..10000, got 0");
}

TEST(Index, VersionsNewestFirstAndDeleteVersion) {
  Index idx;
  for (uint64_t v = 1; v <= 4; ++v) {
    ASSERT_TRUE(idx.Put("bkt", "k", MetaFor(v), PutMode::kNewVersion).ok());
  }
  ObjectMeta m;
  ASSERT_TRUE(idx.Get("bkt", "k", &m));
  EXPECT_EQ(m.version_id, 4u);
  for (uint64_t v = 1; v <= 4; ++v) {
    ASSERT_TRUE(idx.GetVersion("bkt", "k", v, &m));
    EXPECT_TRUE(SameMeta(m, MetaFor(v)));
  }
  // Delete marker on top: Get returns it; the older versions stay.
  ASSERT_TRUE(idx.Put("bkt", "k", MetaFor(5, 0, kFlagDeleteMarker),
                      PutMode::kNewVersion)
                  .ok());
  ASSERT_TRUE(idx.Get("bkt", "k", &m));
  EXPECT_EQ(m.flags, kFlagDeleteMarker);
  // Middle, head (promotes 4), last.
  ASSERT_TRUE(idx.DeleteVersion("bkt", "k", 2).ok());
  EXPECT_FALSE(idx.GetVersion("bkt", "k", 2, &m));
  ASSERT_TRUE(idx.DeleteVersion("bkt", "k", 5).ok());
  ASSERT_TRUE(idx.Get("bkt", "k", &m));
  EXPECT_TRUE(SameMeta(m, MetaFor(4)));
  ASSERT_TRUE(idx.DeleteVersion("bkt", "k", 1).ok());
  EXPECT_EQ(idx.DeleteVersion("bkt", "k", 1).code(), StatusCode::kNotFound);
  ListVersionsRequest vr;
  vr.bucket = "bkt";
  ListVersionsPage vp;
  ASSERT_TRUE(idx.ListVersions(vr, &vp).ok());
  ASSERT_EQ(vp.entries.size(), 2u);
  EXPECT_EQ(vp.entries[0].meta.version_id, 4u);
  EXPECT_TRUE(vp.entries[0].is_latest);
  EXPECT_EQ(vp.entries[1].meta.version_id, 3u);
  EXPECT_FALSE(vp.entries[1].is_latest);
  ASSERT_TRUE(idx.DeleteVersion("bkt", "k", 4).ok());
  ASSERT_TRUE(idx.DeleteVersion("bkt", "k", 3).ok());
  EXPECT_FALSE(idx.Get("bkt", "k", &m));
  EXPECT_EQ(idx.key_count(), 0u);
  // Replace-current keeps older versions.
  ASSERT_TRUE(idx.Put("bkt", "r", MetaFor(10), PutMode::kNewVersion).ok());
  ASSERT_TRUE(idx.Put("bkt", "r", MetaFor(11), PutMode::kNewVersion).ok());
  ASSERT_TRUE(idx.Put("bkt", "r", MetaFor(12), PutMode::kReplaceCurrent).ok());
  EXPECT_TRUE(idx.GetVersion("bkt", "r", 10, &m));
  EXPECT_FALSE(idx.GetVersion("bkt", "r", 11, &m));
  EXPECT_TRUE(idx.GetVersion("bkt", "r", 12, &m));
}

// Relocate (space reclamation) moves one version, current or older, only
// while it still lives where the caller saw it; every other field stays.
TEST(Index, RelocateIsACompareAndSwapOnTheLocation) {
  Index idx;
  for (uint64_t v = 1; v <= 3; v++) {
    ASSERT_TRUE(idx.Put("bkt", "k", MetaFor(v), PutMode::kNewVersion).ok());
  }
  for (uint64_t v : {2u, 3u, 1u}) {  // an older, the current, the oldest
    const ObjectMeta was = MetaFor(v);
    ASSERT_TRUE(
        idx.Relocate("bkt", "k", v, was.segment, was.offset, 7, 1000 + v).ok());
    ObjectMeta m;
    ASSERT_TRUE(idx.GetVersion("bkt", "k", v, &m));
    EXPECT_EQ(m.segment, 7u);
    EXPECT_EQ(m.offset, 1000 + v);
    ObjectMeta want = was;
    want.segment = 7;
    want.offset = 1000 + v;
    EXPECT_TRUE(SameMeta(m, want));
    // The old location no longer matches: nothing changes.
    EXPECT_EQ(idx.Relocate("bkt", "k", v, was.segment, was.offset, 9, 1).code(),
              StatusCode::kPreconditionFailed);
  }
  ObjectMeta cur;
  ASSERT_TRUE(idx.Get("bkt", "k", &cur));
  EXPECT_EQ(cur.version_id, 3u);
  EXPECT_EQ(cur.offset, 1003u);
  EXPECT_EQ(idx.key_count(), 1u);
  EXPECT_EQ(idx.Relocate("bkt", "k", 4, 7, 1004, 8, 1).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(idx.Relocate("bkt", "nope", 1, 7, 1001, 8, 1).code(),
            StatusCode::kNotFound);
  ListVersionsRequest req;
  req.bucket = "bkt";
  ListVersionsPage page;
  ASSERT_TRUE(idx.ListVersions(req, &page).ok());
  ASSERT_EQ(page.entries.size(), 3u);
  for (const auto& e : page.entries) {
    EXPECT_EQ(e.meta.offset, 1000 + e.meta.version_id);
  }
}

TEST(Index, ConditionalPuts) {
  Index idx;
  const Condition absent = Condition::IfAbsent();
  ASSERT_TRUE(
      idx.Put("bkt", "k", MetaFor(1), PutMode::kNewVersion, absent).ok());
  Status s = idx.Put("bkt", "k", MetaFor(2), PutMode::kNewVersion, absent);
  EXPECT_EQ(s.code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(s.message(), "object already exists");
  const ObjectMeta m1 = MetaFor(1);
  ObjectMeta wrong = MetaFor(7);
  s = idx.Put("bkt", "k", MetaFor(2), PutMode::kNewVersion,
              Condition::IfEtagMatches(wrong.etag, wrong.part_count));
  EXPECT_EQ(s.message(), "ETag does not match");
  // Same MD5 but a different part count is a different ETag.
  s = idx.Put("bkt", "k", MetaFor(2), PutMode::kNewVersion,
              Condition::IfEtagMatches(m1.etag, m1.part_count + 1));
  EXPECT_EQ(s.code(), StatusCode::kPreconditionFailed);
  ASSERT_TRUE(idx.Put("bkt", "k", MetaFor(2), PutMode::kNewVersion,
                      Condition::IfEtagMatches(m1.etag, m1.part_count))
                  .ok());
  EXPECT_EQ(idx.Put("bkt", "k", MetaFor(3), PutMode::kNewVersion,
                    Condition::IfVersionMatches(1))
                .message(),
            "current version does not match");
  ASSERT_TRUE(idx.Put("bkt", "k", MetaFor(3), PutMode::kNewVersion,
                      Condition::IfVersionMatches(2))
                  .ok());
  // A delete marker counts as absent for if-absent, and never matches an ETag.
  ASSERT_TRUE(idx.Put("bkt", "k", MetaFor(4, 0, kFlagDeleteMarker),
                      PutMode::kNewVersion)
                  .ok());
  const ObjectMeta m4 = MetaFor(4);
  EXPECT_EQ(idx.Put("bkt", "k", MetaFor(5), PutMode::kNewVersion,
                    Condition::IfEtagMatches(m4.etag, m4.part_count))
                .code(),
            StatusCode::kPreconditionFailed);
  ASSERT_TRUE(
      idx.Put("bkt", "k", MetaFor(5), PutMode::kNewVersion, absent).ok());
  EXPECT_EQ(idx.Remove("bkt", "k", Condition::IfVersionMatches(4)).code(),
            StatusCode::kPreconditionFailed);
  EXPECT_TRUE(idx.Remove("bkt", "k", Condition::IfVersionMatches(5)).ok());
}

class ListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uint64_t v = 1;
    for (const char* k :
         {"a", "a/1", "a/2", "a/b/1", "b", "b/1", "c/x/y", "d"}) {
      ASSERT_TRUE(idx.Put("bkt", k, MetaFor(v++), PutMode::kNewVersion).ok());
    }
    ASSERT_TRUE(idx.Put("bk2", "a/1", MetaFor(v++), PutMode::kNewVersion).ok());
    ASSERT_TRUE(idx.Put("bkt", "d", MetaFor(v++, 0, kFlagDeleteMarker),
                        PutMode::kNewVersion)
                    .ok());
  }
  ListPage ListAll(ListRequest req) {
    ListPage all, page;
    req.bucket = "bkt";
    std::string token;
    for (int i = 0; i < 100; ++i) {
      req.continuation = token;
      EXPECT_TRUE(idx.List(req, &page).ok());
      for (auto& e : page.entries) all.entries.push_back(e);
      for (auto& c : page.common_prefixes) all.common_prefixes.push_back(c);
      if (!page.truncated) break;
      token = page.next_continuation;
    }
    return all;
  }
  Index idx;
};

TEST_F(ListTest, FlatListingSkipsDeleteMarkersAndOtherBuckets) {
  ListRequest req;
  const ListPage p = ListAll(req);
  EXPECT_EQ(Keys(p), (std::vector<std::string>{"a", "a/1", "a/2", "a/b/1", "b",
                                               "b/1", "c/x/y"}));
  EXPECT_TRUE(p.common_prefixes.empty());
}

TEST_F(ListTest, PagesOfEverySizeGiveTheSameListing) {
  for (uint32_t page = 1; page <= 8; ++page) {
    ListRequest req;
    req.max_keys = page;
    req.delimiter = "/";
    const ListPage p = ListAll(req);
    EXPECT_EQ(Keys(p), (std::vector<std::string>{"a", "b"})) << page;
    EXPECT_EQ(p.common_prefixes, (std::vector<std::string>{"a/", "b/", "c/"}))
        << page;
  }
}

TEST_F(ListTest, PrefixDelimiterAndStartAfter) {
  ListRequest req;
  req.prefix = "a/";
  req.delimiter = "/";
  ListPage p = ListAll(req);
  EXPECT_EQ(Keys(p), (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ(p.common_prefixes, (std::vector<std::string>{"a/b/"}));
  req = ListRequest();
  req.start_after = "a/2";
  p = ListAll(req);
  EXPECT_EQ(Keys(p), (std::vector<std::string>{"a/b/1", "b", "b/1", "c/x/y"}));
  req = ListRequest();
  req.prefix = "c/";
  req.delimiter = "/x";  // searched only after the prefix: no match
  p = ListAll(req);
  EXPECT_EQ(Keys(p), (std::vector<std::string>{"c/x/y"}));
  req.delimiter = "x/";
  p = ListAll(req);
  EXPECT_TRUE(p.entries.empty());
  EXPECT_EQ(p.common_prefixes, (std::vector<std::string>{"c/x/"}));
  ListPage one;
  req = ListRequest();
  req.bucket = "bkt";
  req.max_keys = 2;
  ASSERT_TRUE(idx.List(req, &one).ok());
  EXPECT_TRUE(one.truncated);
  EXPECT_EQ(one.next_continuation, "Ka/1");
}

TEST(Index, ManyKeysGrowTheTablesAndStayListable) {
  Index idx;
  const int n = 50000;
  for (int i = 0; i < n; ++i) {
    // Interleaved order, so the tree splits in the middle of leaves.
    const int k = (i * 7919) % n;
    ASSERT_TRUE(idx.Put("bkt", "key" + std::to_string(k), MetaFor(k + 1),
                        PutMode::kReplaceCurrent)
                    .ok());
  }
  EXPECT_EQ(idx.key_count(), static_cast<uint64_t>(n));
  ObjectMeta m;
  for (int k = 0; k < n; k += 97) {
    ASSERT_TRUE(idx.Get("bkt", "key" + std::to_string(k), &m));
    EXPECT_EQ(m.version_id, static_cast<uint64_t>(k + 1));
  }
  ListRequest req;
  req.bucket = "bkt";
  req.max_keys = 10000;
  ListPage page;
  std::string prev;
  size_t total = 0;
  for (;;) {
    ASSERT_TRUE(idx.List(req, &page).ok());
    for (auto& e : page.entries) {
      EXPECT_LT(prev, e.key);
      prev = e.key;
    }
    total += page.entries.size();
    if (!page.truncated) break;
    req.continuation = page.next_continuation;
  }
  EXPECT_EQ(total, static_cast<size_t>(n));
  // Remove every other key: erases drop emptied leaves.
  for (int k = 0; k < n; k += 2) {
    ASSERT_TRUE(idx.Remove("bkt", "key" + std::to_string(k)).ok());
  }
  EXPECT_EQ(idx.key_count(), static_cast<uint64_t>(n / 2));
  EXPECT_FALSE(idx.Get("bkt", "key0", &m));
  EXPECT_TRUE(idx.Get("bkt", "key1", &m));
  const IndexMemory mem = idx.Memory();
  EXPECT_EQ(mem.keys, static_cast<uint64_t>(n / 2));
  EXPECT_GT(mem.bytes_per_object_excluding_keys, 52.0);
}

// Readers compare a record against (bucket, key) part by part: keys of every
// short length, keys that differ in one byte at any position, and splits of
// the same bytes between bucket and key must all stay distinct.
TEST(Index, LookupsCompareEveryByteOfBucketAndKey) {
  Index idx;
  std::vector<std::string> keys;
  for (size_t n = 0; n <= 40; ++n) {
    std::string k;
    for (size_t i = 0; i < n; ++i) k.push_back(static_cast<char>('a' + i % 26));
    keys.push_back(k);
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(
        idx.Put("bkt", keys[i], MetaFor(i + 1), PutMode::kReplaceCurrent).ok());
  }
  ObjectMeta m;
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(idx.Get("bkt", keys[i], &m)) << "length " << i;
    EXPECT_EQ(m.version_id, i + 1);
    for (size_t pos = 0; pos < keys[i].size(); ++pos) {
      std::string other = keys[i];
      other[pos] = static_cast<char>(other[pos] ^ 0x20);
      EXPECT_FALSE(idx.Get("bkt", other, &m)) << keys[i] << " @" << pos;
    }
    EXPECT_FALSE(idx.Get("bkx", keys[i], &m));
    EXPECT_FALSE(idx.Get("xkt", keys[i], &m));
  }
  // The same bytes split differently between bucket and key.
  ASSERT_TRUE(
      idx.Put("abcd", "e", MetaFor(100), PutMode::kReplaceCurrent).ok());
  EXPECT_FALSE(idx.Get("abc", "de", &m));
  ASSERT_TRUE(idx.Get("abcd", "e", &m));
  EXPECT_EQ(m.version_id, 100u);
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<ObjectMeta> out(views.size());
  std::unique_ptr<bool[]> found(new bool[views.size()]);
  idx.GetMany("bkt", views.data(), views.size(), out.data(), found.get());
  for (size_t i = 0; i < views.size(); ++i) {
    ASSERT_TRUE(found[i]);
    EXPECT_EQ(out[i].version_id, i + 1);
  }
}

TEST(BytesEqual, EveryLengthAndEveryDifferingByte) {
  char a[80], b[80];
  for (size_t i = 0; i < sizeof a; ++i) a[i] = b[i] = static_cast<char>(i * 7);
  for (size_t n = 0; n <= 70; ++n) {
    EXPECT_TRUE(BytesEqual(a, b, n)) << n;
    for (size_t pos = 0; pos < n; ++pos) {
      b[pos] = static_cast<char>(b[pos] + 1);
      EXPECT_FALSE(BytesEqual(a, b, n)) << n << " @" << pos;
      b[pos] = a[pos];
    }
    // A difference just past the compared bytes does not count.
    b[n] = static_cast<char>(b[n] + 1);
    EXPECT_TRUE(BytesEqual(a, b, n)) << n;
    b[n] = a[n];
  }
}

TEST(HashTable, MatchSlotsVariantsAgree) {
  std::mt19937_64 rng(7);
  const uint8_t tags[] = {0, 1, 2, 0x7F, 0x80, 0xFF};
  for (int round = 0; round < 200000; ++round) {
    uint8_t bytes[12];
    uint64_t w0 = 0, w1 = HashTable::kWord1Unused;
    const uint8_t tag = HashTable::TagOf(rng());
    for (int s = 0; s < 12; ++s) {
      const uint64_t pick = rng() % 4;
      bytes[s] = pick == 0   ? 0
                 : pick == 1 ? 1
                 : pick == 2 ? tag
                             : tags[rng() % 6];
      if (s < 8) {
        w0 |= uint64_t{bytes[s]} << (8 * s);
      } else {
        w1 |= uint64_t{bytes[s]} << (8 * (s - 8));
      }
    }
    uint32_t want_match = 0, want_empty = 0;
    for (int s = 0; s < 12; ++s) {
      if (bytes[s] == tag) want_match |= 1u << s;
      if (bytes[s] == 0) want_empty |= 1u << s;
    }
    uint32_t empty = 0, empty_swar = 0;
    ASSERT_EQ(HashTable::MatchSlots(w0, w1, tag, &empty), want_match);
    ASSERT_EQ(empty, want_empty);
    ASSERT_EQ(HashTable::MatchSlotsSwar(w0, w1, tag, &empty_swar), want_match);
    ASSERT_EQ(empty_swar, want_empty);
  }
}

}  // namespace
}  // namespace index
}  // namespace tessera
