#include "log/codec.h"

#include <cstring>

#include "checksum/crc.h"
#include "core/ts_assert.h"

namespace tessera {
namespace log {
namespace {

constexpr char kFormatMagic[8] = {'T', 'S', 'R', 'A', 'F', 'M', 'T', '1'};
constexpr char kSegmentMagic[8] = {'T', 'S', 'R', 'A', 'S', 'E', 'G', '1'};
constexpr uint32_t kChunkMagic = 0x4b435354;   // "TSCK"
constexpr uint32_t kRecordMagic = 0x43525354;  // "TSRC"
constexpr uint32_t kFormatCrcOffset = 56;
constexpr uint32_t kSegmentCrcOffset = 44;

void Put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = uint8_t(v >> (8 * i));
}
uint16_t Get16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

Status Corrupt(const std::string& what) {
  return Status(StatusCode::kCorrupt, what);
}

// Appends little-endian fields to a string.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(char(v)); }
  void U16(uint16_t v) {
    uint8_t b[2];
    Put16(b, v);
    out_->append(reinterpret_cast<char*>(b), 2);
  }
  void U32(uint32_t v) {
    uint8_t b[4];
    Put32(b, v);
    out_->append(reinterpret_cast<char*>(b), 4);
  }
  void U64(uint64_t v) {
    uint8_t b[8];
    Put64(b, v);
    out_->append(reinterpret_cast<char*>(b), 8);
  }
  void Bytes(const void* p, size_t n) {
    out_->append(static_cast<const char*>(p), n);
  }
  // u16 length + bytes
  void Str16(std::string_view s) {
    TS_ASSERT(s.size() <= 0xffff);
    U16(uint16_t(s.size()));
    Bytes(s.data(), s.size());
  }

 private:
  std::string* out_;
};

// Reads little-endian fields with bounds checks; every failure is sticky and
// reported once by ok().
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && pos_ == in_.size(); }
  uint8_t U8() {
    const uint8_t* p = Take(1);
    return p ? p[0] : 0;
  }
  uint16_t U16() {
    const uint8_t* p = Take(2);
    return p ? Get16(p) : 0;
  }
  uint32_t U32() {
    const uint8_t* p = Take(4);
    return p ? Get32(p) : 0;
  }
  uint64_t U64() {
    const uint8_t* p = Take(8);
    return p ? Get64(p) : 0;
  }
  void Bytes(void* out, size_t n) {
    const uint8_t* p = Take(n);
    if (p) memcpy(out, p, n);
  }
  bool Str16(std::string* out, size_t max_bytes) {
    const uint16_t n = U16();
    if (!ok_ || n > max_bytes) return Fail();
    const uint8_t* p = Take(n);
    if (!p) return false;
    out->assign(reinterpret_cast<const char*>(p), n);
    return true;
  }

 private:
  bool Fail() {
    ok_ = false;
    return false;
  }
  const uint8_t* Take(size_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return nullptr;
    }
    const uint8_t* p = reinterpret_cast<const uint8_t*>(in_.data()) + pos_;
    pos_ += n;
    return p;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

// ---- FORMAT ----

