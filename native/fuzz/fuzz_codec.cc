// libFuzzer target: the FORMAT file, segment header, chunk trailer and
// record decoders (native/log/codec.h) on arbitrary bytes. They must reject
// or accept without reading past the input (ASan) or undefined behaviour
// (UBSan); an accepted record header's fields must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/ts_assert.h"
#include "log/codec.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  log::FormatInfo format;
  (void)log::DecodeFormat(data, size, &format).ok();
  log::SegmentHeader segment;
  (void)log::DecodeSegmentHeader(data, size, &segment).ok();
  if (size >= 4096) {
    log::ChunkTrailer trailer;
    (void)log::OpenChunk(data, 4096, &trailer).ok();
  }
  log::RecordHeader header;
  size_t needed = 0;
  if (size >= log::record_header_fixed_bytes &&
      log::DecodeRecordHeader(data, size, &header, &needed).ok()) {
    TS_ASSERT(header.header_bytes >= log::record_header_fixed_bytes &&
              header.header_bytes <= size);
    const std::string_view var(
        reinterpret_cast<const char*>(data) + log::record_header_fixed_bytes,
        header.header_bytes - log::record_header_fixed_bytes);
    log::GroupRecord group;
    (void)log::DecodeGroupVar(var, &group).ok();
    log::ObjectRecord object;
    (void)log::DecodeObjectVar(var, &object).ok();
    log::DeleteRecord del;
    (void)log::DecodeDeleteVar(var, &del).ok();
    log::BucketRecord bucket;
    (void)log::DecodeBucketVar(var, &bucket).ok();
  }
  // Every variable-part decoder also on the raw input.
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  log::GroupRecord group;
  (void)log::DecodeGroupVar(raw, &group).ok();
  log::ObjectRecord object;
  (void)log::DecodeObjectVar(raw, &object).ok();
  std::vector<log::Extent> extents;
  (void)log::DecodeExtents(raw, uint64_t(size) * 4096, &extents).ok();
  return 0;
}
