// Per-key linearizability: threads run conditional and unconditional writes
// and reads on a few keys concurrently; each operation's invocation and
// response are stamped from one global counter; a Wing & Gong / Lowe (WGL)
// search then looks for a sequential order, consistent with real time, that
// explains every result under register-with-CAS semantics.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "index/index.h"
#include "index/test_util.h"

namespace tessera {
namespace index {
namespace {

using testing_util::MetaFor;

enum class OpKind { kPut, kPutIfAbsent, kPutIfVersion, kRemove, kGet };

struct Op {
  OpKind kind;
  uint64_t arg = 0;       // value written (version id)
  uint64_t expected = 0;  // kPutIfVersion: version compared against
  uint64_t invoke = 0, response = 0;
  bool ok = false;        // writes: succeeded; get: found
  uint64_t observed = 0;  // get: version seen
};

// The register after `op` from `state` (0 = absent), or false when the
// recorded result is impossible from `state`.
bool Apply(const Op& op, uint64_t state, uint64_t* next) {
  switch (op.kind) {
    case OpKind::kPut:
      *next = op.arg;
      return op.ok;
    case OpKind::kPutIfAbsent:
      if ((state == 0) != op.ok) return false;
      *next = op.ok ? op.arg : state;
      return true;
    case OpKind::kPutIfVersion:
      if ((state != 0 && state == op.expected) != op.ok) return false;
      *next = op.ok ? op.arg : state;
      return true;
    case OpKind::kRemove:
      if ((state != 0) != op.ok) return false;
      *next = 0;
      return true;
    case OpKind::kGet:
      *next = state;
      return op.ok ? state == op.observed : state == 0;
  }
  return false;
}

class WglChecker {
 public:
  explicit WglChecker(std::vector<Op> ops) : ops_(std::move(ops)) {
    TS_ASSERT(ops_.size() <= 128);
  }
  bool Linearizable() { return Search(0, 0, 0); }

