#include "index/hash_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

#include "index/key_hash.h"

// Memory orders in this file: reader paths name each order where it is used.
// Every `relaxed` access without its own comment is writer-private: a load of
// the writer's own earlier store (ordered by the writer mutex), or a store
// into a node/table/record that no reader can reach yet (it is published
// later by one seq_cst store, which orders these stores before it), or a
// statistic.

namespace tessera {
namespace index {
namespace {

constexpr uint64_t kMaxLoadNum = 15, kMaxLoadDen = 16;  // 0.9375

}  // namespace

HashTable::Table* HashTable::NewTable(uint64_t group_count) {
  TS_ASSERT(group_count >= 1);
  Table* t = new Table;
  t->group_count = group_count;
  // Large tables are 2 MiB aligned and advised as huge pages (fewer TLB
  // misses on random probes); small ones are cache-line aligned.
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = group_count * sizeof(Group);
  if (bytes >= kHuge) {
    const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
    t->groups = static_cast<Group*>(std::aligned_alloc(kHuge, rounded));
    TS_ASSERT_MSG(t->groups != nullptr, "hash table: out of memory");
    (void)::madvise(t->groups, rounded, MADV_HUGEPAGE);
  } else {
    t->groups = static_cast<Group*>(std::aligned_alloc(64, bytes));
  }
  TS_ASSERT_MSG(t->groups != nullptr, "hash table: out of memory");
  for (uint64_t g = 0; g < group_count; ++g) {
    Group* grp = new (&t->groups[g]) Group;
    grp->tags[0].store(0, std::memory_order_relaxed);
    grp->tags[1].store(kWord1Unused, std::memory_order_relaxed);
    for (auto& id : grp->ids) id.store(0, std::memory_order_relaxed);
  }
  return t;
}

void HashTable::DeleteTable(Table* t) {
  std::free(t->groups);
  delete t;
}

HashTable::HashTable(const RecordArena* arena) : arena_(arena) {
  TS_ASSERT(arena != nullptr);
  table_.store(NewTable(16), std::memory_order_relaxed);
}

HashTable::~HashTable() { DeleteTable(table_.load(std::memory_order_relaxed)); }

uint64_t HashTable::bytes() const {
  // relaxed: a statistic read by the writer or a test.
  return table_.load(std::memory_order_relaxed)->group_count * sizeof(Group);
}
uint64_t HashTable::capacity_slots() const {
  return table_.load(std::memory_order_relaxed)->group_count * kSlotsPerGroup;
}

uint32_t HashTable::Find(std::string_view key, uint64_t hash) const {
  return FindIf(hash, [key](const char* r) { return RecordKey(r) == key; });
}

void HashTable::Prefetch(uint64_t hash) const {
  // seq_cst: see Find (same root).
  const Table* t = table_.load(std::memory_order_seq_cst);
  __builtin_prefetch(&t->groups[HomeGroup(hash, t->group_count)]);
}

uint32_t HashTable::Candidate(uint64_t hash) const {
  const Table* t = table_.load(std::memory_order_seq_cst);
  const Group& grp = t->groups[HomeGroup(hash, t->group_count)];
  const uint8_t tag = TagOf(hash);
  // relaxed: a hint for prefetching only.
  uint32_t empty;
  const uint32_t bits =
      MatchSlots(grp.tags[0].load(std::memory_order_relaxed),
                 grp.tags[1].load(std::memory_order_relaxed), tag, &empty);
  if (bits == 0) return 0;
  // seq_cst: a shared id (EBR), though only used to prefetch.
  return grp.ids[__builtin_ctz(bits)].load(std::memory_order_seq_cst);
}

bool HashTable::Locate(const Table* t, std::string_view key, uint64_t hash,
                       uint64_t* group, uint32_t* slot) const {
  const uint8_t tag = TagOf(hash);
  uint64_t g = HomeGroup(hash, t->group_count);
  for (uint64_t probes = 0; probes < t->group_count; ++probes) {
    Group& grp = t->groups[g];
    // relaxed: the writer reads its own stores.
    const uint64_t w0 = grp.tags[0].load(std::memory_order_relaxed);
    const uint64_t w1 = grp.tags[1].load(std::memory_order_relaxed);
    uint32_t empty;
    for (uint32_t bits = MatchSlots(w0, w1, tag, &empty); bits != 0;
         bits &= bits - 1) {
      const uint32_t s = static_cast<uint32_t>(__builtin_ctz(bits));
      const uint32_t id = grp.ids[s].load(std::memory_order_relaxed);
      if (id == 0 || id == kTombstone) continue;
      if (RecordKey(arena_->At(id)) == key) {
        *group = g;
        *slot = s;
        return true;
      }
    }
    if (empty != 0) return false;
    g = NextGroup(g, t->group_count);
  }
  return false;
}

// Writer only: first empty or tombstone slot on `hash`'s probe path.
void HashTable::PlaceNew(Table* t, uint32_t id, uint64_t hash) {
  TS_ASSERT(id != 0 && id != kTombstone);
  const uint8_t tag = TagOf(hash);
  uint64_t g = HomeGroup(hash, t->group_count);
  for (uint64_t probes = 0; probes < t->group_count; ++probes) {
    Group& grp = t->groups[g];
    for (uint32_t s = 0; s < kSlotsPerGroup; ++s) {
      // relaxed: writer-private read of its own stores.
      const uint32_t old = grp.ids[s].load(std::memory_order_relaxed);
      if (old != 0 && old != kTombstone) continue;
      // seq_cst: publishes the record (all its bytes were written before);
      // also part of the EBR total order when a tombstone is reused.
      grp.ids[s].store(id, std::memory_order_seq_cst);
      std::atomic<uint64_t>& word = grp.tags[s < 8 ? 0 : 1];
      const uint32_t shift = 8 * (s < 8 ? s : s - 8);
      const uint64_t w = word.load(std::memory_order_relaxed);
      // release: the tag is a hint, written after the id so a reader that
      // matches it finds the id in place.
      word.store((w & ~(uint64_t{0xFF} << shift)) | (uint64_t{tag} << shift),
                 std::memory_order_release);
      return;
    }
    g = NextGroup(g, t->group_count);
  }
  TS_ASSERT_MSG(false, "hash table: no free slot (load factor invariant)");
}

void HashTable::Rebuild(uint64_t group_count, RetireList* retire) {
  Table* old = table_.load(std::memory_order_relaxed);
  Table* t = NewTable(group_count);
  // Every key costs two random accesses: its record (to hash the key) and
  // its group in the new table. A two-stage software pipeline overlaps them:
  // a record is prefetched kDistance keys before it is hashed, and a group
  // kDistance keys before the key is placed in it. (Without it a growth of
  // 2^23 keys was one cache miss after another, and its pause dominated the
  // 90/10 mixed benchmark.)
  constexpr uint64_t kDistance = 16;
  uint32_t ids[kDistance];     // prefetched records, waiting to be hashed
  uint32_t hashed[kDistance];  // hashed keys, waiting to be placed
  uint64_t hashes[kDistance];
  uint64_t n_in = 0, n_hashed = 0, moved = 0;
  auto place_oldest = [&] {
    const uint64_t k = (n_hashed - kDistance) % kDistance;
    PlaceNew(t, hashed[k], hashes[k]);
    ++moved;
  };
  auto hash_oldest = [&] {
    const uint32_t id = ids[(n_in - kDistance) % kDistance];
    const uint64_t h = HashIndexKey(RecordKey(arena_->At(id)), seed_);
    __builtin_prefetch(&t->groups[HomeGroup(h, t->group_count)]);
    if (n_hashed >= kDistance) place_oldest();
    hashed[n_hashed % kDistance] = id;
    hashes[n_hashed % kDistance] = h;
    ++n_hashed;
  };
  for (uint64_t g = 0; g < old->group_count; ++g) {
    for (uint32_t s = 0; s < kSlotsPerGroup; ++s) {
      const uint32_t id = old->groups[g].ids[s].load(std::memory_order_relaxed);
      if (id == 0 || id == kTombstone) continue;
      const char* r = arena_->At(id);
      __builtin_prefetch(r);
      __builtin_prefetch(r + 64);
      if (n_in >= kDistance) hash_oldest();
      ids[n_in % kDistance] = id;
      ++n_in;
    }
  }
  // Drain: hash the records still waiting, then place the hashed keys.
  for (uint64_t left = std::min(n_in, kDistance); left > 0; --left) {
    const uint32_t id = ids[(n_in - left) % kDistance];
    const uint64_t h = HashIndexKey(RecordKey(arena_->At(id)), seed_);
    if (n_hashed >= kDistance) place_oldest();
    hashed[n_hashed % kDistance] = id;
    hashes[n_hashed % kDistance] = h;
    ++n_hashed;
  }
  for (uint64_t left = std::min(n_hashed, kDistance); left > 0; --left) {
    const uint64_t k = (n_hashed - left) % kDistance;
    PlaceNew(t, hashed[k], hashes[k]);
    ++moved;
  }
  TS_ASSERT(n_hashed == n_in);
  TS_ASSERT(moved == live_);
  // seq_cst: publishes the new table (its slots were filled before) and
  // unlinks the old one for EBR.
  table_.store(t, std::memory_order_seq_cst);
  used_ = live_;
  retire->Retire([old] { DeleteTable(old); });
}

void HashTable::Reserve(uint64_t keys, RetireList* retire) {
  const uint64_t slots_needed = keys * kMaxLoadDen / kMaxLoadNum + 1;
  const uint64_t groups = (slots_needed + kSlotsPerGroup - 1) / kSlotsPerGroup;
  if (groups > table_.load(std::memory_order_relaxed)->group_count) {
    Rebuild(groups, retire);
  }
  TS_ASSERT(capacity_slots() * kMaxLoadNum >= keys * kMaxLoadDen);
}

void HashTable::Insert(uint32_t id, uint64_t hash, RetireList* retire) {
  Table* t = table_.load(std::memory_order_relaxed);
  if ((used_ + 1) * kMaxLoadDen >
      t->group_count * kSlotsPerGroup * kMaxLoadNum) {
    // Grow to 6/5 of the live keys (tombstones are dropped by the
    // rebuild), which keeps the load between 0.78 and 0.94: 5.7 to 6.8
    // bytes per key, for the memory budget (4/3 allowed 7.6 bytes just
    // after a growth). The price is more frequent growth: each key is
    // rehashed about 5 times over the table's growth instead of 3, which the
    // pipelined Rebuild keeps cheap. 12-slot groups keep probe sequences
    // short at that load.
    const uint64_t target = (live_ + 1) * 6 / 5;
    const uint64_t slots = target * kMaxLoadDen / kMaxLoadNum + 1;
    Rebuild((slots + kSlotsPerGroup - 1) / kSlotsPerGroup, retire);
    t = table_.load(std::memory_order_relaxed);
  }
  PlaceNew(t, id, hash);
  ++live_;
  ++used_;
  TS_ASSERT(used_ * kMaxLoadDen <=
            t->group_count * kSlotsPerGroup * kMaxLoadNum + kMaxLoadDen);
}

uint32_t HashTable::Replace(std::string_view key, uint64_t hash, uint32_t id) {
  Table* t = table_.load(std::memory_order_relaxed);
  uint64_t g;
  uint32_t s;
  const bool found = Locate(t, key, hash, &g, &s);
  TS_ASSERT_MSG(found, "hash table: replace of an absent key");
  const uint32_t old = t->groups[g].ids[s].load(std::memory_order_relaxed);
  // seq_cst: publishes the new record and unlinks the old one (EBR).
  t->groups[g].ids[s].store(id, std::memory_order_seq_cst);
  TS_ASSERT(old != 0 && old != kTombstone);
  return old;
}

uint32_t HashTable::Erase(std::string_view key, uint64_t hash) {
  Table* t = table_.load(std::memory_order_relaxed);
  uint64_t g;
  uint32_t s;
  const bool found = Locate(t, key, hash, &g, &s);
  TS_ASSERT_MSG(found, "hash table: erase of an absent key");
  Group& grp = t->groups[g];
  const uint32_t old = grp.ids[s].load(std::memory_order_relaxed);
  // seq_cst: unlinks the record (EBR).
  grp.ids[s].store(kTombstone, std::memory_order_seq_cst);
  std::atomic<uint64_t>& word = grp.tags[s < 8 ? 0 : 1];
  const uint32_t shift = 8 * (s < 8 ? s : s - 8);
  const uint64_t w = word.load(std::memory_order_relaxed);
  // release: hint only (see Find).
  word.store((w & ~(uint64_t{0xFF} << shift)) | (uint64_t{1} << shift),
             std::memory_order_release);
  --live_;
  TS_ASSERT(old != 0 && old != kTombstone);
  return old;
}

}  // namespace index
}  // namespace tessera
