// Multi-threaded stress: two writers and two readers (one of them listing)
// run >= 1,000,000 mixed operations on a small key space, so the hash table
// grows and rebuilds, tree leaves split and merge, and EBR recycles records
// under readers. Readers check that every record they see was written whole.
// Run under TSan and ASan+UBSan by run_sanitizers.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/index.h"
#include "index/test_util.h"

namespace tessera {
namespace index {
namespace {

using testing_util::IsWhole;
using testing_util::MetaFor;

uint64_t StressOps() {
  const char* env = std::getenv("TESSERA_STRESS_OPS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 1000000;
}

std::string KeyOf(uint64_t k) {
  return "d" + std::to_string(k % 13) + "/key-" + std::to_string(k);
}

TEST(IndexStress, MixedOpsOnFourThreads) {
  const uint64_t seed =
      testing_util::TestSeed("IndexStress.MixedOpsOnFourThreads");
  const uint64_t total_ops = StressOps();
  const uint64_t ops_per_thread = total_ops / 4;
  constexpr uint64_t kKeys = 20000;
  Index idx;
  std::atomic<uint64_t> next_version{1};
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> done_ops{0};

  auto writer = [&](uint64_t tseed) {
    std::mt19937_64 rng(tseed);
    for (uint64_t i = 0; i < ops_per_thread; ++i) {
      const std::string key = KeyOf(rng() % kKeys);
      const uint64_t v = next_version.fetch_add(1, std::memory_order_relaxed);
      const int kind = static_cast<int>(rng() % 10);
      Status s;
      if (kind < 4) {
        s = idx.Put("stress", key, MetaFor(v), PutMode::kReplaceCurrent);
      } else if (kind < 6) {
        s = idx.Put("stress", key,
                    MetaFor(v, 0, rng() % 5 == 0 ? kFlagDeleteMarker : 0),
                    PutMode::kNewVersion);
      } else if (kind < 7) {
        s = idx.Put("stress", key, MetaFor(v), PutMode::kNewVersion,
                    Condition::IfAbsent());
      } else if (kind < 8) {
        ObjectMeta cur;
        if (idx.Get("stress", key, &cur)) {
          s = idx.Put("stress", key, MetaFor(v), PutMode::kReplaceCurrent,
                      Condition::IfVersionMatches(cur.version_id));
        }
      } else if (kind < 9) {
        s = idx.Remove("stress", key);
      } else {
        ObjectMeta cur;
        if (idx.Get("stress", key, &cur))
          s = idx.DeleteVersion("stress", key, cur.version_id);
      }
      if (!s.ok() && s.code() != StatusCode::kNotFound &&
          s.code() != StatusCode::kPreconditionFailed) {
        failures.fetch_add(1);
      }
    }
    done_ops.fetch_add(ops_per_thread);
  };
  auto reader = [&](uint64_t tseed) {
    std::mt19937_64 rng(tseed);
    for (uint64_t i = 0; i < ops_per_thread; ++i) {
      const std::string key = KeyOf(rng() % kKeys);
      ObjectMeta m;
      if (idx.Get("stress", key, &m) && !IsWhole(m)) failures.fetch_add(1);
      if (rng() % 4 == 0 && idx.GetVersion("stress", key, m.version_id, &m) &&
          !IsWhole(m)) {
        failures.fetch_add(1);
      }
    }
    done_ops.fetch_add(ops_per_thread);
  };
  auto lister = [&](uint64_t tseed) {
    std::mt19937_64 rng(tseed);
    uint64_t ops = 0;
    while (ops < ops_per_thread) {
      ListRequest req;
      req.bucket = "stress";
      const std::string prefix = "d" + std::to_string(rng() % 13);
      req.prefix = rng() % 2 ? std::string_view(prefix) : std::string_view();
      req.delimiter = rng() % 2 ? "/" : "";
      req.max_keys = 1 + static_cast<uint32_t>(rng() % 300);
      std::string last_entry, last_prefix, token;
      for (int page_no = 0; page_no < 8; ++page_no) {
        req.continuation = token;
        ListPage page;
        if (!idx.List(req, &page).ok()) failures.fetch_add(1);
        for (const auto& e : page.entries) {
          // Strictly increasing across pages; every entry whole and live.
          if (!(last_entry < e.key) || !IsWhole(e.meta) ||
              (e.meta.flags & kFlagDeleteMarker) != 0) {
            failures.fetch_add(1);
          }
          last_entry = e.key;
        }
        for (const auto& p : page.common_prefixes) {
          if (!(last_prefix < p)) failures.fetch_add(1);
          last_prefix = p;
        }
        ops += 1 + page.entries.size() + page.common_prefixes.size();
        if (!page.truncated) break;
        token = page.next_continuation;
      }
    }
    done_ops.fetch_add(ops);
  };
  std::mt19937_64 seeds(seed);
  std::vector<std::thread> threads;
  threads.emplace_back(writer, seeds());
  threads.emplace_back(writer, seeds());
  threads.emplace_back(reader, seeds());
  threads.emplace_back(lister, seeds());
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GE(done_ops.load(), total_ops - 4);
  // Every key the index still has is whole and agrees with a listing.
  ListRequest req;
  req.bucket = "stress";
  req.max_keys = kListKeysMax;
  uint64_t listed_keys = 0;
  std::string token;
  for (;;) {
    ListPage page;
    req.continuation = token;
    ASSERT_TRUE(idx.List(req, &page).ok());
    for (const auto& e : page.entries) {
      ObjectMeta m;
      ASSERT_TRUE(idx.Get("stress", e.key, &m));
      ASSERT_TRUE(IsWhole(m));
    }
    listed_keys += page.entries.size();
    if (!page.truncated) break;
    token = page.next_continuation;
  }
  EXPECT_LE(listed_keys, idx.key_count());
}

}  // namespace
}  // namespace index
}  // namespace tessera