 private:
  bool Search(uint64_t lo, uint64_t hi, uint64_t state) {
    const size_t n = ops_.size();
    bool all = true;
    uint64_t min_response = UINT64_MAX;
    for (size_t i = 0; i < n; ++i) {
      if (!Done(lo, hi, i)) {
        all = false;
        min_response = std::min(min_response, ops_[i].response);
      }
    }
    if (all) return true;
    if (!seen_.insert(std::make_tuple(lo, hi, state)).second) return false;
    for (size_t i = 0; i < n; ++i) {
      // Candidates: pending ops invoked before every pending op responded.
      if (Done(lo, hi, i) || ops_[i].invoke > min_response) continue;
      uint64_t next;
      if (!Apply(ops_[i], state, &next)) continue;
      uint64_t nlo = lo, nhi = hi;
      if (i < 64)
        nlo |= uint64_t{1} << i;
      else
        nhi |= uint64_t{1} << (i - 64);
      if (Search(nlo, nhi, next)) return true;
    }
    return false;
  }
  static bool Done(uint64_t lo, uint64_t hi, size_t i) {
    return i < 64 ? (lo >> i) & 1 : (hi >> (i - 64)) & 1;
  }
  std::vector<Op> ops_;
  std::set<std::tuple<uint64_t, uint64_t, uint64_t>> seen_;
};

TEST(Linearizability, CheckerRejectsAStaleRead) {
  // put(1) completes, then put(2) completes, then a get returns 1: not
  // linearizable. The same get overlapping put(2) is.
  std::vector<Op> h(3);
  h[0] = {OpKind::kPut, 1, 0, 1, 2, true, 0};
  h[1] = {OpKind::kPut, 2, 0, 3, 4, true, 0};
  h[2] = {OpKind::kGet, 0, 0, 5, 6, true, 1};
  EXPECT_FALSE(WglChecker(h).Linearizable());
  h[2].invoke = 3;
  EXPECT_TRUE(WglChecker(h).Linearizable());
  // Two successful if-absent creates that do not overlap a remove: never.
  std::vector<Op> c(2);
  c[0] = {OpKind::kPutIfAbsent, 1, 0, 1, 4, true, 0};
  c[1] = {OpKind::kPutIfAbsent, 2, 0, 2, 3, true, 0};
  EXPECT_FALSE(WglChecker(c).Linearizable());
}

TEST(Linearizability, ConcurrentHistoriesPerKeyAreLinearizable) {
  const uint64_t seed = testing_util::TestSeed(
      "Linearizability.ConcurrentHistoriesPerKeyAreLinearizable");
  const char* env = std::getenv("TESSERA_LIN_RUNS");
  const int runs = env != nullptr ? std::atoi(env) : 1000;
  // Each thread spreads its ops evenly over the keys, so a key's history has
  // exactly kThreads * kOpsPerThread / kKeys = 90 ops (the checker's cap is
  // 128).
  constexpr int kThreads = 3, kKeys = 4, kOpsPerThread = 120;
  uint64_t overlapping_pairs = 0;
  std::mt19937_64 seeds(seed);
  for (int run = 0; run < runs; ++run) {
    Index idx;
    std::atomic<uint64_t> clock{1};
    std::atomic<uint64_t> next_value{1};
    std::atomic<int> ready{0};
    std::vector<std::vector<std::pair<int, Op>>> per_thread(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t, tseed = seeds()] {
        std::mt19937_64 rng(tseed);
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        for (int i = 0; i < kOpsPerThread; ++i) {
          const int key = (i + t) % kKeys;
          const std::string name = "k" + std::to_string(key);
          Op op;
          op.kind = static_cast<OpKind>(rng() % 5);
          op.arg = next_value.fetch_add(1);
          ObjectMeta seen;
          if (op.kind == OpKind::kPutIfVersion) {
            // Compare against what we read a moment ago (often still true).
            op.expected =
                idx.Get("lin", name, &seen) ? seen.version_id : op.arg;
          }
          // seq_cst stamps: real-time order between threads' operations.
          op.invoke = clock.fetch_add(1, std::memory_order_seq_cst);
          Status s;
          switch (op.kind) {
            case OpKind::kPut:
              s = idx.Put("lin", name, MetaFor(op.arg),
                          PutMode::kReplaceCurrent);
              break;
            case OpKind::kPutIfAbsent:
              s = idx.Put("lin", name, MetaFor(op.arg),
                          PutMode::kReplaceCurrent, Condition::IfAbsent());
              break;
            case OpKind::kPutIfVersion:
              s = idx.Put("lin", name, MetaFor(op.arg),
                          PutMode::kReplaceCurrent,
                          Condition::IfVersionMatches(op.expected));
              break;
            case OpKind::kRemove:
              s = idx.Remove("lin", name);
              break;
            case OpKind::kGet:
              op.ok = idx.Get("lin", name, &seen);
              op.observed = op.ok ? seen.version_id : 0;
              break;
          }
          op.response = clock.fetch_add(1, std::memory_order_seq_cst);
          if (op.kind != OpKind::kGet) op.ok = s.ok();
          per_thread[t].emplace_back(key, op);
        }
      });
    }
    for (auto& th : threads) th.join();
    for (int key = 0; key < kKeys; ++key) {
      std::vector<Op> history;
      for (auto& ops : per_thread) {
        for (auto& [k, op] : ops) {
          if (k == key) history.push_back(op);
        }
      }
      for (size_t a = 0; a < history.size(); ++a) {
        for (size_t b = a + 1; b < history.size(); ++b) {
          overlapping_pairs += history[a].invoke < history[b].response &&
                               history[b].invoke < history[a].response;
        }
      }
      ASSERT_TRUE(WglChecker(history).Linearizable())
          << "run " << run << " key " << key
          << " (replay with TESSERA_SEED=" << seed << ")";
    }
  }
  // The check means something only if operations really overlapped.
  std::printf("[ history  ] %d runs, %llu overlapping same-key op pairs\n",
              runs, static_cast<unsigned long long>(overlapping_pairs));
  EXPECT_GT(overlapping_pairs, 0u);
}

}  // namespace
}  // namespace index
}  // namespace tessera
