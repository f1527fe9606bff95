// Records: the fixed metadata of one object version, plus the key bytes for
// the current version of a key, in an arena addressed by 32-bit ids.
//
// Layout of a record (4-byte aligned; offsets in bytes; little-endian, the
// same in memory and in no file: snapshots have their own format):
//    0  u64 location       segment (24 bits) << 40 | offset (40 bits)
//    8  u64 version_id     the engine's commit sequence of this version
//   16  u64 size48 | key_len11 << 48 | flags5 << 59
//   24  u64 mtime_ms48 | part_count16 << 48
//   32  u32 length         bytes of the record in its segment
//   36  u8[16] etag        MD5 (or MD5 of part MD5s when part_count > 0)
//   52  [atomic u32 next]  only when kFlagHasOlder: id of the next-older
//                          version record (0 = none)
//   52|56 key bytes        only in a key's current ("head") record
// An older version has key_len 0: it is reached through its head.
//
// Immutability: every byte except `next` is written before the record id is
// published (by a seq_cst store into the hash table, the key-order tree or a
// `next` field) and never changes while reachable. `next` is changed only by
// the writer (seq_cst store) to unlink an older version.
//
// Who may call: Allocate/Free — the index writer only. At — any thread that
// holds an id it loaded under a ReadGuard (or the writer).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/ts_assert.h"
#include "index/byte_loads.h"

namespace tessera {
namespace index {

// Flag bits stored in a record. The low three are the caller's
// (ObjectMeta::flags); the two high ones are the index's own.
constexpr uint8_t kFlagDeleteMarker = 1u << 0;
constexpr uint8_t kFlagUser1 = 1u << 1;
constexpr uint8_t kFlagUser2 = 1u << 2;
constexpr uint8_t kFlagsPublicMask = 0x07;
constexpr uint8_t kFlagHasOlder = 1u << 3;  // a `next` field is present
constexpr uint8_t kFlagDead = 1u << 4;      // reserved; never published

constexpr uint32_t kRecordHeaderBytes = 52;
constexpr uint32_t kIndexKeyBytesMax = 1 + 63 + 1024;  // see index.h

// Decoded fixed metadata (what the engine stores per version).
struct RecordFields {
  uint64_t location = 0;
  uint64_t version_id = 0;
  uint64_t size = 0;      // < 2^48
  uint64_t mtime_ms = 0;  // < 2^48
  uint32_t length = 0;
  uint16_t part_count = 0;
  uint8_t flags = 0;  // public + internal bits
  uint8_t etag[16] = {};
};

inline uint32_t RecordBytes(uint32_t key_len, bool has_older) {
  const uint32_t raw = kRecordHeaderBytes + (has_older ? 4u : 0u) + key_len;
  return (raw + 3u) & ~3u;
}

inline uint8_t RecordFlags(const char* r) {
  return static_cast<uint8_t>(LoadU64(r + 16) >> 59);
}
inline uint32_t RecordKeyLen(const char* r) {
  return static_cast<uint32_t>((LoadU64(r + 16) >> 48) & 0x7FF);
}
inline uint64_t RecordVersionId(const char* r) { return LoadU64(r + 8); }
inline const uint8_t* RecordEtag(const char* r) {
  return reinterpret_cast<const uint8_t*>(r + 36);
}
inline uint16_t RecordPartCount(const char* r) {
  return static_cast<uint16_t>(LoadU64(r + 24) >> 48);
}
inline std::atomic<uint32_t>* RecordNext(const char* r) {
  TS_ASSERT((RecordFlags(r) & kFlagHasOlder) != 0);
  return reinterpret_cast<std::atomic<uint32_t>*>(const_cast<char*>(r) + 52);
}
inline std::string_view RecordKey(const char* r) {
  const uint32_t off =
      kRecordHeaderBytes + ((RecordFlags(r) & kFlagHasOlder) ? 4u : 0u);
  return std::string_view(r + off, RecordKeyLen(r));
}
// Byte equality for the short strings of index keys, inlined (8-byte
// blocks, the last one overlapping) instead of a libc memcmp call.
inline bool BytesEqual(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    if (n > 16) {
      for (size_t i = 0; i + 8 < n; i += 8) {
        if (LoadU64(a + i) != LoadU64(b + i)) return false;
      }
      return LoadU64(a + n - 8) == LoadU64(b + n - 8);
    }
    return ((LoadU64(a) ^ LoadU64(b)) |
            (LoadU64(a + n - 8) ^ LoadU64(b + n - 8))) == 0;
  }
  if (n >= 4) {
    return ((LoadU32(a) ^ LoadU32(b)) |
            (LoadU32(a + n - 4) ^ LoadU32(b + n - 4))) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}
// Whether head record `r` holds the internal key of (`bucket`, `key`): its
// length byte, the bucket, the object key (Index::MakeKey), compared part by
// part so that a reader need not build the internal key first.
inline bool RecordKeyIs(const char* r, std::string_view bucket,
                        std::string_view key) {
  const std::string_view rk = RecordKey(r);
  return rk.size() == 1 + bucket.size() + key.size() &&
         static_cast<uint8_t>(rk[0]) == bucket.size() &&
         BytesEqual(rk.data() + 1, bucket.data(), bucket.size()) &&
         BytesEqual(rk.data() + 1 + bucket.size(), key.data(), key.size());
}
inline uint32_t RecordTotalBytes(const char* r) {
  return RecordBytes(RecordKeyLen(r), (RecordFlags(r) & kFlagHasOlder) != 0);
}

// Inline: every lookup decodes the record it found.
inline void DecodeRecord(const char* r, RecordFields* out) {
  out->location = LoadU64(r);
  out->version_id = LoadU64(r + 8);
  const uint64_t w2 = LoadU64(r + 16);
  out->size = w2 & ((uint64_t{1} << 48) - 1);
  out->flags = static_cast<uint8_t>(w2 >> 59);
  const uint64_t w3 = LoadU64(r + 24);
  out->mtime_ms = w3 & ((uint64_t{1} << 48) - 1);
  out->part_count = static_cast<uint16_t>(w3 >> 48);
  std::memcpy(&out->length, r + 32, 4);
  std::memcpy(out->etag, r + 36, 16);
}
// Writes a record into `r` (RecordBytes(key.size(), has_older) bytes).
// `fields.flags` carries kFlagHasOlder iff `next` is meaningful.
void EncodeRecord(char* r, const RecordFields& fields, std::string_view key,
                  uint32_t next);

// Chunked arena. Ids are byte offsets / 4 into a virtual space made of 2 MiB
// chunks that never move; id 0 is never handed out (it means "none").
class RecordArena {
 public:
  // 2 MiB chunks, 2 MiB aligned and advised as huge pages: a lookup's
  // record access then rarely misses the TLB.
  static constexpr uint32_t kChunkShift = 21;
  static constexpr uint32_t kChunkBytes = 1u << kChunkShift;
  static constexpr uint32_t kIdsPerChunk = kChunkBytes / 4;
  static constexpr uint32_t kChunksMax = 8192;  // 16 GiB of records

