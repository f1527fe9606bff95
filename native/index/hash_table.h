// Lock-free-for-readers hash table from index key to the id of the key's
// head record (see record_arena.h).
//
// Structure: open addressing over 64-byte groups of 12 slots. A group holds
// two atomic 64-bit tag words (one tag byte per slot: 0 empty, 1 tombstone,
// 0x80 | 7 hash bits occupied) and twelve atomic 32-bit record ids (0 empty,
// kTombstone). Probing is linear over groups, starting at a group chosen by
// the high hash bits; a lookup stops at the first group with an empty slot.
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

}  // namespace index
}  // namespace tessera
