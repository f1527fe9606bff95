// KeyDirectory: the engine's view of buckets and object versions, rebuilt
// from the log at open and updated after each commit group is durable.
//
// This is the narrow interface the engine needs from an index (publish a
// version, look one up, list in key order), built on native/index: object
// versions live in an index::Index (lock-free hash table for lookups, B+tree
// for listings, epoch-based reclamation); buckets, which change rarely, live
// in an immutable table replaced copy-on-write and published through an
// atomic pointer, its old copies retired through the same epochs.
//
// Concurrency contract
// - Writers (Apply*, LoadIndex) run on the engine's committer thread only (and
//   during recovery, before any reader exists).
// - Readers (Lookup, List*, bucket queries, BucketStates, SaveIndex) run on any
// thread and
//   never lock: they pin an epoch (index::ReadGuard), follow published
//   pointers and copy what they return.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "index/epoch.h"
#include "index/index.h"
#include "log/codec.h"

namespace tessera {
namespace engine {

// Where one version lives and what it is.
struct VersionMeta {
  uint64_t seq = 0;  // commit sequence; orders versions, names them
  bool null_version = false;
  bool delete_marker = false;
  bool extents = false;       // payload is an extent list of FRAGMENTs
  uint64_t address = 0;       // logical address of the OBJECT record
  uint32_t header_bytes = 0;  // its header (fixed + variable part)
  uint64_t size = 0;
  uint64_t mtime_ms = 0;
  uint8_t etag[16] = {};
  uint16_t part_count = 0;
};

// "null" or 16 lowercase hex digits of seq.
std::string VersionIdString(const VersionMeta& meta);

struct BucketInfo {
  std::string name;
  log::Versioning versioning = log::Versioning::kUnversioned;
  uint64_t created_ms = 0;
};

struct ListPage {
  std::vector<std::pair<std::string, VersionMeta>> entries;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_marker;  // last key or common prefix returned
};

struct VersionEntry {
  std::string key;
  VersionMeta meta;
  bool is_latest = false;
};

struct ListVersionsPage {
  std::vector<VersionEntry> entries;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_version_id_marker;
};

class KeyDirectory {
 public:
  // ---- writers (committer thread) ----
  void ApplyBucket(const log::BucketRecord& record);
  // Versioned (keep_previous) puts push a new newest version; others replace
  // the key's null version (unversioned buckets hold only that one).
  void ApplyObject(const std::string& bucket, const std::string& key,
                   const VersionMeta& meta, bool keep_previous);
  // version_id empty: the key with all its versions; else one version.
  // Returns false when there was nothing to delete.
  bool ApplyDelete(const std::string& bucket, const std::string& key,
                   const std::string& version_id);

  // ---- readers (any thread) ----
  bool GetBucket(const std::string& name, BucketInfo* out) const;
  std::vector<BucketInfo> ListBuckets() const;
  // Versions of every key in the bucket, delete markers included.
  uint64_t BucketVersionCount(const std::string& name) const;
  // version_id empty: the current version (may be a delete marker).
  // kNotFound when the bucket, key or version is absent.
  Status Lookup(const std::string& bucket, const std::string& key,
                const std::string& version_id, VersionMeta* out) const;
  Status List(const std::string& bucket, const std::string& prefix,
              const std::string& delimiter, const std::string& start_after,
              uint32_t max_keys, ListPage* out) const;
  Status ListVersions(const std::string& bucket, const std::string& prefix,
                      const std::string& delimiter,
                      const std::string& key_marker,
                      const std::string& version_id_marker, uint32_t max_keys,
                      ListVersionsPage* out) const;
  uint64_t object_versions() const;
  // The index's memory accounting (takes its writer mutex; for benchmarks).
  index::IndexMemory IndexMemoryUse() const { return index_->Memory(); }

