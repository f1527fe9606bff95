#include "engine/key_directory.h"

#include <gtest/gtest.h>

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
  b.name = "b";
  d.ApplyBucket(b);
  uint64_t seq = 1;
  for (const char* k : {"a", "p/1", "p/2", "p/q/3", "q", "r/s"}) {
    d.ApplyObject("b", k, V(seq++, true), false);
  }
  d.ApplyObject("b", "q", V(seq++, true, true), false);  // hidden by marker
  ListPage page;
  ASSERT_TRUE(d.List("b", "p/", "/", "", 10, &page).ok());
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(page.entries[1].first, "p/2");
  ASSERT_EQ(page.common_prefixes.size(), 1u);
  EXPECT_EQ(page.common_prefixes[0], "p/q/");
  std::vector<std::string> all;
  std::string marker;
  do {
    ASSERT_TRUE(d.List("b", "", "", marker, 2, &page).ok());
    for (auto& e : page.entries) all.push_back(e.first);
    marker = page.next_marker;
  } while (page.truncated);
  EXPECT_EQ(all, (std::vector<std::string>{"a", "p/1", "p/2", "p/q/3", "r/s"}));
  EXPECT_EQ(d.List("nope", "", "", "", 1, &page).code(), StatusCode::kNotFound);
}

TEST(KeyDirectory, VersionsNewestFirstAndVersionMarkers) {
  KeyDirectory d;
  log::BucketRecord b;
  b.name = "b";
  d.ApplyBucket(b);
  d.ApplyObject("b", "k", V(1), true);
  d.ApplyObject("b", "k", V(2), true);
  d.ApplyObject("b", "k", V(3, true), false);
  d.ApplyObject("b", "k", V(4, true), false);  // replaces null version 3
  EXPECT_EQ(d.object_versions(), 3u);
  ListVersionsPage page;
  ASSERT_TRUE(d.ListVersions("b", "", "", "", "", 2, &page).ok());
  ASSERT_EQ(page.entries.size(), 2u);
  EXPECT_EQ(VersionIdString(page.entries[0].meta), "null");
  EXPECT_TRUE(page.entries[0].is_latest);
  EXPECT_EQ(VersionIdString(page.entries[1].meta), "0000000000000002");
  ASSERT_TRUE(page.truncated);
  ASSERT_TRUE(d.ListVersions("b", "", "", page.next_key_marker,
                             page.next_version_id_marker, 2, &page)
                  .ok());
  ASSERT_EQ(page.entries.size(), 1u);
  EXPECT_EQ(page.entries[0].meta.seq, 1u);
  EXPECT_FALSE(page.truncated);
  EXPECT_TRUE(d.ApplyDelete("b", "k", "0000000000000002"));
  EXPECT_FALSE(d.ApplyDelete("b", "k", "0000000000000002"));
  EXPECT_EQ(d.object_versions(), 2u);
}

}  // namespace
}  // namespace engine
}  // namespace tessera
