// Engine::Census: counts of the index and the log for store.stats()
// (docs/metrics.md). It walks the KeyDirectory page by page (a shared lock
// per page, so writers are never held up for long) and probes segment ids;
// it reads no log data except the record header of objects stored as
// extent lists (large bodies: one header per object of several MiB).
#include <string>

#include "core/ts_assert.h"
#include "engine/engine.h"

namespace tessera {
namespace engine {
namespace {

constexpr uint32_t kCensusPageKeys = 1000;
constexpr uint64_t kFragmentRecordBytes = log::record_header_fixed_bytes + 16;

}  // namespace

Status Engine::Census(EngineCensus* out) {
  TS_ASSERT(out != nullptr);
  *out = EngineCensus();
  for (const BucketInfo& b : directory_.ListBuckets()) {
    out->buckets++;
    std::string key_marker, version_marker, last_key;
    for (;;) {
      ListVersionsPage page;
      Status s = directory_.ListVersions(
          b.name, "", "", key_marker, version_marker, kCensusPageKeys, &page);
      if (s.code() == StatusCode::kNotFound) break;  // deleted meanwhile
      TS_RETURN_IF_ERROR(s);
      for (const VersionEntry& e : page.entries) {
        const VersionMeta& m = e.meta;
        if (e.key != last_key) {
          out->keys++;
          out->key_bytes += b.name.size() + e.key.size();
          last_key = e.key;
        }
        out->versions++;
        if (m.delete_marker) {
          out->delete_markers++;
        } else if (e.is_latest) {
          out->objects++;
          out->current_bytes += m.size;
        }
        out->logical_bytes += m.size;
        uint64_t payload_bytes = m.size;
        if (m.extents) {
          // The index keeps no payload length for extent lists; the record
          // header has it.
          TS_RETURN_IF_ERROR(ReadPayloadBytes(m, &payload_bytes));
        }
        uint64_t record = m.header_bytes + payload_bytes;
        if (m.extents) {
          // The FRAGMENT records the extent list names: their bodies and
          // headers.
          record +=
              m.size + payload_bytes / log::extent_bytes * kFragmentRecordBytes;
        }
        out->live_log_bytes += record;
      }
      if (!page.truncated) break;
      key_marker = page.next_key_marker;
      version_marker = page.next_version_id_marker;
    }
  }
  // The index's own accounting: record arena, hash table and tree nodes.
  const index::IndexMemory memory = directory_.IndexMemoryUse();
  out->index_memory_bytes =
      memory.arena_reserved + memory.hash_bytes + memory.tree_bytes;
  out->log_bytes = stats().next_address;
  const uint64_t last = out->log_bytes / layout_.segment_data_bytes();
  uint64_t freed = 0;
  for (uint64_t id = 0; id <= last; id++) {
    Segment* seg = nullptr;
    TS_RETURN_IF_ERROR(OpenSegment(id, false, &seg));
    // A segment freed by compaction (compaction.cc) holds no log bytes.
    if (seg != nullptr && SegmentFreed(id)) {
      freed++;
    } else if (seg != nullptr) {
      out->segments++;
    }
  }
  TS_ASSERT(freed * layout_.segment_data_bytes() <= out->log_bytes);
  out->log_bytes -= freed * layout_.segment_data_bytes();
  out->segment_file_bytes = layout_.segment_file_bytes();
  out->shards = layout_.shards();
  TS_ASSERT(out->objects + out->delete_markers <= out->versions);
  return Status::Ok();
}

}  // namespace engine
}  // namespace tessera