  RecordArena();
  ~RecordArena();
  RecordArena(const RecordArena&) = delete;
  RecordArena& operator=(const RecordArena&) = delete;

  // Writer only. Returns 0 when the arena is full (16 GiB).
  uint32_t Allocate(uint32_t bytes);
  // Writer only, after the id is unreachable by every reader (EBR).
  void Free(uint32_t id, uint32_t bytes);

  // Any thread. The chunk pointer was published before any id inside it.
  char* At(uint32_t id) const {
    TS_ASSERT(id != 0);
    // acquire: pairs with the release store that published the chunk.
    char* chunk = chunks_[id / kIdsPerChunk].load(std::memory_order_acquire);
    return chunk + static_cast<size_t>(id % kIdsPerChunk) * 4;
  }

  uint64_t bytes_live() const { return bytes_live_; }  // writer view
  uint64_t bytes_reserved() const {
    return chunk_count_ * uint64_t{kChunkBytes};
  }

 private:
  std::atomic<char*> chunks_[kChunksMax];
  uint32_t chunk_count_ = 0;
  uint32_t next_id_ = 0;  // bump pointer (in ids) inside the last chunk
  uint64_t bytes_live_ = 0;
  // Free records by size in 4-byte words; a free record's first word holds
  // the next free id. Exact-size reuse: overwrites of a key reuse its size.
  std::vector<uint32_t> free_heads_;
};

}  // namespace index
}  // namespace tessera
