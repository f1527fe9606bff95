// Lock-free-for-readers hash table from index key to the id of the key's
// head record (see record_arena.h).
//
// Structure: open addressing over 64-byte groups of 12 slots. A group holds
// two atomic 64-bit tag words (one tag byte per slot: 0 empty, 1 tombstone,
// 2..255 occupied: 8 hash bits, 0 and 1 moved up by 2) and twelve atomic 32-bit
// record ids (0 empty, kTombstone). Probing is linear over groups, starting at
// a group chosen by the high hash bits; a lookup stops at the first group with
// an empty slot.
//
// Who may read: any thread inside an epoch ReadGuard (Find). Readers take no
// lock, never wait and never retry: a probe sequence is bounded by the table.
// Who may write: one writer at a time (the Index serializes writers with a
// mutex that readers never touch).
// Immutable once published: a table's size; the fact that a slot is no
// longer empty (slots go empty -> occupied -> tombstone -> occupied, never
// back to empty), so "an empty slot ends the probe" stays true for readers.
// Mutable: a slot's id may change from one head record of key K to another
// head record of the same K (overwrite) or to kTombstone (erase); a
// tombstone may be reused for a new key. The full key comparison against the
// record is authoritative, so a reader that sees a stale tag only costs a
// comparison.
// Growth: the writer builds a complete new table off to the side while
// readers keep using the old one (it stays valid: no writes happen during the
// rebuild, because the writer is the one rebuilding), publishes it with one
// seq_cst store, and retires the old table through EBR.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "index/epoch.h"
#include "index/record_arena.h"

namespace tessera {
namespace index {

class HashTable {
 public:
  static constexpr uint32_t kTombstone = 0xFFFFFFFFu;
  static constexpr uint32_t kSlotsPerGroup = 12;

  explicit HashTable(const RecordArena* arena);
  ~HashTable();
  HashTable(const HashTable&) = delete;
  HashTable& operator=(const HashTable&) = delete;

  // Any thread, inside a ReadGuard. Returns the head record id or 0.
  uint32_t Find(std::string_view key, uint64_t hash) const;
  // Find with the key comparison supplied by the caller: `is_key(record)`
  // says whether a head record holds the wanted key. Inline, so that a
  // reader's Get is one short stretch of code: a lookup of a few hundred
  // instructions leaves the core's out-of-order window room for the next
  // lookup's cache misses (docs/index.md, "Point lookups").
  template <class IsKey>
  uint32_t FindIf(uint64_t hash, IsKey&& is_key) const;

  // Any thread, inside a ReadGuard: prefetch the home group of `hash`, and
  // the id in it whose tag matches (or 0), so batched lookups can overlap
  // their cache misses. Neither result is authoritative; Find is.
  void Prefetch(uint64_t hash) const;
  uint32_t Candidate(uint64_t hash) const;

  // Writer only. `key` must be absent; `id`'s record holds `key`.
  void Insert(uint32_t id, uint64_t hash, RetireList* retire);
  // Writer only. Replaces the id of present `key`; returns the old id.
  uint32_t Replace(std::string_view key, uint64_t hash, uint32_t id);
  // Writer only. Tombstones present `key`; returns the old id.
  uint32_t Erase(std::string_view key, uint64_t hash);
  // Writer only. Grows so that `keys` live keys fit without another growth.
  void Reserve(uint64_t keys, RetireList* retire);

  uint64_t size() const { return live_; }
  uint64_t bytes() const;  // slot memory of the current table
  uint64_t capacity_slots() const;
  uint64_t hash_seed() const { return seed_; }
  void set_hash_seed(uint64_t seed) { seed_ = seed; }

  // Tag-word arithmetic (SWAR over the 8 tag bytes of a word). Public so
  // that tests can check the two MatchSlots variants against each other.
  static constexpr uint64_t kOnes = 0x0101010101010101ull;
  static constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full;
  // Bytes 4..7 of the second tag word have no slot; they hold the tombstone
  // tag so they never match and never count as empty.
  static constexpr uint64_t kWord1Unused = 0x0101010100000000ull;
  static constexpr uint64_t kWord1Mask = 0x00000000FFFFFFFFull;
  // 0x80 in each byte of `x` that is zero, exactly (no false positives).
  static uint64_t ZeroBytes(uint64_t x) {
    return ~(((x & kLow7) + kLow7) | x | kLow7);
  }
  static uint64_t MatchBytes(uint64_t word, uint8_t tag) {
    return ZeroBytes(word ^ (kOnes * tag));
  }
  // 254 tag values, so a probe of a full group meets a false candidate (a
  // record fetch, usually a cache miss) about 12/254 of the time.
  // Reader's view of a group's two tag words: bit s set in the result when
  // slot s's tag is `tag`, and in `*empty` when slot s is empty (slots
  // 0-11; bits 12-15 are never set: those bytes hold the tombstone tag).
  // SSE2 where the compiler has it (every x86-64), else the SWAR version;
  // index_test checks that the two agree.
  static uint32_t MatchSlots(uint64_t w0, uint64_t w1, uint8_t tag,
                             uint32_t* empty) {
#if defined(__SSE2__)
    const __m128i v =
        _mm_set_epi64x(static_cast<long long>(w1), static_cast<long long>(w0));
    *empty = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())));
    return static_cast<uint32_t>(_mm_movemask_epi8(
        _mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(tag)))));
