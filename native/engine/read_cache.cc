#include "engine/read_cache.h"

#include <algorithm>

#include "core/ts_assert.h"

namespace tessera {
namespace engine {

namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t NextPow2(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

constexpr uint64_t kRowSeeds[4] = {0x97cb3127ull, 0xc2b2ae3d27d4eb4full,
                                   0x165667b19e3779f9ull,
                                   0x85ebca77c2b2ae63ull};
constexpr uint8_t kCounterMax = 15;

}  // namespace

// ------------------------------------------------------------ the sketch

FrequencySketch::FrequencySketch(uint64_t expected_entries) {
  width_ = NextPow2(std::max<uint64_t>(expected_entries, 64));
  mask_ = width_ - 1;
  table_.assign(width_ * 4, 0);
  doorkeeper_.assign(width_ * 4 / 64, 0);
  sample_ = 10 * width_;
}

uint64_t FrequencySketch::Index(uint32_t row, uint64_t h) const {
  return uint64_t(row) * width_ + (Mix(h ^ kRowSeeds[row]) & mask_);
}

uint32_t FrequencySketch::Counter(uint32_t row, uint64_t h) const {
  return table_[Index(row, h)];
}

void FrequencySketch::Increment(uint64_t key) {
  const uint64_t h = Mix(key);
  // Doorkeeper: two probes into width_ * 4 bits.
  const uint64_t bits = width_ * 4;
  const uint64_t b1 = h % bits, b2 = (h >> 32) % bits;
  const bool seen = (doorkeeper_[b1 / 64] >> (b1 % 64) & 1) &&
                    (doorkeeper_[b2 / 64] >> (b2 % 64) & 1);
  if (!seen) {
    doorkeeper_[b1 / 64] |= uint64_t(1) << (b1 % 64);
    doorkeeper_[b2 / 64] |= uint64_t(1) << (b2 % 64);
  } else {
    // Conservative update: raise only the counters at the minimum.
    uint32_t min = kCounterMax;
    for (uint32_t r = 0; r < 4; r++) min = std::min(min, Counter(r, h));
    if (min < kCounterMax) {
      for (uint32_t r = 0; r < 4; r++) {
        uint8_t& c = table_[Index(r, h)];
        if (c == min) c++;
      }
    }
  }
  if (++additions_ >= sample_) Reset();
}

uint32_t FrequencySketch::Frequency(uint64_t key) const {
  const uint64_t h = Mix(key);
  uint32_t min = kCounterMax;
  for (uint32_t r = 0; r < 4; r++) min = std::min(min, Counter(r, h));
  const uint64_t bits = width_ * 4;
  const uint64_t b1 = h % bits, b2 = (h >> 32) % bits;
  const bool seen = (doorkeeper_[b1 / 64] >> (b1 % 64) & 1) &&
                    (doorkeeper_[b2 / 64] >> (b2 % 64) & 1);
  return min + (seen ? 1 : 0);
}

void FrequencySketch::Reset() {
  for (uint8_t& c : table_) c >>= 1;
  std::fill(doorkeeper_.begin(), doorkeeper_.end(), 0);
  additions_ /= 2;
  resets_++;
}

// ------------------------------------------------------------- one shard

TinyLfuShard::TinyLfuShard(uint64_t capacity_bytes)
    : capacity_(capacity_bytes),
      // A counter per 512 bytes of capacity (4 rows): wide enough that a
      // once-seen key rarely collides with hot keys in all four rows.
      sketch_(std::max<uint64_t>(capacity_bytes / 512, 64)) {
  TS_ASSERT(capacity_bytes > 0);
  window_max_ = std::max<uint64_t>(capacity_ / 100, 1);
  main_max_ = capacity_ - std::min(window_max_, capacity_);
  protected_max_ = main_max_ / 5 * 4;
}

TinyLfuShard::List& TinyLfuShard::ListOf(Region r) {
  return r == Region::kWindow      ? window_
         : r == Region::kProbation ? probation_
                                   : protected_;
}

uint64_t& TinyLfuShard::BytesOf(Region r) {
  return r == Region::kWindow      ? window_bytes_
         : r == Region::kProbation ? probation_bytes_
                                   : protected_bytes_;
}

void TinyLfuShard::MoveTo(List::iterator it, Region to) {
  List& from = ListOf(it->region);
  BytesOf(it->region) -= it->charge;
  BytesOf(to) += it->charge;
  ListOf(to).splice(ListOf(to).begin(), from, it);
  it->region = to;
}

void TinyLfuShard::Remove(List::iterator it) {
  BytesOf(it->region) -= it->charge;
  map_.erase(it->key);
  ListOf(it->region).erase(it);
}

TinyLfuShard::Value TinyLfuShard::Get(uint64_t key, bool record) {
  if (record) sketch_.Increment(key);
  auto found = map_.find(key);
  if (found == map_.end()) return nullptr;
  List::iterator it = found->second;
  switch (it->region) {
    case Region::kWindow:
      MoveTo(it, Region::kWindow);
      break;
    case Region::kProbation:
      MoveTo(it, Region::kProtected);
      DemoteProtected();
      break;
    case Region::kProtected:
      MoveTo(it, Region::kProtected);
      break;
  }
  return it->value;
}

void TinyLfuShard::DemoteProtected() {
  while (protected_bytes_ > protected_max_ && !protected_.empty()) {
    MoveTo(std::prev(protected_.end()), Region::kProbation);
  }
}

void TinyLfuShard::Insert(uint64_t key, Value value) {
  TS_ASSERT(value != nullptr);
  if (map_.count(key) != 0) return;  // same key, same immutable bytes
  const uint64_t charge = value->bytes.size() + kEntryOverhead;
  if (charge > main_max_) return;  // larger than the shard's main region
  window_.push_front(Node{key, charge, Region::kWindow, std::move(value)});
  window_bytes_ += charge;
  map_.emplace(key, window_.begin());
  inserts_++;
  EvictFromWindow();
  CheckInvariants();
}

void TinyLfuShard::EvictFromWindow() {
  while (window_bytes_ > window_max_) {
    List::iterator cand = std::prev(window_.end());
    const uint64_t main_bytes = probation_bytes_ + protected_bytes_;
    if (main_bytes + cand->charge <= main_max_) {
      MoveTo(cand, Region::kProbation);
      continue;
    }
    // Main is full: the candidate must beat every victim it would push
    // out (probation's LRU end first, then protected's).
    const uint32_t cand_freq = sketch_.Frequency(cand->key);
    uint64_t freed = 0;
    const uint64_t need = main_bytes + cand->charge - main_max_;
    bool admit = true;
    std::vector<List::iterator> victims;
    for (List* list : {&probation_, &protected_}) {
      for (auto v = list->rbegin(); v != list->rend() && freed < need; ++v) {
        if (sketch_.Frequency(v->key) >= cand_freq) {
          admit = false;
          break;
        }
        victims.push_back(std::prev(v.base()));
        freed += v->charge;
      }
      if (!admit || freed >= need) break;
    }
    if (admit && freed >= need) {
      for (List::iterator v : victims) Remove(v);
      evicted_ += victims.size();
      MoveTo(cand, Region::kProbation);
    } else {
      Remove(cand);
      rejected_++;
    }
  }
}

void TinyLfuShard::Erase(uint64_t key) {
  auto found = map_.find(key);
  if (found != map_.end()) Remove(found->second);
}

void TinyLfuShard::EraseRange(uint64_t lo, uint64_t hi) {
  std::vector<List::iterator> doomed;
  for (const auto& [key, it] : map_) {
    if (key >= lo && key < hi) doomed.push_back(it);
  }
  for (List::iterator it : doomed) Remove(it);
}

void TinyLfuShard::CheckInvariants() const {
  TS_ASSERT(window_bytes_ <= window_max_);
  TS_ASSERT(probation_bytes_ + protected_bytes_ <= main_max_);
  TS_ASSERT(bytes() <= capacity_);
  TS_ASSERT(map_.size() ==
            window_.size() + probation_.size() + protected_.size());
}

// ---------------------------------------------------------- the sharded

ReadCache::ReadCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {
  TS_ASSERT(capacity_bytes > 0);
  uint64_t n = 1;
  while (n < 16 && (n * 2) * (uint64_t(4) << 20) <= capacity_bytes) n *= 2;
  for (uint64_t i = 0; i < n; i++) {
    auto shard = std::make_unique<Shard>();
    shard->lru = std::make_unique<TinyLfuShard>(
        capacity_bytes / n + (i < capacity_bytes % n ? 1 : 0));
    shards_.push_back(std::move(shard));
  }
}

ReadCache::Shard& ReadCache::ShardOf(uint64_t key) {
  return *shards_[(Mix(key ^ 0x5bd1e995ull) >> 32) % shards_.size()];
}

ReadCache::Value ReadCache::Lookup(uint64_t key, bool count_miss) {
  Shard& shard = ShardOf(key);
  Value v;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    v = shard.lru->Get(key, /*record=*/count_miss || shard.lru->Contains(key));
  }
  if (v != nullptr) {
    hits_.fetch_add(1, std::memory_order_relaxed);
  } else if (count_miss) {
    misses_.fetch_add(1, std::memory_order_relaxed);
  }
  return v;
}

void ReadCache::Insert(uint64_t key, Value value) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  shard.lru->Insert(key, std::move(value));
}

void ReadCache::Erase(uint64_t key) {
  Shard& shard = ShardOf(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  shard.lru->Erase(key);
}

void ReadCache::EraseRange(uint64_t lo, uint64_t hi) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    shard->lru->EraseRange(lo, hi);
  }
}

ReadCacheStats ReadCache::stats() const {
  ReadCacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    s.bytes += shard->lru->bytes();
    s.entries += shard->lru->entries();
    s.inserts += shard->lru->inserts();
    s.rejected += shard->lru->rejected();
    s.evicted += shard->lru->evicted();
  }
  return s;
}

}  // namespace engine
}  // namespace tessera