  // ---- snapshots ----
  struct BucketState {
    BucketInfo info;
    uint64_t versions = 0;  // versions in the bucket, delete markers included
  };
  // Every bucket with its version count, in name order.
  std::vector<BucketState> BucketStates() const;
  // Writes every key and version in the index's snapshot format
  // (docs/format.md, "Index snapshot") to `path`. Called by the committer, so
  // the file and BucketStates() taken on the same thread describe the same
  // state.
  Status SaveIndex(const std::string& path) const;
  // Replaces the (empty) directory with a verified index snapshot and its
  // buckets. kCorrupt, leaving the directory empty, when the file does not
  // verify or its version count disagrees with the buckets'. Recovery only,
  // before any reader exists.
  Status LoadIndex(const std::string& path,
                   const std::vector<BucketState>& buckets);

  // ---- space reclamation (compaction.cc; docs/gc.md) ----
  // Compare-and-swap of one version's location: if `key` still holds the
  // version with `seq` at `old_address`, it moves to `new_address` (same
  // record sizes) and true is returned; otherwise nothing changes (the
  // version was overwritten, deleted or already moved), so a relocation
  // never brings back what a later write removed. Committer thread only.
  bool Relocate(const std::string& bucket, const std::string& key, uint64_t seq,
                uint64_t old_address, uint64_t new_address);

  // ---- change generation ----
  // A counter every writer above raises once its change is visible to
  // readers (a release store after the change, committer thread only). A
  // reader that loads the same value before and after (or before a read
  // and at the time it uses the result) saw no change in between: what it
  // read is still the directory's answer. The cell is shared so that
  // memory outside the engine can hold it: lib/store reads it as a
  // Float64Array to tell when its hot-object copies may still answer
  // (docs/engine.md, "Hot objects on the JS thread"). Doubles count
  // exactly to 2^53 changes.
  std::shared_ptr<std::atomic<double>> generation_cell() const {
    return generation_;
  }
  // Every version of `key`, newest first (empty when absent).
  void KeyVersions(const std::string& bucket, const std::string& key,
                   std::vector<VersionMeta>* out) const;
  // Calls fn(bucket, key, meta) for every version, bucket by bucket, page
  // by page (each page a consistent cut per key; lock-free).
  void ForEachVersion(
      const std::function<void(const std::string&, const std::string&,
                               const VersionMeta&)>& fn) const;

 private:
  struct BucketNode {
    BucketInfo info;
    std::atomic<uint64_t> versions{0};  // written by the committer only
  };
  using BucketTable = std::map<std::string, BucketNode*>;  // immutable

  // Writer side: publish `next` and retire the current table (and `gone`).
  void Publish(BucketTable* next, BucketNode* gone);
  BucketNode* FindBucket(const std::string& name) const;  // in a ReadGuard
  // The seq of the key's null version, if any (scans its versions).
  bool FindNullVersion(const std::string& bucket, const std::string& key,
                       uint64_t* seq) const;
  // Removes every version in the bucket (committer only).
  void RemoveAllKeys(const std::string& bucket);

  // Raises the generation when a writer returns (every return path).
  class ChangeMark {
   public:
    explicit ChangeMark(KeyDirectory* d) : d_(d) {}
    ~ChangeMark() {
      std::atomic<double>& g = *d_->generation_;
      g.store(g.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    ChangeMark(const ChangeMark&) = delete;
    ChangeMark& operator=(const ChangeMark&) = delete;

   private:
    KeyDirectory* d_;
  };

  std::shared_ptr<std::atomic<double>> generation_ =
      std::make_shared<std::atomic<double>>(0.0);
  std::unique_ptr<index::Index> index_;
  std::atomic<const BucketTable*> buckets_;
  std::atomic<uint64_t> versions_{0};  // written by the committer only
  index::RetireList retire_;           // committer only

 public:
  KeyDirectory();
  ~KeyDirectory();
  KeyDirectory(const KeyDirectory&) = delete;
  KeyDirectory& operator=(const KeyDirectory&) = delete;
};

}  // namespace engine
}  // namespace tessera