#else
    return MatchSlotsSwar(w0, w1, tag, empty);
#endif
  }
  static uint32_t MatchSlotsSwar(uint64_t w0, uint64_t w1, uint8_t tag,
                                 uint32_t* empty) {
    // ZeroBytes marks a slot with its byte's 0x80 bit; the multiply gathers
    // bit 8i to bit 56 + i (no two partial products meet, so no carries).
    auto slots = [](uint64_t lo_bits, uint64_t hi_bits) {
      constexpr uint64_t kGather = 0x0102040810204080ull;
      const uint32_t lo =
          static_cast<uint32_t>(((lo_bits >> 7) * kGather) >> 56);
      const uint32_t hi = static_cast<uint32_t>(
          (((hi_bits & kWord1Mask) >> 7) * kGather) >> 56);
      return lo | (hi << 8);
    };
    *empty = slots(ZeroBytes(w0), ZeroBytes(w1));
    return slots(MatchBytes(w0, tag), MatchBytes(w1, tag));
  }
  static uint8_t TagOf(uint64_t hash) {
    const uint8_t t = static_cast<uint8_t>(hash);
    return t < 2 ? static_cast<uint8_t>(t + 2) : t;
  }
  static uint64_t HomeGroup(uint64_t hash, uint64_t group_count) {
    return static_cast<uint64_t>(
        (static_cast<__uint128_t>(hash) * group_count) >> 64);
  }
  static uint64_t NextGroup(uint64_t g, uint64_t group_count) {
    return g + 1 == group_count ? 0 : g + 1;
  }

 private:
  struct alignas(64) Group {
    std::atomic<uint64_t> tags[2];
    std::atomic<uint32_t> ids[kSlotsPerGroup];
  };
  struct Table {
    uint64_t group_count;
    Group* groups;
  };
  static Table* NewTable(uint64_t group_count);
  static void DeleteTable(Table* t);
  // Writer only: the slot holding `key`, or false.
  bool Locate(const Table* t, std::string_view key, uint64_t hash,
              uint64_t* group, uint32_t* slot) const;
  static void PlaceNew(Table* t, uint32_t id, uint64_t hash);
  void Rebuild(uint64_t group_count, RetireList* retire);

  const RecordArena* arena_;
  std::atomic<Table*> table_;
  uint64_t live_ = 0;  // occupied slots (writer view)
  uint64_t used_ = 0;  // occupied + tombstones (writer view)
  uint64_t seed_ = 0;
};

template <class IsKey>
inline uint32_t HashTable::FindIf(uint64_t hash, IsKey&& is_key) const {
  // seq_cst: the table pointer is one of the shared roots whose load must
  // follow the reader's epoch pin in the total order (see epoch.h).
  const Table* t = table_.load(std::memory_order_seq_cst);
  const uint8_t tag = TagOf(hash);
  uint64_t g = HomeGroup(hash, t->group_count);
  for (uint64_t probes = 0; probes < t->group_count; ++probes) {
    const Group& grp = t->groups[g];
    // relaxed: tags are hints; the id load below and the key comparison
    // decide. A stale tag costs a comparison or ends a probe early only for
    // a key whose insert is concurrent with this read.
    const uint64_t w0 = grp.tags[0].load(std::memory_order_relaxed);
    const uint64_t w1 = grp.tags[1].load(std::memory_order_relaxed);
    uint32_t empty;
    for (uint32_t bits = MatchSlots(w0, w1, tag, &empty); bits != 0;
         bits &= bits - 1) {
      const uint32_t slot = static_cast<uint32_t>(__builtin_ctz(bits));
      // seq_cst: the id is a shared pointer whose record must not be
      // reclaimed under us (EBR store-load pairing, see epoch.h).
      const uint32_t id = grp.ids[slot].load(std::memory_order_seq_cst);
      if (id == 0 || id == kTombstone) continue;
      const char* r = arena_->At(id);
      // A head record (52 + key bytes, 4-byte aligned) spans two or three
      // cache lines, and where the key starts depends on the first line:
      // fetch the next line too now, so the two misses overlap.
      __builtin_prefetch(r + 64);
      if (is_key(r)) return id;
    }
    if (empty != 0) return 0;
    g = NextGroup(g, t->group_count);
  }
  return 0;
}

}  // namespace index
}  // namespace tessera
