#include "index/record_arena.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

// Memory orders in this file: reader paths name each order where it is used.
// Every `relaxed` access without its own comment is writer-private: a load of
// the writer's own earlier store (ordered by the writer mutex), or a store
// into a node/table/record that no reader can reach yet (it is published
// later by one seq_cst store, which orders these stores before it), or a
// statistic.

namespace tessera {
namespace index {

void EncodeRecord(char* r, const RecordFields& f, std::string_view key,
                  uint32_t next) {
  TS_ASSERT(f.size < (uint64_t{1} << 48) && f.mtime_ms < (uint64_t{1} << 48));
  TS_ASSERT(key.size() <= kIndexKeyBytesMax && f.flags < 32);
  StoreU64(r, f.location);
  StoreU64(r + 8, f.version_id);
  StoreU64(r + 16,
           f.size | (uint64_t{key.size()} << 48) | (uint64_t{f.flags} << 59));
  StoreU64(r + 24, f.mtime_ms | (uint64_t{f.part_count} << 48));
  std::memcpy(r + 32, &f.length, 4);
  std::memcpy(r + 36, f.etag, 16);
  uint32_t off = kRecordHeaderBytes;
  if (f.flags & kFlagHasOlder) {
    new (r + off) std::atomic<uint32_t>(next);
    off += 4;
  } else {
    TS_ASSERT(next == 0);
  }
  if (!key.empty()) std::memcpy(r + off, key.data(), key.size());
  TS_ASSERT(RecordKeyLen(r) == key.size());
}

RecordArena::RecordArena() {
  for (auto& c : chunks_) c.store(nullptr, std::memory_order_relaxed);
  free_heads_.assign(RecordBytes(kIndexKeyBytesMax, true) / 4 + 1, 0);
  next_id_ = 1;  // id 0 means "none"
}

RecordArena::~RecordArena() {
  for (uint32_t i = 0; i < chunk_count_; ++i) {
    std::free(chunks_[i].load(std::memory_order_relaxed));
  }
}

uint32_t RecordArena::Allocate(uint32_t bytes) {
  TS_ASSERT(bytes >= kRecordHeaderBytes && bytes % 4 == 0);
  const uint32_t words = bytes / 4;
  TS_ASSERT(words < free_heads_.size());
  uint32_t id = free_heads_[words];
  if (id != 0) {
    uint32_t next;
    std::memcpy(&next, At(id), 4);
    free_heads_[words] = next;
  } else {
    const bool fits = chunk_count_ > 0 &&
                      (next_id_ % kIdsPerChunk) + words <= kIdsPerChunk &&
                      next_id_ / kIdsPerChunk == chunk_count_ - 1;
    if (!fits) {
      if (chunk_count_ == kChunksMax) return 0;
      char* chunk =
          static_cast<char*>(std::aligned_alloc(kChunkBytes, kChunkBytes));
      TS_ASSERT_MSG(chunk != nullptr, "record arena: out of memory");
      // Advice only: failure (no THP support) changes speed, not behavior.
      (void)::madvise(chunk, kChunkBytes, MADV_HUGEPAGE);
      // release: readers use the chunk only through ids published later,
      // but At() loads with acquire so the pointer itself is never torn.
      chunks_[chunk_count_].store(chunk, std::memory_order_release);
      next_id_ = chunk_count_ * kIdsPerChunk + (chunk_count_ == 0 ? 1 : 0);
      ++chunk_count_;
    }
    id = next_id_;
    next_id_ += words;
  }
  bytes_live_ += bytes;
  TS_ASSERT(id != 0);
  return id;
}

void RecordArena::Free(uint32_t id, uint32_t bytes) {
  TS_ASSERT(id != 0 && bytes % 4 == 0);
  TS_ASSERT(bytes_live_ >= bytes);
  const uint32_t words = bytes / 4;
  std::memcpy(At(id), &free_heads_[words], 4);
  free_heads_[words] = id;
  bytes_live_ -= bytes;
}

}  // namespace index
}  // namespace tessera
