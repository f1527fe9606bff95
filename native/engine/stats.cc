// Engine::Census: counts of the index and the log for store.stats()
// (docs/metrics.md). It walks the KeyDirectory page by page (a shared lock
// per page, so writers are never held up for long) and probes segment ids;
// it reads no log data.
#include <string>

#include "core/ts_assert.h"
#include "engine/engine.h"

namespace tessera {
namespace engine {
namespace {

constexpr uint32_t kCensusPageKeys = 1000;
// The index-memory estimate: per key, a std::map node (~64 bytes with the
// red-black links), a std::string and a std::vector header (~56 bytes) plus
// the key bytes; per version, one VersionMeta. It is a model of the
// allocations, not an allocator measurement.
constexpr uint64_t kKeyOverheadBytes = 64 + 32 + 24;
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
        uint64_t record = m.header_bytes + m.payload_bytes;
        if (m.extents) {
          // The FRAGMENT records the extent list names: their bodies and
          // headers.
          record += m.size +
                    m.payload_bytes / log::extent_bytes * kFragmentRecordBytes;
        }
        out->live_log_bytes += record;
      }
      if (!page.truncated) break;
      key_marker = page.next_key_marker;
      version_marker = page.next_version_id_marker;
    }
  }
  out->index_memory_bytes = out->keys * kKeyOverheadBytes + out->key_bytes +
                            out->versions * sizeof(VersionMeta);
  out->log_bytes = stats().next_address;
  const uint64_t last = out->log_bytes / layout_.segment_data_bytes();
  for (uint64_t id = 0; id <= last; id++) {
    Segment* seg = nullptr;
    TS_RETURN_IF_ERROR(OpenSegment(id, false, &seg));
    if (seg != nullptr) out->segments++;
  }
  out->segment_file_bytes = layout_.segment_file_bytes();
  out->shards = layout_.shards();
  TS_ASSERT(out->objects + out->delete_markers <= out->versions);
  return Status::Ok();
}

}  // namespace engine
}  // namespace tessera
