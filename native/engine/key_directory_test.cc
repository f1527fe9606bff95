#include "engine/key_directory.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
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
// lib/store's hot-object map trusts an answer while the generation holds
// its value: every writer must raise it, and only writers.
TEST(KeyDirectory, EveryWriterRaisesTheGeneration) {
  KeyDirectory d;
  const std::shared_ptr<std::atomic<double>> cell = d.generation_cell();
  double last = cell->load();
  auto raised = [&] {
    const double now = cell->load();
    const bool up = now > last;
    last = now;
    return up;
  };
  log::BucketRecord b;
  b.name = "bkt";
  d.ApplyBucket(b);
  EXPECT_TRUE(raised()) << "bucket create";
  d.ApplyObject("bkt", "k", V(1, true), false);
  EXPECT_TRUE(raised()) << "put";
  d.ApplyObject("bkt", "k", V(2, true), false);
  EXPECT_TRUE(raised()) << "overwrite";
  VersionMeta m;
  ASSERT_TRUE(d.Lookup("bkt", "k", "", &m).ok());
  ListPage page;
  ASSERT_TRUE(d.List("bkt", "", "", "", 10, &page).ok());
  EXPECT_FALSE(raised()) << "a reader changed the generation";
  EXPECT_TRUE(d.Relocate("bkt", "k", 2, m.address, m.address + 4096));
  EXPECT_TRUE(raised()) << "relocation";
  EXPECT_TRUE(d.ApplyDelete("bkt", "k", ""));
  EXPECT_TRUE(raised()) << "delete";
  b.op = log::BucketOp::kSettings;
  b.versioning = log::Versioning::kEnabled;
  d.ApplyBucket(b);
  EXPECT_TRUE(raised()) << "bucket settings";
  b.op = log::BucketOp::kDelete;
  d.ApplyBucket(b);
  EXPECT_TRUE(raised()) << "bucket delete";
  // The cell outlives the directory (JS may hold it after close).
  std::shared_ptr<std::atomic<double>> held = d.generation_cell();
  EXPECT_GE(held.use_count(), 2);
}

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

// A random sequence of bucket, put (versioned or replacing the null version)
// and delete operations against a plain std::map model, with the directory
// saved to an index snapshot and loaded into a fresh one every few steps
// (what a close and reopen does): after each step every key's versions,
// newest first, match the model. Seeded; TESSERA_SEED replays.
TEST(KeyDirectory, MatchesAModelAcrossSnapshotRoundTrips) {
  const char* env = getenv("TESSERA_SEED");
  const uint64_t base = env ? strtoull(env, nullptr, 10) : 4242;
  const int seeds = getenv("TESSERA_LONG") ? 200 : 8;
  printf("base seed %llu, %d seeds\n", (unsigned long long)base, seeds);
  // mkdtemp's template ends in six 'X's that it replaces.
  std::string tmpl = "/tmp/tessera-keydir-" + std::string(6, 'X');
  ASSERT_NE(mkdtemp(&tmpl[0]), nullptr);
  const std::string path = tmpl + "/index.snap";
  for (int i = 0; i < seeds; i++) {
    const uint64_t seed = base * 1000003 + i;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto d = std::make_unique<KeyDirectory>();
    // bucket -> key -> versions, newest first
    std::map<std::string, std::map<std::string, std::vector<VersionMeta>>> m;
    std::map<std::string, log::Versioning> versioning;
    const char* names[] = {"bk1", "bk2"};
    uint64_t seq = 1;
    for (int step = 0; step < 600; step++) {
      const std::string bucket = names[rng() % 2];
      const std::string key = "k" + std::to_string(rng() % 12);
      const int what = int(rng() % 100);
      if (what < 3 || versioning.count(bucket) == 0) {
        log::BucketRecord b;
        b.name = bucket;
        b.versioning = log::Versioning(rng() % 3);
        b.op = versioning.count(bucket) ? log::BucketOp::kSettings
                                        : log::BucketOp::kCreate;
        d->ApplyBucket(b);
        versioning[bucket] = b.versioning;
      } else if (what < 60) {
        const bool keep = versioning[bucket] == log::Versioning::kEnabled;
        VersionMeta v = V(seq++, !keep, rng() % 8 == 0);
        v.address = v.seq << 12 | (rng() & 0xfff);
        v.size = rng() % 100000;
        v.header_bytes = 64 + uint32_t(rng() % 200);
        d->ApplyObject(bucket, key, v, keep);
        auto& vs = m[bucket][key];
        if (!keep) {
          for (size_t j = 0; j < vs.size(); j++) {
            if (vs[j].null_version) {
              vs.erase(vs.begin() + long(j));
              break;
            }
          }
        }
        vs.insert(vs.begin(), v);
      } else if (what < 75) {
        const bool had = m[bucket].count(key) != 0;
        EXPECT_EQ(d->ApplyDelete(bucket, key, ""), had);
        m[bucket].erase(key);
      } else if (what < 90) {
        auto it = m[bucket].find(key);
        if (it == m[bucket].end()) continue;
        auto& vs = it->second;
        const size_t j = rng() % vs.size();
        const std::string id = VersionIdString(vs[j]);
        EXPECT_TRUE(d->ApplyDelete(bucket, key, id)) << id;
        vs.erase(vs.begin() + long(j));
        if (vs.empty()) m[bucket].erase(it);
      } else {
        // Close and reopen: save, load into a fresh directory.
        std::vector<KeyDirectory::BucketState> states = d->BucketStates();
        Status s = d->SaveIndex(path);
        ASSERT_TRUE(s.ok()) << s.message();
        auto fresh = std::make_unique<KeyDirectory>();
        s = fresh->LoadIndex(path, states);
        ASSERT_TRUE(s.ok()) << s.message();
        d = std::move(fresh);
      }
      // Every key of the model, newest first, and nothing else.
      uint64_t total = 0;
      for (const auto& b : m) {
        uint64_t in_bucket = 0;
        for (const auto& k : b.second) in_bucket += k.second.size();
        total += in_bucket;
        ASSERT_EQ(d->BucketVersionCount(b.first), in_bucket) << "step " << step;
        ListVersionsPage page;
        ASSERT_TRUE(d->ListVersions(b.first, "", "", "", "", 5000, &page).ok());
        size_t e = 0;
        for (const auto& k : b.second) {
          for (size_t j = 0; j < k.second.size(); j++, e++) {
            ASSERT_LT(e, page.entries.size()) << "step " << step;
            EXPECT_EQ(page.entries[e].key, k.first) << "step " << step;
            EXPECT_EQ(page.entries[e].meta.seq, k.second[j].seq)
                << "step " << step << " " << b.first << "/" << k.first;
            EXPECT_EQ(page.entries[e].meta.address, k.second[j].address);
            EXPECT_EQ(page.entries[e].is_latest, j == 0);
          }
          VersionMeta cur;
          ASSERT_TRUE(d->Lookup(b.first, k.first, "", &cur).ok());
          EXPECT_EQ(cur.seq, k.second[0].seq) << "step " << step;
          EXPECT_EQ(cur.address, k.second[0].address);
        }
        EXPECT_EQ(e, page.entries.size()) << "step " << step;
      }
      ASSERT_EQ(d->object_versions(), total) << "step " << step;
      if (HasFailure()) return;
    }
  }
  std::string cmd = "rm -rf '" + tmpl + "'";
  EXPECT_EQ(system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace engine
}  // namespace tessera
