#include "engine/key_directory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tessera {
namespace engine {
namespace {

VersionMeta V(uint64_t seq, bool null_version = false, bool marker = false) {
  VersionMeta m;
  m.seq = seq;
  m.null_version = null_version;
  m.delete_marker = marker;
  return m;
}

TEST(KeyDirectory, ListPagesWithPrefixDelimiterAndMarkers) {
  KeyDirectory d;
  log::BucketRecord b;
  b.name = "bkt";
  d.ApplyBucket(b);
  uint64_t seq = 1;
  for (const char* k : {"a", "p/1", "p/2", "p/q/3", "q", "r/s"}) {
    d.ApplyObject("bkt", k, V(seq++, true), false);
  }
  d.ApplyObject("bkt", "q", V(seq++, true, true), false);  // hidden by marker
  ListPage page;
  ASSERT_TRUE(d.List("bkt", "p/", "/", "", 10, &page).ok());
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[1].first, "p/2");
  ASSERT_EQ(page.common_prefixes.size(), 1u);
  EXPECT_EQ(page.common_prefixes[0], "p/q/");
  std::vector<std::string> all;
  std::string marker;
  do {
    ASSERT_TRUE(d.List("bkt", "", "", marker, 2, &page).ok());
    for (auto& e : page.entries) all.push_back(e.first);
    marker = page.next_marker;
  } while (page.truncated);
  EXPECT_EQ(all, (std::vector<std::string>{"a", "p/1", "p/2", "p/q/3", "r/s"}));
  EXPECT_EQ(d.List("nope", "", "", "", 1, &page).code(), StatusCode::kNotFound);
}

TEST(KeyDirectory, VersionsNewestFirstAndVersionMarkers) {
  KeyDirectory d;
  log::BucketRecord b;
  b.name = "bkt";
  d.ApplyBucket(b);
  d.ApplyObject("bkt", "k", V(1), true);
  d.ApplyObject("bkt", "k", V(2), true);
  d.ApplyObject("bkt", "k", V(3, true), false);
  d.ApplyObject("bkt", "k", V(4, true), false);  // replaces null version 3
  EXPECT_EQ(d.object_versions(), 3u);
  ListVersionsPage page;
  ASSERT_TRUE(d.ListVersions("bkt", "", "", "", "", 2, &page).ok());
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(VersionIdString(page.entries[0].meta), "null");
  EXPECT_TRUE(page.entries[0].is_latest);
  EXPECT_EQ(VersionIdString(page.entries[1].meta), "0000000000000002");
  ASSERT_TRUE(page.truncated);
  ASSERT_TRUE(d.ListVersions("bkt", "", "", page.next_key_marker,
                             page.next_version_id_marker, 2, &page)
                  .ok());
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].meta.seq, 1u);
  EXPECT_FALSE(page.truncated);
  EXPECT_TRUE(d.ApplyDelete("bkt", "k", "0000000000000002"));
  EXPECT_FALSE(d.ApplyDelete("bkt", "k", "0000000000000002"));
  EXPECT_EQ(d.object_versions(), 2u);
}

// Readers on other threads while the one writer churns buckets, versions
// and deletes (run under TSan by the sanitizer build): every read sees a
// whole version, never a torn one, and never waits for the writer.
TEST(KeyDirectory, ReadersRunConcurrentlyWithTheWriter) {
  KeyDirectory d;
  log::BucketRecord b;
  b.name = "bkt";
  b.versioning = log::Versioning::kEnabled;
  d.ApplyBucket(b);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; t++) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        VersionMeta m;
        if (d.Lookup("bkt", "k" + std::to_string(reads % 16), "", &m).ok()) {
          EXPECT_EQ(m.size, m.seq * 3);  // written together
          EXPECT_EQ(m.address, m.seq << 20);
        }
        ListPage page;
        EXPECT_TRUE(d.List("bkt", "", "", "", 8, &page).ok());
        for (const auto& e : page.entries)
          EXPECT_EQ(e.second.size, e.second.seq * 3);
        BucketInfo info;
        EXPECT_TRUE(d.GetBucket("bkt", &info));
        (void)d.ListBuckets();
        reads++;
      }
    });
  }
  for (uint64_t seq = 1; seq <= 20000; seq++) {
    VersionMeta m = V(seq, seq % 3 == 0);
    m.size = seq * 3;
    m.address = seq << 20;
    const std::string key = "k" + std::to_string(seq % 16);
    d.ApplyObject("bkt", key, m, seq % 3 != 0);
    if (seq % 97 == 0) d.ApplyDelete("bkt", key, "");
    if (seq % 500 == 0) {
      log::BucketRecord other;
      other.name = "other" + std::to_string(seq % 3);
      other.op =
          seq % 1000 == 0 ? log::BucketOp::kDelete : log::BucketOp::kCreate;
      d.ApplyBucket(other);
    }
  }
  while (reads.load() < 100) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(d.BucketVersionCount("bkt"), d.object_versions() -
                                             d.BucketVersionCount("other0") -
                                             d.BucketVersionCount("other1") -
                                             d.BucketVersionCount("other2"));
}

}  // namespace
}  // namespace engine
}  // namespace tessera
