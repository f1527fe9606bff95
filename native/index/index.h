// tessera's in-memory object index: the public API of native/index.
//
// One Index maps (bucket, object key) to the key's versions, newest first,
// each with the fixed metadata the engine needs to find and describe it
// (ObjectMeta). It offers point lookups, lookups by version id, S3-style
// ordered listings, conditional updates and snapshots to a file.
//
// Concurrency contract
// - Readers (Get, GetVersion, List, ListVersions, key_count) may run on any
//   thread at any time, concurrently with each other and with a writer. They
//   take no lock, never wait for a writer and never retry: each one enters an
//   epoch guard (epoch.h), follows atomically published ids, and leaves.
// - Writers (Put, DeleteVersion, Remove, SaveSnapshot) may be called from any
//   thread; they are serialized by one writer mutex that readers never touch.
//   A single serialized writer is a deliberate choice: the engine's commits
//   are already serialized by its group commit, an index update costs a few
//   microseconds at most (docs/BENCHMARKS.md), and a single writer makes the
//   hash table, the B+tree and conditional updates simple to reason about (a
//   condition is checked and applied under the same mutex, so it is atomic
//   against every other writer of the same key).
// - Published records are immutable (record_arena.h); updates publish new
//   records and retire old ones through epoch-based reclamation.
// - The Index must outlive every call on it: destroy it only when no reader
//   or writer is inside one of its methods.
//
// Linearizability: every operation on a single key is linearizable (a read
// returns the value of the last write linearized before it). Listings are
// not snapshots; see List() for their exact guarantee.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "index/epoch.h"
#include "index/hash_table.h"
#include "index/key_hash.h"
#include "index/key_order_tree.h"
#include "index/record_arena.h"

namespace tessera {
namespace index {

constexpr uint32_t kBucketBytesMin = 3;
constexpr uint32_t kBucketBytesMax = 63;
constexpr uint32_t kObjectKeyBytesMax = 1024;
constexpr uint32_t kSegmentMax = (1u << 24) - 1;
constexpr uint64_t kSegmentOffsetMax = (uint64_t{1} << 40) - 1;
constexpr uint64_t kObjectSizeMax = (uint64_t{1} << 48) - 1;
constexpr uint64_t kMtimeMsMax = (uint64_t{1} << 48) - 1;
constexpr uint32_t kListKeysMax = 10000;  // page size limit

// The fixed metadata of one object version.
struct ObjectMeta {
  uint32_t segment = 0;     // <= kSegmentMax
  uint64_t offset = 0;      // <= kSegmentOffsetMax, byte offset in segment
  uint32_t length = 0;      // bytes of the record in its segment
  uint64_t version_id = 0;  // the engine's commit sequence number
  uint64_t size = 0;        // object bytes, <= kObjectSizeMax
  uint64_t mtime_ms = 0;    // last-modified, ms since the epoch
  uint8_t etag[16] = {};    // MD5, or MD5 of the parts' MD5s
  uint16_t part_count = 0;  // 0: plain MD5 ETag; N: "md5-of-md5s-N"
  uint8_t flags = 0;        // kFlagDeleteMarker | kFlagUser1 | kFlagUser2
};

enum class PutMode {
  // The new version replaces the current one; older versions are kept
  // (unversioned buckets, and the "null" version of suspended buckets).
  kReplaceCurrent,
  // The current version becomes the newest older version (versioned buckets).
  kNewVersion,
};

// A condition checked against the key's current version, atomically with the
// write it guards.
struct Condition {
  enum class Kind {
    kNone,
    // Holds when the key has no current version or it is a delete marker
    // (S3 If-None-Match: *).
    kIfAbsent,
    // Holds when the current version exists, is not a delete marker, and has
    // this ETag and part count (S3 If-Match).
    kIfEtagMatches,
    // Holds when the current version (delete markers included) has this
    // version id: a compare-and-swap on the version.
    kIfVersionMatches,
  };
  Kind kind = Kind::kNone;
  uint8_t etag[16] = {};
  uint16_t part_count = 0;
  uint64_t version_id = 0;