void EncodeFormat(const FormatInfo& info, std::string* out) {
  TS_ASSERT(info.data_shards >= 1 && info.parity_shards >= 1);
  TS_ASSERT(info.data_shards + info.parity_shards <= shards_max);
  out->assign(format_file_bytes, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(&(*out)[0]);
  memcpy(p, kFormatMagic, 8);
  Put32(p + 8, info.version);
  Put32(p + 12, info.drive_index);
  Put32(p + 16, info.data_shards);
  Put32(p + 20, info.parity_shards);
  Put32(p + 24, info.chunk_bytes);
  Put32(p + 28, info.segment_stripes);
  memcpy(p + 32, info.store_id, 16);
  Put64(p + 48, info.created_ms);
  Put32(p + kFormatCrcOffset, crc32c::Extend(0, p, kFormatCrcOffset));
  TS_ASSERT(out->size() == format_file_bytes);
}

Status DecodeFormat(const uint8_t* data, size_t len, FormatInfo* out) {
  TS_ASSERT(out != nullptr);
  if (len != format_file_bytes) {
    return Corrupt("FORMAT file is " + std::to_string(len) + " bytes, not " +
                   std::to_string(format_file_bytes));
  }
  if (memcmp(data, kFormatMagic, 8) != 0) {
    return Corrupt("FORMAT file has a foreign magic (not a tessera drive)");
  }
  if (Get32(data + kFormatCrcOffset) !=
      crc32c::Extend(0, data, kFormatCrcOffset)) {
    return Corrupt("FORMAT file checksum mismatch");
  }
  for (size_t i = kFormatCrcOffset + 4; i < len; i++) {
    if (data[i] != 0) return Corrupt("FORMAT file has nonzero reserved bytes");
  }
  FormatInfo f;
  f.version = Get32(data + 8);
  f.drive_index = Get32(data + 12);
  f.data_shards = Get32(data + 16);
  f.parity_shards = Get32(data + 20);
  f.chunk_bytes = Get32(data + 24);
  f.segment_stripes = Get32(data + 28);
  memcpy(f.store_id, data + 32, 16);
  f.created_ms = Get64(data + 48);
  if (f.version != format_version) {
    return Status(StatusCode::kUnsupported,
                  "FORMAT version " + std::to_string(f.version) +
                      " is not supported (this build reads version " +
                      std::to_string(format_version) + ")");
  }
  Layout layout{f.data_shards, f.parity_shards, f.chunk_bytes,
                f.segment_stripes};
  if (!layout.Valid() || f.drive_index >= layout.shards()) {
    return Corrupt("FORMAT file has an invalid geometry");
  }
  *out = f;
  return Status::Ok();
}

// ---- segment header ----

void EncodeSegmentHeader(const SegmentHeader& header, uint8_t* out) {
  TS_ASSERT(out != nullptr);
  TS_ASSERT(header.drive_index < shards_max);
  memset(out, 0, segment_header_bytes);
  memcpy(out, kSegmentMagic, 8);
  Put32(out + 8, format_version);
  Put32(out + 12, header.drive_index);
  Put64(out + 16, header.segment_id);
  memcpy(out + 24, header.store_id, 16);
  Put32(out + 40, 0);
  Put32(out + kSegmentCrcOffset, crc32c::Extend(0, out, kSegmentCrcOffset));
}

Status DecodeSegmentHeader(const uint8_t* data, size_t len,
                           SegmentHeader* out) {
  TS_ASSERT(out != nullptr);
  if (len < segment_header_bytes) return Corrupt("segment header truncated");
  if (memcmp(data, kSegmentMagic, 8) != 0) {
    return Corrupt("segment header magic mismatch");
  }
  if (Get32(data + kSegmentCrcOffset) !=
      crc32c::Extend(0, data, kSegmentCrcOffset)) {
    return Corrupt("segment header checksum mismatch");
  }
  if (Get32(data + 8) != format_version) {
    return Corrupt("segment header version mismatch");
  }
  out->drive_index = Get32(data + 12);
  out->segment_id = Get64(data + 16);
  memcpy(out->store_id, data + 24, 16);
  return Status::Ok();
}

// ---- chunk trailer ----
// magic u32 | segment_id u64 | stripe u32 | drive u8 | flags u8 | 0 u16 |
// group_seq u64 | crc32c u32 (over payload + the 28 bytes before it)

void SealChunk(const ChunkTrailer& t, uint8_t* chunk, size_t chunk_bytes) {
  TS_ASSERT(chunk_bytes >= chunk_bytes_min && chunk_bytes <= chunk_bytes_max);
  TS_ASSERT(t.drive_index < shards_max);
  uint8_t* p = chunk + chunk_bytes - chunk_trailer_bytes;
  Put32(p, kChunkMagic);
  Put64(p + 4, t.segment_id);
  Put32(p + 12, t.stripe_index);
  p[16] = t.drive_index;
  p[17] = t.flags;
  Put16(p + 18, 0);
  Put64(p + 20, t.group_seq);
  Put32(p + 28, crc32c::Extend(0, chunk, chunk_bytes - 4));
}

Status OpenChunk(const uint8_t* chunk, size_t chunk_bytes, ChunkTrailer* out) {
  TS_ASSERT(chunk_bytes >= chunk_bytes_min && chunk_bytes <= chunk_bytes_max);
  TS_ASSERT(out != nullptr);
  const uint8_t* p = chunk + chunk_bytes - chunk_trailer_bytes;
  if (Get32(p) != kChunkMagic) return Corrupt("chunk trailer magic mismatch");
  if (Get32(p + 28) != crc32c::Extend(0, chunk, chunk_bytes - 4)) {
    return Corrupt("chunk checksum mismatch");
  }
  if (Get16(p + 18) != 0) return Corrupt("chunk trailer reserved bytes set");
  out->segment_id = Get64(p + 4);
  out->stripe_index = Get32(p + 12);
  out->drive_index = p[16];
  out->flags = p[17];
  out->group_seq = Get64(p + 20);
  return Status::Ok();
}

// ---- layout ----

bool Layout::Valid() const {
  return data_shards >= 1 && parity_shards >= 1 &&
         data_shards + parity_shards <= shards_max &&
         IsPowerOfTwo(chunk_bytes) && chunk_bytes >= chunk_bytes_min &&
         chunk_bytes <= chunk_bytes_max && segment_stripes >= 1 &&
         segment_stripes <= (1u << 24);
}

Location Locate(const Layout& layout, uint64_t address) {
  TS_ASSERT(layout.Valid());
  Location loc;
  loc.segment = address / layout.segment_data_bytes();
  const uint64_t r = address % layout.segment_data_bytes();
  loc.stripe = uint32_t(r / layout.stripe_data_bytes());
  const uint64_t in_stripe = r % layout.stripe_data_bytes();
  loc.data_chunk = uint32_t(in_stripe / layout.payload_bytes());
  loc.byte = uint32_t(in_stripe % layout.payload_bytes());
  TS_ASSERT(loc.stripe < layout.segment_stripes);
  TS_ASSERT(loc.data_chunk < layout.data_shards);
  return loc;
}

// ---- record header ----
// magic u32 | type u8 | flags u8 | header_bytes u16 | seq u64 |
// payload_bytes u64 | payload_crc32c u32 | reserved u8[16] |
// header_crc32c u32 (over bytes 0..44 and the variable part)

void EncodeRecordHeader(RecordType type, uint8_t flags, uint64_t seq,
                        std::string_view var, uint64_t payload_bytes,
                        uint32_t payload_crc32c, std::string* out) {
  TS_ASSERT(record_header_fixed_bytes + var.size() <= record_header_bytes_max);
  TS_ASSERT(type >= RecordType::kGroup && type <= RecordType::kBucket);
  const size_t header_bytes = record_header_fixed_bytes + var.size();
  out->assign(header_bytes, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(&(*out)[0]);
  Put32(p, kRecordMagic);
  p[4] = uint8_t(type);
  p[5] = flags;
  Put16(p + 6, uint16_t(header_bytes));
  Put64(p + 8, seq);
  Put64(p + 16, payload_bytes);
  Put32(p + 24, payload_crc32c);
  if (!var.empty())
    memcpy(p + record_header_fixed_bytes, var.data(), var.size());
  uint32_t crc = crc32c::Extend(0, p, 44);
  crc = crc32c::Extend(crc, var.data(), var.size());
  Put32(p + 44, crc);
}

Status DecodeRecordHeader(const uint8_t* data, size_t len, RecordHeader* out,
                          size_t* needed) {
  TS_ASSERT(out != nullptr && needed != nullptr);
  *needed = 0;
  if (len < record_header_fixed_bytes) {
    *needed = record_header_fixed_bytes;
    return Status(StatusCode::kOutOfRange, "record header needs more bytes");
  }
  if (Get32(data) != kRecordMagic) return Corrupt("record magic mismatch");
  const uint8_t type = data[4];
  if (type < uint8_t(RecordType::kGroup) ||
      type > uint8_t(RecordType::kBucket)) {
    return Corrupt("record type " + std::to_string(type) + " is unknown");
  }
  const uint16_t header_bytes = Get16(data + 6);
  if (header_bytes < record_header_fixed_bytes ||
      header_bytes > record_header_bytes_max) {
    return Corrupt("record header size out of range");
  }
  for (int i = 28; i < 44; i++) {
    if (data[i] != 0) return Corrupt("record reserved bytes set");
  }
  if (len < header_bytes) {
    *needed = header_bytes;
    return Status(StatusCode::kOutOfRange, "record header needs more bytes");
  }
  uint32_t crc = crc32c::Extend(0, data, 44);
  crc = crc32c::Extend(crc, data + record_header_fixed_bytes,
                       header_bytes - record_header_fixed_bytes);
  if (crc != Get32(data + 44))
    return Corrupt("record header checksum mismatch");
  const uint64_t payload_bytes = Get64(data + 16);
  if (payload_bytes > (uint64_t{1} << 40)) {
    return Corrupt("record payload size out of range");
  }
  out->type = RecordType(type);
  out->flags = data[5];
  out->header_bytes = header_bytes;
  out->seq = Get64(data + 8);
  out->payload_bytes = payload_bytes;
  out->payload_crc32c = Get32(data + 24);
  return Status::Ok();
}

// ---- GROUP ----

void EncodeGroupVar(const GroupRecord& g, std::string* var) {
  TS_ASSERT(g.stripe_count >= 1);
  TS_ASSERT(g.void_start <= g.void_end);
  var->clear();
  Writer w(var);
  w.U64(g.group_seq);
  w.U64(g.segment_id);
  w.U32(g.first_stripe);
  w.U32(g.stripe_count);
  w.U64(g.used_bytes);
  w.U64(g.void_start);
  w.U64(g.void_end);
  TS_ASSERT(var->size() + record_header_fixed_bytes == group_record_bytes);
}

Status DecodeGroupVar(std::string_view var, GroupRecord* out) {
  TS_ASSERT(out != nullptr);
  Reader r(var);
  GroupRecord g;
  g.group_seq = r.U64();
  g.segment_id = r.U64();
  g.first_stripe = r.U32();
  g.stripe_count = r.U32();
  g.used_bytes = r.U64();
  g.void_start = r.U64();
  g.void_end = r.U64();
  if (!r.done()) return Corrupt("GROUP record malformed");
  if (g.stripe_count == 0 || g.void_start > g.void_end ||
      g.used_bytes < group_record_bytes) {
    return Corrupt("GROUP record fields out of range");
  }
  *out = g;
  return Status::Ok();
}

// ---- OBJECT ----

void EncodeObjectVar(const ObjectRecord& o, std::string* var) {
  TS_ASSERT(!o.bucket.empty() && o.bucket.size() <= bucket_bytes_max);
  TS_ASSERT(o.key.size() <= object_key_bytes_max);
  TS_ASSERT(o.version_id.size() <= version_id_bytes_max);
  TS_ASSERT(o.checksums.size() <= checksum_count_max);
  var->clear();
  Writer w(var);
  w.Str16(o.bucket);
  w.Str16(o.key);
  w.Str16(o.version_id);
  w.Str16(o.content_type);
  w.Bytes(o.etag, 16);
  w.U16(o.part_count);
  w.U64(o.size);
  w.U64(o.mtime_ms);
  w.U16(uint16_t(o.metadata.size()));
  for (const auto& kv : o.metadata) {
    w.Str16(kv.first);
    w.Str16(kv.second);
  }
  w.U8(uint8_t(o.checksums.size()));
  for (const auto& kv : o.checksums) {
    w.Str16(kv.first);
    w.Str16(kv.second);
  }
}

Status DecodeObjectVar(std::string_view var, ObjectRecord* out) {
  TS_ASSERT(out != nullptr);
  Reader r(var);
  ObjectRecord o;
  r.Str16(&o.bucket, bucket_bytes_max);
  r.Str16(&o.key, object_key_bytes_max);
  r.Str16(&o.version_id, version_id_bytes_max);
  r.Str16(&o.content_type, content_type_bytes_max);
  r.Bytes(o.etag, 16);
  o.part_count = r.U16();
  o.size = r.U64();
  o.mtime_ms = r.U64();
  const uint16_t meta_count = r.U16();
  size_t meta_bytes = 0;
  for (uint32_t i = 0; r.ok() && i < meta_count; i++) {
    std::string k, v;
    r.Str16(&k, metadata_bytes_max);
    r.Str16(&v, metadata_bytes_max);
    meta_bytes += k.size() + v.size();
    if (meta_bytes > metadata_bytes_max) {
      return Corrupt("OBJECT record metadata too large");
    }
    o.metadata.emplace_back(std::move(k), std::move(v));
  }
  const uint8_t checksum_count = r.U8();
  if (checksum_count > checksum_count_max) {
    return Corrupt("OBJECT record has too many checksums");
  }
  for (uint32_t i = 0; r.ok() && i < checksum_count; i++) {
    std::string k, v;
    r.Str16(&k, 32);
    r.Str16(&v, 128);
    o.checksums.emplace_back(std::move(k), std::move(v));
  }
  if (!r.done() || o.bucket.empty()) return Corrupt("OBJECT record malformed");
  *out = std::move(o);
  return Status::Ok();
}

void EncodeExtents(const std::vector<Extent>& extents, std::string* payload) {
  TS_ASSERT(extents.size() <= extent_count_max);
  payload->clear();
  Writer w(payload);
  for (const Extent& e : extents) {
    w.U64(e.address);
    w.U64(e.length);
    w.U32(e.crc32c);
  }
  TS_ASSERT(payload->size() == extents.size() * extent_bytes);
}

Status DecodeExtents(std::string_view payload, uint64_t size,
                     std::vector<Extent>* out) {
  TS_ASSERT(out != nullptr);
  if (payload.size() % extent_bytes != 0 ||
      payload.size() / extent_bytes > extent_count_max) {
    return Corrupt("extent list malformed");
  }
  Reader r(payload);
  uint64_t total = 0;
  out->clear();
  while (!r.done()) {
    Extent e;
    e.address = r.U64();
    e.length = r.U64();
    e.crc32c = r.U32();
    if (!r.ok() || e.length > (uint64_t{1} << 40)) {
      return Corrupt("extent malformed");
    }
    total += e.length;
    out->push_back(e);
  }
  if (total != size) return Corrupt("extent lengths do not add up to size");
  return Status::Ok();
}

// ---- DELETE ----

void EncodeDeleteVar(const DeleteRecord& d, std::string* var) {
  TS_ASSERT(!d.bucket.empty() && d.bucket.size() <= bucket_bytes_max);
  TS_ASSERT(d.key.size() <= object_key_bytes_max);
  var->clear();
  Writer w(var);
  w.Str16(d.bucket);
  w.Str16(d.key);
  w.Str16(d.version_id);
}

Status DecodeDeleteVar(std::string_view var, DeleteRecord* out) {
  TS_ASSERT(out != nullptr);
  Reader r(var);
  DeleteRecord d;
  r.Str16(&d.bucket, bucket_bytes_max);
  r.Str16(&d.key, object_key_bytes_max);
  r.Str16(&d.version_id, version_id_bytes_max);
  if (!r.done() || d.bucket.empty()) return Corrupt("DELETE record malformed");
  *out = std::move(d);
  return Status::Ok();
}

// ---- BUCKET ----

void EncodeBucketVar(const BucketRecord& b, std::string* var) {
  TS_ASSERT(!b.name.empty() && b.name.size() <= bucket_bytes_max);
  TS_ASSERT(b.op >= BucketOp::kCreate && b.op <= BucketOp::kSettings);
  var->clear();
  Writer w(var);
  w.U8(uint8_t(b.op));
  w.Str16(b.name);
  w.U8(uint8_t(b.versioning));
  w.U64(b.created_ms);
}

Status DecodeBucketVar(std::string_view var, BucketRecord* out) {
  TS_ASSERT(out != nullptr);
  Reader r(var);
  BucketRecord b;
  const uint8_t op = r.U8();
  r.Str16(&b.name, bucket_bytes_max);
  const uint8_t versioning = r.U8();
  b.created_ms = r.U64();
  if (!r.done() || b.name.empty() || op < 1 || op > 3 || versioning > 2) {
    return Corrupt("BUCKET record malformed");
  }
  b.op = BucketOp(op);
  b.versioning = Versioning(versioning);
  *out = std::move(b);
  return Status::Ok();
}

// ---- FRAGMENT ----

void EncodeFragmentVar(uint64_t upload_id, uint64_t body_offset,
                       std::string* var) {
  TS_ASSERT(upload_id != 0);
  var->clear();
  Writer w(var);
  w.U64(upload_id);
  w.U64(body_offset);
  TS_ASSERT(var->size() == 16);
}

Status DecodeFragmentVar(std::string_view var, uint64_t* upload_id,
                         uint64_t* body_offset) {
  TS_ASSERT(upload_id != nullptr && body_offset != nullptr);
  Reader r(var);
  *upload_id = r.U64();
  *body_offset = r.U64();
  if (!r.done() || *upload_id == 0) return Corrupt("FRAGMENT record malformed");
  return Status::Ok();
}

}  // namespace log
}  // namespace tessera
