// SegmentUsage: per-segment live bytes, the newest record seq written into
// each segment, and which segments are freed (docs/gc.md).
//
// Live bytes of a segment are the bytes of the records the index still
// needs there: the OBJECT record (header + payload) of every version the
// KeyDirectory holds, plus, for a version whose payload is an extent list,
// each FRAGMENT record (header + body) it names. Everything else a segment
// consumed (superseded or deleted versions, DELETE and BUCKET records,
// GROUP records, fragments of aborted uploads, the zero tail of a group's
// last stripe, stripes left unused when a group did not fit) is dead.
//
// The engine recomputes the live counts at open from the index (after the
// snapshot and the replay), so they are exact after any crash; the
// committer keeps them exact afterwards by adding each version it publishes
// and removing each version it supersedes or deletes, before it changes the
// index. Fragments of an upload still in progress are not in the index and
// count as dead; compaction refuses to free a segment that holds one.
//
// Concurrency contract: every method takes the object's own mutex; writers
// are the committer (and open, before any other thread), readers any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "engine/key_directory.h"
#include "log/codec.h"

namespace tessera {
namespace engine {

struct SegmentSpace {
  uint64_t id = 0;
  uint64_t live_bytes = 0;
  uint64_t max_seq = 0;  // newest record seq written here (not relocated)
  bool freed = false;
};

class SegmentUsage {
 public:
  // Bytes a FRAGMENT record of `length` body bytes takes in the log.
  static constexpr uint64_t kFragmentHeaderBytes =
      log::record_header_fixed_bytes + 16;

  void Reset(const log::Layout& layout);
  // A segment that exists (created or found at open).
  void NoteSegment(uint64_t id, bool freed);
  void MarkFreed(uint64_t id);
  // A record with sequence `seq` was written into `segment` (relocated
  // copies are not noted: they keep their original seq).
  void NoteRecord(uint64_t segment, uint64_t seq);
  // Every segment before `below` holds nothing newer than `seq` (used after
  // a reopen from a snapshot, which does not record per-segment seqs).
  void BoundMaxSeq(uint64_t below, uint64_t seq);

  // `payload_bytes`: the OBJECT record's payload (meta.size for an inline
  // body, the extent list's length otherwise); `extents`: the version's
  // extent list when its payload is one.
  void AddVersion(const VersionMeta& meta, uint64_t payload_bytes,
                  const std::vector<log::Extent>* extents);
  void RemoveVersion(const VersionMeta& meta);
  // The extent list of the extent-list version at `address`, if tracked.
  bool ExtentsOf(uint64_t address, std::vector<log::Extent>* out) const;
  // Addresses of extent-list versions with a FRAGMENT in `segment`.
  std::set<uint64_t> ExtentObjectsIn(uint64_t segment) const;

  uint64_t LiveBytes(uint64_t segment) const;
  bool Freed(uint64_t segment) const;
  std::vector<SegmentSpace> All() const;

 private:
  void AddBytes(uint64_t address, uint64_t bytes, int sign);

  mutable std::mutex mu_;
  log::Layout layout_;
  std::map<uint64_t, SegmentSpace> segments_;                 // guarded
  std::map<uint64_t, std::vector<log::Extent>> extent_objs_;  // guarded
  // Payload bytes of the extent-list versions, by address (inline bodies
  // need none: their payload is meta.size).
  std::map<uint64_t, uint64_t> list_bytes_;  // guarded
};

}  // namespace engine
}  // namespace tessera
