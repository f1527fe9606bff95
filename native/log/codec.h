// On-disk codecs of the object engine (docs/format.md is the byte-level
// reference; the tests in log_test.cc pin every layout with fixed vectors).
//
// Everything here is pure: no I/O, no allocation beyond the output strings
// and vectors, thread-safe. Decoders never read past the input they are
// given and answer kCorrupt for every malformed input; encoders assert their
// preconditions (the engine validated the values before).
//
// Little-endian throughout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tessera {
namespace log {

// ---- limits (names carry their units) ----
constexpr uint32_t format_version = 1;
constexpr uint32_t format_file_bytes = 4096;
constexpr uint32_t segment_header_bytes = 4096;
constexpr uint32_t chunk_trailer_bytes = 32;
constexpr uint32_t chunk_bytes_min = 4096;
constexpr uint32_t chunk_bytes_max = 65536;
constexpr uint32_t shards_max = 32;  // k + m
constexpr uint32_t record_header_fixed_bytes = 48;
constexpr uint32_t record_header_bytes_max = 16384;
constexpr uint32_t bucket_bytes_max = 63;
constexpr uint32_t object_key_bytes_max = 1024;
constexpr uint32_t version_id_bytes_max = 64;
constexpr uint32_t content_type_bytes_max = 1024;
// The whole metadata map of an OBJECT record: the Store keeps user metadata
// (S3's 2 KiB) plus its own reserved entries (system headers, part layout).
constexpr uint32_t metadata_bytes_max = 8192;
constexpr uint32_t checksum_count_max = 8;
constexpr uint64_t extent_count_max = 1u << 20;

// ---- FORMAT file: one per drive, 4096 bytes ----
struct FormatInfo {
  uint32_t version = format_version;
  uint32_t drive_index = 0;
  uint32_t data_shards = 0;
  uint32_t parity_shards = 0;
  uint32_t chunk_bytes = 0;
  uint32_t segment_stripes = 0;
  uint8_t store_id[16] = {};
  uint64_t created_ms = 0;
};
// out receives exactly format_file_bytes bytes.
void EncodeFormat(const FormatInfo& info, std::string* out);
Status DecodeFormat(const uint8_t* data, size_t len, FormatInfo* out);

// ---- segment header: first 4096 bytes of every segment file ----
struct SegmentHeader {
  uint64_t segment_id = 0;
  uint32_t drive_index = 0;
  uint8_t store_id[16] = {};
};
void EncodeSegmentHeader(const SegmentHeader& header, uint8_t* out4096);
Status DecodeSegmentHeader(const uint8_t* data, size_t len, SegmentHeader* out);

// ---- chunk trailer: the last 32 bytes of every chunk ----
constexpr uint8_t kChunkGroupStart = 1;  // first stripe of a commit group

struct ChunkTrailer {
  uint64_t segment_id = 0;
  uint32_t stripe_index = 0;
  uint8_t drive_index = 0;
  uint8_t flags = 0;  // kChunkGroupStart
  uint64_t group_seq = 0;
};
// chunk: chunk_bytes bytes; the payload (chunk_bytes - 32) is already in
// place; writes the trailer with its CRC32C into the last 32 bytes.
void SealChunk(const ChunkTrailer& trailer, uint8_t* chunk, size_t chunk_bytes);
// Verifies the trailer magic and CRC32C over payload + trailer; kCorrupt
// when either is wrong. Does not check the fields against expectations.
Status OpenChunk(const uint8_t* chunk, size_t chunk_bytes, ChunkTrailer* out);

// ---- stripe / logical address math ----
struct Layout {
  uint32_t data_shards = 0;
  uint32_t parity_shards = 0;
  uint32_t chunk_bytes = 0;
  uint32_t segment_stripes = 0;

