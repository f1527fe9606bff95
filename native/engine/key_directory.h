// KeyDirectory: the engine's view of buckets and object versions, rebuilt
// from the log at open and updated after each commit group is durable.
//
// This is the narrow interface the engine needs from an index (publish a
// version, look one up, list in key order). It is a plain ordered map
// behind a reader-writer lock, standing in until issue 4's lock-free
// native/index lands on main; the engine only calls the methods below, so
// the switch is local to key_directory.cc.
//
// Concurrency contract
// - Writers (Apply*) run on the engine's committer thread only (and during
//   recovery, before any reader exists); they take the lock exclusively.
// - Readers (Lookup, List*, bucket queries) run on any thread and take the
//   lock shared; they copy what they return, so nothing they hold can be
//   invalidated by a later writer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/status.h"
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
  uint64_t payload_bytes = 0;
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

  // Snapshot support: every bucket and version, in key order.
  struct Dump {
    std::vector<BucketInfo> buckets;
    // bucket index into `buckets`, key, versions newest first
    std::vector<
        std::pair<uint32_t, std::pair<std::string, std::vector<VersionMeta>>>>
        keys;
  };
  void DumpAll(Dump* out) const;
  void LoadAll(const Dump& dump);

  // ---- space reclamation (compaction.cc; docs/gc.md) ----
  // Compare-and-swap of one version's location: if `key` still holds the
  // version with `seq` at `old_address`, it moves to `new_address` (same
  // record sizes) and true is returned; otherwise nothing changes (the
  // version was overwritten, deleted or already moved), so a relocation
  // never brings back what a later write removed. Committer thread only.
  bool Relocate(const std::string& bucket, const std::string& key, uint64_t seq,
                uint64_t old_address, uint64_t new_address);
  // Every version of `key`, newest first (empty when absent).
  void KeyVersions(const std::string& bucket, const std::string& key,
                   std::vector<VersionMeta>* out) const;
  // Calls fn(bucket, key, meta) for every version, under the shared lock
  // (fn must not call back into the directory).
  void ForEachVersion(
      const std::function<void(const std::string&, const std::string&,
                               const VersionMeta&)>& fn) const;

 private:
  struct Bucket {
    BucketInfo info;
    std::map<std::string, std::vector<VersionMeta>> keys;  // newest first
  };

  mutable std::shared_mutex mu_;
  std::map<std::string, Bucket> buckets_;  // guarded by mu_
  uint64_t versions_ = 0;                  // guarded by mu_
};

}  // namespace engine
}  // namespace tessera