  static Condition None() { return Condition(); }
  static Condition IfAbsent();
  static Condition IfEtagMatches(const uint8_t etag[16], uint16_t part_count);
  static Condition IfVersionMatches(uint64_t version_id);
};

struct ListRequest {
  std::string_view bucket;
  std::string_view prefix;
  std::string_view delimiter;     // empty: no grouping
  std::string_view start_after;   // keys strictly after this one
  std::string_view continuation;  // from a previous page; overrides start_after
  uint32_t max_keys = 1000;       // 1..kListKeysMax, keys + common prefixes
};

struct ListEntry {
  std::string key;  // object key (without the bucket)
  ObjectMeta meta;
};

struct ListPage {
  std::vector<ListEntry> entries;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation;  // opaque bytes; set when truncated
};

struct ListVersionsRequest {
  std::string_view bucket;
  std::string_view prefix;
  std::string_view delimiter;
  std::string_view key_marker;      // start after this key...
  bool has_version_marker = false;  // ...or after this version of it
  uint64_t version_id_marker = 0;
  uint32_t max_keys = 1000;  // 1..kListKeysMax, versions + common prefixes
};

struct VersionEntry {
  std::string key;
  ObjectMeta meta;
  bool is_latest = false;
};

struct ListVersionsPage {
  std::vector<VersionEntry> entries;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker;
  bool has_next_version_marker = false;
  uint64_t next_version_id_marker = 0;
};

struct IndexMemory {
  uint64_t keys = 0;            // keys with at least one version
  uint64_t versions = 0;        // all versions, delete markers included
  uint64_t key_bytes = 0;       // sum of bucket + object key bytes
  uint64_t record_bytes = 0;    // live record arena bytes (keys included)
  uint64_t arena_reserved = 0;  // arena chunks allocated
  uint64_t hash_bytes = 0;
  uint64_t tree_bytes = 0;
  // (record_bytes - key_bytes + hash_bytes + tree_bytes) / keys
  double bytes_per_object_excluding_keys = 0;
};

struct IndexOptions {
  uint64_t hash_seed = 0;      // 0: chosen at random
  uint64_t expected_keys = 0;  // pre-sizes the hash table
};

class Index {
 public:
  explicit Index(const IndexOptions& options = IndexOptions());
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // ---- writers (serialized; never block readers) ----

  // Writes a version. kPreconditionFailed when `cond` does not hold;
  // kInvalidArgument / kOutOfRange for a bad bucket, key or field.
  Status Put(std::string_view bucket, std::string_view key,
             const ObjectMeta& meta, PutMode mode,
             const Condition& cond = Condition());
  // Deletes one version (the current one promotes the next older). kNotFound
  // when the key or version is absent.
  Status DeleteVersion(std::string_view bucket, std::string_view key,
                       uint64_t version_id);
  // Deletes the key with all its versions. kNotFound when absent;
  // kPreconditionFailed when `cond` (kNone, kIfEtagMatches or
  // kIfVersionMatches) does not hold.
  Status Remove(std::string_view bucket, std::string_view key,
                const Condition& cond = Condition());
  // Moves one version (current or older) to a new location: a compare-and-
  // swap that holds only while the version still lives at (from_segment,
  // from_offset). Every other field is kept. kNotFound when the key or
  // version is absent; kPreconditionFailed when it lives elsewhere (space
  // reclamation, native/engine/compaction.cc).
  Status Relocate(std::string_view bucket, std::string_view key,
                  uint64_t version_id, uint32_t from_segment,
                  uint64_t from_offset, uint32_t to_segment,
                  uint64_t to_offset);

  // ---- readers (any thread, lock-free) ----

  // The current version (possibly a delete marker); false when absent.
  // Inline (below): see docs/index.md, "Point lookups".
  bool Get(std::string_view bucket, std::string_view key,
           ObjectMeta* out) const;
  bool GetVersion(std::string_view bucket, std::string_view key,
                  uint64_t version_id, ObjectMeta* out) const;
  // Batched lookups of keys in one bucket: found[i] tells whether out[i] is
  // set. Prefetches ahead, so it is faster than n calls to Get.
  void GetMany(std::string_view bucket, const std::string_view* keys, size_t n,
               ObjectMeta* out, bool* found) const;

