// Random operation sequences against a std::map reference model.
// Replay a failure with TESSERA_SEED=<printed seed>.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "index/index.h"
#include "index/test_util.h"

namespace tessera {
namespace index {
namespace {

using testing_util::MetaFor;
using testing_util::SameMeta;

// Model: bucket -> key -> versions, newest first.
using Versions = std::vector<ObjectMeta>;
using Model = std::map<std::string, std::map<std::string, Versions>>;

std::string RandomKey(std::mt19937_64& rng) {
  // Small alphabet with '/' so prefixes and delimiters group keys.
  static const char kAlphabet[] = "ab/c\xff";
  const int len = 1 + static_cast<int>(rng() % 6);
  std::string k;
  for (int i = 0; i < len; ++i) k.push_back(kAlphabet[rng() % 5]);
  return k;
}

bool Present(const Versions& v) {
  return !v.empty() && (v[0].flags & kFlagDeleteMarker) == 0;
}

// The model's full listing for a request (all pages concatenated).
void ModelList(const std::map<std::string, Versions>& keys,
               const std::string& prefix, const std::string& delim,
               std::vector<std::string>* entries,
               std::vector<std::string>* prefixes) {
  std::string last_cp;
  for (const auto& [k, v] : keys) {
    if (k.compare(0, prefix.size(), prefix) != 0 || !Present(v)) continue;
    size_t cut =
        delim.empty() ? std::string::npos : k.find(delim, prefix.size());
    if (cut != std::string::npos) {
      std::string cp = k.substr(0, cut + delim.size());
      if (cp != last_cp) prefixes->push_back(cp);
      last_cp = cp;
    } else {
      entries->push_back(k);
    }
  }
}

void CheckList(const Index& idx, const Model& model, const std::string& bucket,
               std::mt19937_64& rng) {
  const std::string prefix =
      rng() % 2 ? RandomKey(rng).substr(0, rng() % 3) : "";
  const std::string delim = rng() % 2 ? "/" : (rng() % 2 ? "" : "b");
  std::vector<std::string> want_e, want_p, got_e, got_p;
  auto it = model.find(bucket);
  if (it != model.end()) ModelList(it->second, prefix, delim, &want_e, &want_p);
  ListRequest req;
  req.bucket = bucket;
  req.prefix = prefix;
  req.delimiter = delim;
  req.max_keys = 1 + static_cast<uint32_t>(rng() % 5);
  std::string token;
  for (int pages = 0; pages < 10000; ++pages) {
    ListPage page;
    req.continuation = token;
    ASSERT_TRUE(idx.List(req, &page).ok());
    for (auto& e : page.entries) {
      got_e.push_back(e.key);
      const Versions& v = model.at(bucket).at(e.key);
      ASSERT_TRUE(SameMeta(e.meta, v[0]));
    }
    for (auto& p : page.common_prefixes) got_p.push_back(p);
    if (!page.truncated) break;
    token = page.next_continuation;
  }
  ASSERT_EQ(got_e, want_e) << "prefix '" << prefix << "' delim '" << delim
                           << "'";
  ASSERT_EQ(got_p, want_p) << "prefix '" << prefix << "' delim '" << delim
                           << "'";
}

void CheckListVersions(const Index& idx, const Model& model,
                       const std::string& bucket, std::mt19937_64& rng) {
  std::vector<std::pair<std::string, uint64_t>> want, got;
  auto it = model.find(bucket);
  if (it != model.end()) {
    for (const auto& [k, v] : it->second) {
      for (const auto& m : v) want.emplace_back(k, m.version_id);
    }
  }
  ListVersionsRequest req;
  req.bucket = bucket;
  req.max_keys = 1 + static_cast<uint32_t>(rng() % 4);
  std::string key_marker;
  for (int pages = 0; pages < 10000; ++pages) {
    ListVersionsPage page;
    req.key_marker = key_marker;
    ASSERT_TRUE(idx.ListVersions(req, &page).ok());
    for (auto& e : page.entries) got.emplace_back(e.key, e.meta.version_id);
    if (!page.truncated) break;
    key_marker = page.next_key_marker;
    req.has_version_marker = page.has_next_version_marker;
    req.version_id_marker = page.next_version_id_marker;
  }
  ASSERT_EQ(got, want);
}

void RunSequence(uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  Index idx;
  Model model;
  uint64_t next_version = 1;
  const std::string buckets[] = {"bkt", "bk2"};
  for (int op = 0; op < ops; ++op) {
    const std::string& bucket = buckets[rng() % 2];
    const std::string key = RandomKey(rng);
    Versions* v = &model[bucket][key];
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 40) {
      const bool versioned = rng() % 2;
      const uint8_t flags = rng() % 8 == 0 ? kFlagDeleteMarker
                                           : (rng() % 4 == 0 ? kFlagUser1 : 0);
      const ObjectMeta m = MetaFor(next_version++, 0, flags);
      Condition cond;
      const int c = static_cast<int>(rng() % 4);
      bool holds = true;
      if (c == 1) {
        cond = Condition::IfAbsent();
        holds = !Present(*v);
      } else if (c == 2) {
        ObjectMeta target =
            !v->empty() && rng() % 2 ? (*v)[0] : MetaFor(rng() % next_version);
        cond = Condition::IfEtagMatches(target.etag, target.part_count);
        holds = Present(*v) &&
                std::memcmp((*v)[0].etag, target.etag, 16) == 0 &&
                (*v)[0].part_count == target.part_count;
      } else if (c == 3) {
        const uint64_t vid = !v->empty() && rng() % 2 ? (*v)[0].version_id
                                                      : rng() % next_version;
        cond = Condition::IfVersionMatches(vid);
        holds = !v->empty() && (*v)[0].version_id == vid;
      }
      const Status s = idx.Put(
          bucket, key, m,
          versioned ? PutMode::kNewVersion : PutMode::kReplaceCurrent, cond);
      ASSERT_EQ(s.ok(), holds) << "op " << op << ": " << s.message();
      if (holds) {
        if (versioned || v->empty()) {
          v->insert(v->begin(), m);
        } else {
          (*v)[0] = m;
        }
      } else {
        ASSERT_EQ(s.code(), StatusCode::kPreconditionFailed);
      }
    } else if (kind < 50) {
      const bool exists = !v->empty();
      const Status s = idx.Remove(bucket, key);
      ASSERT_EQ(s.ok(), exists) << "op " << op;
      v->clear();
    } else if (kind < 60) {
      uint64_t vid = rng() % next_version;
      if (!v->empty() && rng() % 4 != 0)
        vid = (*v)[rng() % v->size()].version_id;
      auto found = std::find_if(v->begin(), v->end(), [&](const ObjectMeta& m) {
        return m.version_id == vid;
      });
      const Status s = idx.DeleteVersion(bucket, key, vid);
      ASSERT_EQ(s.ok(), found != v->end()) << "op " << op;
      if (found != v->end()) v->erase(found);
    } else if (kind < 85) {
      ObjectMeta got;
      const bool ok = idx.Get(bucket, key, &got);
      ASSERT_EQ(ok, !v->empty()) << "op " << op;
      if (ok) {
        ASSERT_TRUE(SameMeta(got, (*v)[0])) << "op " << op;
      }
      if (!v->empty()) {
        const ObjectMeta& want = (*v)[rng() % v->size()];
        ASSERT_TRUE(idx.GetVersion(bucket, key, want.version_id, &got));
        ASSERT_TRUE(SameMeta(got, want));
      }
    } else if (kind < 95) {
      CheckList(idx, model, bucket, rng);
      if (::testing::Test::HasFatalFailure()) return;
    } else {
      CheckListVersions(idx, model, bucket, rng);
      if (::testing::Test::HasFatalFailure()) return;
    }
    if (v->empty()) model[bucket].erase(key);
  }
  uint64_t keys = 0;
  for (auto& [b, ks] : model) keys += ks.size();
  ASSERT_EQ(idx.key_count(), keys);
}

TEST(IndexProperty, RandomSequencesMatchStdMap) {
  const uint64_t seed =
      testing_util::TestSeed("IndexProperty.RandomSequencesMatchStdMap");
  std::mt19937_64 seeds(seed);
  for (int run = 0; run < 40; ++run) {
    const uint64_t s = seeds();
    SCOPED_TRACE("sequence seed " + std::to_string(s));
    RunSequence(s, 3000);
    if (HasFatalFailure()) return;
  }
}

TEST(IndexProperty, LargeKeyCountsMatchStdMap) {
  const uint64_t seed =
      testing_util::TestSeed("IndexProperty.LargeKeyCountsMatchStdMap");
  std::mt19937_64 rng(seed);
  Index idx;
  std::map<std::string, uint64_t> model;
  for (int op = 0; op < 200000; ++op) {
    const std::string key = "k" + std::to_string(rng() % 60000);
    if (rng() % 4 == 0) {
      ASSERT_EQ(idx.Remove("bkt", key).ok(), model.erase(key) == 1);
    } else {
      ASSERT_TRUE(
          idx.Put("bkt", key, MetaFor(op + 1), PutMode::kReplaceCurrent).ok());
      model[key] = op + 1;
    }
  }
  ListRequest req;
  req.bucket = "bkt";
  req.max_keys = 777;
  auto it = model.begin();
  std::string token;
  for (;;) {
    ListPage page;
    req.continuation = token;
    ASSERT_TRUE(idx.List(req, &page).ok());
    for (auto& e : page.entries) {
      ASSERT_TRUE(it != model.end());
      ASSERT_EQ(e.key, it->first);
      ASSERT_EQ(e.meta.version_id, it->second);
      ++it;
    }
    if (!page.truncated) break;
    token = page.next_continuation;
  }
  EXPECT_TRUE(it == model.end());
}

}  // namespace
}  // namespace index
}  // namespace tessera