  uint32_t shards() const { return data_shards + parity_shards; }
  uint32_t payload_bytes() const { return chunk_bytes - chunk_trailer_bytes; }
  uint64_t stripe_data_bytes() const {
    return uint64_t{data_shards} * payload_bytes();
  }
  uint64_t segment_data_bytes() const {
    return stripe_data_bytes() * segment_stripes;
  }
  uint64_t segment_file_bytes() const {
    return segment_header_bytes + uint64_t{segment_stripes} * chunk_bytes;
  }
  uint64_t StripeFileOffset(uint32_t stripe) const {
    return segment_header_bytes + uint64_t{stripe} * chunk_bytes;
  }
  // Logical address of the first byte of (segment, stripe).
  uint64_t StripeAddress(uint64_t segment, uint32_t stripe) const {
    return segment * segment_data_bytes() + stripe * stripe_data_bytes();
  }
  bool Valid() const;
};

struct Location {
  uint64_t segment = 0;
  uint32_t stripe = 0;
  uint32_t data_chunk = 0;  // 0..k-1
  uint32_t byte = 0;        // 0..payload_bytes-1
};
Location Locate(const Layout& layout, uint64_t address);

// ---- records ----
enum class RecordType : uint8_t {
  kGroup = 1,
  kObject = 2,
  kFragment = 3,
  kDelete = 4,
  kBucket = 5,
};

// The fixed 48-byte header; the variable part follows it (header_bytes in
// total), then payload_bytes of payload.
struct RecordHeader {
  RecordType type = RecordType::kGroup;
  uint8_t flags = 0;
  uint16_t header_bytes = record_header_fixed_bytes;
  uint64_t seq = 0;
  uint64_t payload_bytes = 0;
  uint32_t payload_crc32c = 0;
};

// Encodes the header around an already-encoded variable part. out gets
// header_bytes = 48 + var.size() bytes.
void EncodeRecordHeader(RecordType type, uint8_t flags, uint64_t seq,
                        std::string_view var, uint64_t payload_bytes,
                        uint32_t payload_crc32c, std::string* out);
// Decodes and verifies the fixed header (magic, type, sizes, CRC over the
// fixed part and the variable part). data must hold at least
// record_header_fixed_bytes; when it holds fewer than header_bytes the
// result is kOutOfRange with *needed set, so a scanner can read more.
Status DecodeRecordHeader(const uint8_t* data, size_t len, RecordHeader* out,
                          size_t* needed);

// GROUP: the first record of every commit group.
struct GroupRecord {
  uint64_t group_seq = 0;
  uint64_t segment_id = 0;
  uint32_t first_stripe = 0;
  uint32_t stripe_count = 0;
  uint64_t used_bytes = 0;  // bytes of records in the group, this one too
  uint64_t void_start = 0;  // [void_start, void_end): skipped junk
  uint64_t void_end = 0;
};
void EncodeGroupVar(const GroupRecord& group, std::string* var);
Status DecodeGroupVar(std::string_view var, GroupRecord* out);
constexpr uint32_t group_record_bytes = record_header_fixed_bytes + 48;

// Any record type (RecordHeader.flags bit 7): a copy that compaction moved
// to the log head, keeping the original seq (compaction.cc, docs/gc.md).
// Recovery replays it as a move of the version, never as a new write; the
// change feed skips it (the change happened where the original was
// written); see docs/events.md.
constexpr uint8_t kRecordRelocated = 0x80;

// OBJECT flags (RecordHeader.flags)
constexpr uint8_t kObjectDeleteMarker = 1;
constexpr uint8_t kObjectNullVersion = 2;  // unversioned / suspended bucket
constexpr uint8_t kObjectExtents = 4;      // payload is an extent list
constexpr uint8_t kObjectVersioned = 8;    // keep the previous version

struct Extent {
  uint64_t address = 0;  // logical address of the FRAGMENT record
  uint64_t length = 0;   // body bytes in it
  uint32_t crc32c = 0;   // of those body bytes
};
constexpr uint32_t extent_bytes = 20;

struct ObjectRecord {
  std::string bucket;
  std::string key;
  std::string version_id;
  std::string content_type;
  uint8_t etag[16] = {};
  uint16_t part_count = 0;
  uint64_t size = 0;
  uint64_t mtime_ms = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::pair<std::string, std::string>> checksums;  // algo, value
};
void EncodeObjectVar(const ObjectRecord& object, std::string* var);
Status DecodeObjectVar(std::string_view var, ObjectRecord* out);
void EncodeExtents(const std::vector<Extent>& extents, std::string* payload);
Status DecodeExtents(std::string_view payload, uint64_t size,
                     std::vector<Extent>* out);

// DELETE: removes a key (version_id empty) or one version of it.
struct DeleteRecord {
  std::string bucket;
  std::string key;
  std::string version_id;
};
void EncodeDeleteVar(const DeleteRecord& del, std::string* var);
Status DecodeDeleteVar(std::string_view var, DeleteRecord* out);

// BUCKET: create / delete / settings.
enum class BucketOp : uint8_t { kCreate = 1, kDelete = 2, kSettings = 3 };
enum class Versioning : uint8_t {
  kUnversioned = 0,
  kEnabled = 1,
  kSuspended = 2
};
struct BucketRecord {
  BucketOp op = BucketOp::kCreate;
  std::string name;
  Versioning versioning = Versioning::kUnversioned;
  uint64_t created_ms = 0;
};
void EncodeBucketVar(const BucketRecord& bucket, std::string* var);
Status DecodeBucketVar(std::string_view var, BucketRecord* out);

// FRAGMENT: the variable part carries the upload it belongs to.
void EncodeFragmentVar(uint64_t upload_id, uint64_t body_offset,
                       std::string* var);
Status DecodeFragmentVar(std::string_view var, uint64_t* upload_id,
                         uint64_t* body_offset);

}  // namespace log
}  // namespace tessera