  // One page of current versions in byte order of the key, skipping keys
  // whose current version is a delete marker. With a delimiter, keys that
  // contain it after the prefix are rolled up into one common prefix, and the
  // listing seeks past the whole prefix (one tree descent per prefix).
  //
  // Consistency while writes continue: keys come out strictly increasing;
  // continuation resumes strictly after the last key or common prefix of the
  // previous page; each returned entry is a version that was current at some
  // instant during the call; a key that exists (and is not a delete marker)
  // for the whole listing is returned exactly once across the pages; a key
  // that never exists during the listing is never returned. A key written or
  // deleted during the listing may or may not appear. (This is what S3
  // promises; a page is not a point-in-time snapshot of the whole bucket.)
  Status List(const ListRequest& req, ListPage* page) const;
  // The same listing streamed to a sink, without building strings: views
  // passed to the sink are valid only during the call. `truncated` and
  // `next_continuation` are as in ListPage.
  class ListSink {
   public:
    virtual ~ListSink() = default;
    virtual void Entry(std::string_view key, const ObjectMeta& meta) = 0;
    virtual void CommonPrefix(std::string_view prefix) = 0;
  };
  Status ListInto(const ListRequest& req, ListSink* sink, bool* truncated,
                  std::string* next_continuation) const;
  // One page of versions (newest first within a key, keys in byte order),
  // delete markers included, with the same consistency rules per key.
  Status ListVersions(const ListVersionsRequest& req,
                      ListVersionsPage* page) const;

  uint64_t key_count() const;
  IndexMemory Memory() const;  // takes the writer mutex

  // ---- snapshots (docs/format.md, "Index snapshot") ----

  // Writes every key and version to `path` (temp file + fdatasync + rename +
  // directory fsync). Holds the writer mutex for the duration, so the file is
  // a consistent cut; readers continue.
  Status SaveSnapshot(const std::string& path) const;
  // Builds a new Index from a snapshot. Any corruption or truncation gives
  // kCorrupt and no index (never a partial one).
  static Status LoadSnapshot(const std::string& path,
                             std::unique_ptr<Index>* out);

 private:
  struct KeyBuf {
    char bytes[kIndexKeyBytesMax];
    uint32_t size;
    std::string_view view() const { return std::string_view(bytes, size); }
  };
  static Status MakeKey(std::string_view bucket, std::string_view key,
                        KeyBuf* out);
  // The read paths' key check: MakeKey's rules without building the key or
  // a Status (a lookup that cannot name a valid key finds nothing). Readers
  // compare records against the bucket and key where the caller has them
  // (RecordKeyIs), so a lookup makes no copy and no call.
  static bool ValidReadKey(std::string_view bucket, std::string_view key) {
    return bucket.size() >= kBucketBytesMin &&
           bucket.size() <= kBucketBytesMax && key.size() <= kObjectKeyBytesMax;
  }
  // Any thread, inside a ReadGuard: the head record id of (bucket, key),
  // whose hash is `h`, or 0.
  uint32_t FindHead(std::string_view bucket, std::string_view key,
                    uint64_t h) const {
    return hash_.FindIf(
        h, [&](const char* r) { return RecordKeyIs(r, bucket, key); });
  }
  static void MetaFromRecord(const char* r, ObjectMeta* m) {
    RecordFields f;
    DecodeRecord(r, &f);
    m->segment = static_cast<uint32_t>(f.location >> 40);
    m->offset = f.location & kSegmentOffsetMax;
    m->length = f.length;
    m->version_id = f.version_id;
    m->size = f.size;
    m->mtime_ms = f.mtime_ms;
    std::memcpy(m->etag, f.etag, 16);
    m->part_count = f.part_count;
    m->flags = f.flags & kFlagsPublicMask;
  }
  static Status CheckMeta(const ObjectMeta& meta);
  static Status CheckCondition(const Condition& cond, const char* head);
  uint32_t NewRecord(const RecordFields& fields, std::string_view key,
                     uint32_t next);
  void RetireRecord(uint32_t id);
  void RetireChain(uint32_t head);
  void RemoveKeyLocked(std::string_view ikey, uint64_t hash, uint32_t head);

  mutable std::mutex writer_mu_;
  RecordArena arena_;
  HashTable hash_;
  KeyOrderTree tree_;
  uint64_t seed_;
  std::atomic<uint64_t> keys_{0};
  uint64_t versions_ = 0;   // writer view
  uint64_t key_bytes_ = 0;  // writer view
  // Last: destroyed first, while the arena it frees into still exists.
  mutable RetireList retire_;
};

// The single lookup, inline so that a caller's loop of Gets is one short
// stretch of code: the shorter a Get, the more of the next Gets' cache
// misses the core's out-of-order window overlaps with this one's.
inline bool Index::Get(std::string_view bucket, std::string_view key,
                       ObjectMeta* out) const {
  if (!ValidReadKey(bucket, key)) return false;
  const uint64_t h = HashIndexKey(bucket, key, seed_);
  ReadGuard guard;
  const uint32_t id = FindHead(bucket, key, h);
  if (id == 0) return false;
  MetaFromRecord(arena_.At(id), out);
  return true;
}

}  // namespace index
}  // namespace tessera
