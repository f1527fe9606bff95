// ReadCache: the engine's bounded in-memory cache of small object records,
// with W-TinyLFU admission (Einziger, Friedman, Manes: "TinyLFU: A Highly
// Efficient Cache Admission Policy", 2017; the variant Caffeine uses).
//
// Policy, per shard, by bytes (every entry is charged its size plus a fixed
// overhead):
// - A frequency sketch (count-min, 4 rows of 4-bit counters, conservative
//   update) with a doorkeeper (a Bloom filter that takes a key's first
//   access, so one-hit keys never reach the counters) and aging: after
//   10 x width increments every counter is halved and the doorkeeper
//   cleared, so old popularity fades.
// - A window LRU (1% of the bytes) that every new entry enters.
// - A segmented LRU main region (probation 20%, protected 80%). An entry
//   leaving the window is admitted to main only if main has room or its
//   estimated frequency beats the victim's (the probation LRU entry); a
//   probation hit promotes to protected; protected overflow demotes to
//   probation.
// A scan (many keys seen once) therefore passes through the window and
// is refused by main: the hot set stays.
//
// Keys are the log address of a version's OBJECT record. Addresses are
// never reused (segment ids are never reused, nothing is overwritten in
// place), and a record's bytes never change, so an entry can never hold
// bytes for a different version than its key names (docs/engine.md, "Read
// cache", has the full argument, including GC relocation).
//
// Thread safety: the cache is split into shards by key hash, each behind
// its own mutex; values are immutable and shared (shared_ptr), so bytes
// are copied out after the lock is released.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "log/codec.h"

namespace tessera {
namespace engine {

// Count-min sketch with doorkeeper and aging. Not thread-safe.
class FrequencySketch {
 public:
  // Sized for about `expected_entries` distinct hot keys.
  explicit FrequencySketch(uint64_t expected_entries);
  void Increment(uint64_t key);
  // Estimated frequency, 0..16 (counters saturate at 15, +1 doorkeeper).
  uint32_t Frequency(uint64_t key) const;
  uint64_t resets() const { return resets_; }
  uint64_t width() const { return width_; }

 private:
  uint32_t Counter(uint32_t row, uint64_t h) const;
  uint64_t Index(uint32_t row, uint64_t h) const;
  void Reset();

  uint64_t width_ = 0;  // counters per row, a power of two
  uint64_t mask_ = 0;
  std::vector<uint8_t> table_;        // 4 rows x width_ counters (4 bits used)
  std::vector<uint64_t> doorkeeper_;  // width_ * 4 bits
  uint64_t additions_ = 0;
  uint64_t sample_ = 0;  // additions before aging
  uint64_t resets_ = 0;
};

// One cached record: the OBJECT record's header and payload bytes as read
// (and CRC-verified) from the log, and the version's seq for a cross-check.
struct CachedRecord {
  uint64_t seq = 0;
  uint32_t header_bytes = 0;
  std::string bytes;  // header_bytes + payload
  // The header's variable part, decoded once when the entry is made (the
  // bucket, key and version strings are left empty: the reader has them).
  log::ObjectRecord object;
};

struct ReadCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t bytes = 0;  // charged bytes held now (<= capacity)
  uint64_t entries = 0;
  uint64_t inserts = 0;   // entries that entered the window
  uint64_t rejected = 0;  // candidates the admission policy refused
  uint64_t evicted = 0;   // main-region victims evicted for a candidate
};

// One W-TinyLFU region set. Not thread-safe (ReadCache locks per shard).
class TinyLfuShard {
 public:
  using Value = std::shared_ptr<const CachedRecord>;
  static constexpr uint64_t kEntryOverhead = 96;  // node, map slot, value

  explicit TinyLfuShard(uint64_t capacity_bytes);
  // Records the access in the sketch (when `record`) and returns the value
  // (moving it in its LRU) or nullptr.
  Value Get(uint64_t key, bool record = true);
  // Adds an entry (charged `bytes->bytes.size()` + overhead) to the
  // window; overflow runs the admission policy. An entry larger than the
  // shard is not cached. A key already present keeps its value.
  void Insert(uint64_t key, Value value);
  void Erase(uint64_t key);
  // Erases every key in [lo, hi) (segments reclaimed by GC).
  void EraseRange(uint64_t lo, uint64_t hi);
  bool Contains(uint64_t key) const { return map_.count(key) != 0; }

  uint64_t capacity() const { return capacity_; }
  uint64_t bytes() const {
    return window_bytes_ + probation_bytes_ + protected_bytes_;
  }
  uint64_t entries() const { return map_.size(); }
  uint64_t rejected() const { return rejected_; }
  uint64_t evicted() const { return evicted_; }
  uint64_t inserts() const { return inserts_; }
  const FrequencySketch& sketch() const { return sketch_; }

 private:
  enum class Region : uint8_t { kWindow, kProbation, kProtected };
  struct Node {
    uint64_t key = 0;
    uint64_t charge = 0;
    Region region = Region::kWindow;
    Value value;
  };
  using List = std::list<Node>;  // front = most recently used

  List& ListOf(Region r);
  uint64_t& BytesOf(Region r);
  void MoveTo(List::iterator it, Region to);
  void Remove(List::iterator it);
  void EvictFromWindow();
  void DemoteProtected();
  void CheckInvariants() const;

  uint64_t capacity_ = 0;
  uint64_t window_max_ = 0;
  uint64_t main_max_ = 0;
  uint64_t protected_max_ = 0;
  List window_, probation_, protected_;
  uint64_t window_bytes_ = 0, probation_bytes_ = 0, protected_bytes_ = 0;
  std::unordered_map<uint64_t, List::iterator> map_;
  FrequencySketch sketch_;
  uint64_t rejected_ = 0, evicted_ = 0, inserts_ = 0;
};

// The engine's cache: TinyLfuShards by key hash, one mutex each.
class ReadCache {
 public:
  using Value = TinyLfuShard::Value;
  // capacity_bytes > 0. Shards: one per 4 MiB of capacity, 1..16.
  explicit ReadCache(uint64_t capacity_bytes);

  // A hit counts a hit; a miss counts a miss only when `count_miss` (the
  // engine's non-blocking probe from the JS thread does not, the read that
  // follows it on a reader thread does).
  Value Lookup(uint64_t key, bool count_miss = true);
  void Insert(uint64_t key, Value value);
  void Erase(uint64_t key);
  void EraseRange(uint64_t lo, uint64_t hi);
  ReadCacheStats stats() const;
  uint64_t capacity() const { return capacity_; }

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unique_ptr<TinyLfuShard> lru;  // guarded by mu
  };
  Shard& ShardOf(uint64_t key);

  uint64_t capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace engine
}  // namespace tessera
