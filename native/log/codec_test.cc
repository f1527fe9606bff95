// Log codec tests: round trips, pinned vectors (a format change shows up as
// a changed CRC here and must come with a format_version bump), and strict
// decoding (every truncation and every single-bit flip is rejected, never
// read past the input).
#include "log/codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "checksum/crc.h"

namespace tessera {
namespace log {
namespace {

uint32_t Crc(const std::string& s) {
  return crc32c::Extend(0, s.data(), s.size());
}

uint64_t Seed() {
  const char* env = getenv("TESSERA_SEED");
  uint64_t seed = env ? strtoull(env, nullptr, 10) : 20261122;
  printf("seed %llu (replay with TESSERA_SEED)\n", (unsigned long long)seed);
  return seed;
}

FormatInfo SampleFormat() {
  FormatInfo f;
  f.drive_index = 3;
  f.data_shards = 4;
  f.parity_shards = 2;
  f.chunk_bytes = 4096;
  f.segment_stripes = 1024;
  for (int i = 0; i < 16; i++) f.store_id[i] = uint8_t(0xa0 + i);
  f.created_ms = 1700000000123;
  return f;
}

ObjectRecord SampleObject() {
  ObjectRecord o;
  o.bucket = "photos";
  o.key = "2026/11/cat.jpg";
  o.version_id = "0000000000000042-ab12";
  o.content_type = "image/jpeg";
  for (int i = 0; i < 16; i++) o.etag[i] = uint8_t(i * 17);
  o.size = 5;
  o.mtime_ms = 1700000000999;
  o.metadata = {{"owner", "ada"}, {"k", ""}};
  o.checksums = {{"crc32c", "abcd"}};
  return o;
}

TEST(FormatFile, RoundTripAndPinnedBytes) {
  std::string bytes;
  EncodeFormat(SampleFormat(), &bytes);
  ASSERT_EQ(bytes.size(), format_file_bytes);
  EXPECT_EQ(memcmp(bytes.data(), "TSRAFMT1", 8), 0);
  EXPECT_EQ(Crc(bytes), 0xD56F2CDEu);
  FormatInfo back;
  Status s = DecodeFormat(reinterpret_cast<const uint8_t*>(bytes.data()),
                          bytes.size(), &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back.drive_index, 3u);
  EXPECT_EQ(back.data_shards, 4u);
  EXPECT_EQ(back.parity_shards, 2u);
  EXPECT_EQ(back.chunk_bytes, 4096u);
  EXPECT_EQ(back.segment_stripes, 1024u);
  EXPECT_EQ(back.created_ms, 1700000000123u);
  EXPECT_EQ(memcmp(back.store_id, SampleFormat().store_id, 16), 0);
}

TEST(FormatFile, RejectsEveryBitFlipAndForeignFiles) {
  std::string bytes;
  EncodeFormat(SampleFormat(), &bytes);
  FormatInfo out;
  for (size_t bit = 0; bit < 64 * 8; bit++) {
    std::string bad = bytes;
    bad[bit / 8] ^= char(1 << (bit % 8));
    Status s = DecodeFormat(reinterpret_cast<const uint8_t*>(bad.data()),
                            bad.size(), &out);
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << "bit " << bit;
  }
  std::string tail = bytes;
  tail[4000] = 1;
  EXPECT_EQ(DecodeFormat(reinterpret_cast<const uint8_t*>(tail.data()),
                         tail.size(), &out)
                .code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(
      DecodeFormat(reinterpret_cast<const uint8_t*>(bytes.data()), 100, &out)
          .message(),
      "FORMAT file is 100 bytes, not 4096");
  std::string foreign(4096, 'x');
  EXPECT_EQ(DecodeFormat(reinterpret_cast<const uint8_t*>(foreign.data()),
                         foreign.size(), &out)
                .message(),
            "FORMAT file has a foreign magic (not a tessera drive)");
}

TEST(SegmentHeader, RoundTripPinned) {
  SegmentHeader h;
  h.segment_id = 0x1234;
  h.drive_index = 5;
  for (int i = 0; i < 16; i++) h.store_id[i] = uint8_t(i);
  std::string buf(segment_header_bytes, '\0');
  EncodeSegmentHeader(h, reinterpret_cast<uint8_t*>(&buf[0]));
  EXPECT_EQ(Crc(buf), 0xC19F7FBDu);
  SegmentHeader back;
  ASSERT_TRUE(DecodeSegmentHeader(reinterpret_cast<const uint8_t*>(buf.data()),
                                  buf.size(), &back)
                  .ok());
  EXPECT_EQ(back.segment_id, 0x1234u);
  EXPECT_EQ(back.drive_index, 5u);
  buf[20] ^= 1;
  EXPECT_EQ(DecodeSegmentHeader(reinterpret_cast<const uint8_t*>(buf.data()),
                                buf.size(), &back)
                .code(),
            StatusCode::kCorrupt);
}

TEST(ChunkTrailer, SealOpenPinnedAndEveryFlipDetected) {
  std::string chunk(4096, '\0');
  for (size_t i = 0; i < 4064; i++) chunk[i] = char(i * 7);
  ChunkTrailer t;
  t.segment_id = 9;
  t.stripe_index = 77;
  t.drive_index = 4;
  t.flags = kChunkGroupStart;
  t.group_seq = 123456789;
  uint8_t* p = reinterpret_cast<uint8_t*>(&chunk[0]);
  SealChunk(t, p, chunk.size());
  EXPECT_EQ(Crc(chunk), 0x48674BC7u);
  ChunkTrailer back;
  ASSERT_TRUE(OpenChunk(p, chunk.size(), &back).ok());
  EXPECT_EQ(back.segment_id, 9u);
  EXPECT_EQ(back.stripe_index, 77u);
  EXPECT_EQ(back.drive_index, 4u);
  EXPECT_EQ(back.flags, kChunkGroupStart);
  EXPECT_EQ(back.group_seq, 123456789u);
  // Every single-bit flip anywhere in the chunk is detected (CRC32C detects
  // all 1-bit errors), payload and trailer alike.
  for (size_t bit = 0; bit < chunk.size() * 8; bit += 13) {
    p[bit / 8] ^= uint8_t(1 << (bit % 8));
    EXPECT_EQ(OpenChunk(p, chunk.size(), &back).code(), StatusCode::kCorrupt)
        << "bit " << bit;
    p[bit / 8] ^= uint8_t(1 << (bit % 8));
  }
  std::string zeros(4096, '\0');
  EXPECT_EQ(
      OpenChunk(reinterpret_cast<const uint8_t*>(zeros.data()), 4096, &back)
          .code(),
      StatusCode::kCorrupt);
}

TEST(Layout, AddressMath) {
  Layout l{4, 2, 4096, 8};
  ASSERT_TRUE(l.Valid());
  EXPECT_EQ(l.payload_bytes(), 4064u);
  EXPECT_EQ(l.stripe_data_bytes(), 4u * 4064);
  EXPECT_EQ(l.segment_data_bytes(), 8u * 4 * 4064);
  EXPECT_EQ(l.segment_file_bytes(), 4096u + 8 * 4096);
  EXPECT_EQ(l.StripeFileOffset(3), 4096u + 3 * 4096);
  Location a = Locate(l, 0);
  EXPECT_EQ(a.segment, 0u);
  EXPECT_EQ(a.stripe + a.data_chunk + a.byte, 0u);
  Location b = Locate(l, 4064 * 5 + 10);  // stripe 1, chunk 1, byte 10
  EXPECT_EQ(b.stripe, 1u);
  EXPECT_EQ(b.data_chunk, 1u);
  EXPECT_EQ(b.byte, 10u);
  Location c = Locate(l, l.segment_data_bytes() * 3 - 1);
  EXPECT_EQ(c.segment, 2u);
  EXPECT_EQ(c.stripe, 7u);
  EXPECT_EQ(c.data_chunk, 3u);
  EXPECT_EQ(c.byte, 4063u);
  EXPECT_EQ(l.StripeAddress(2, 7) + 3 * 4064 + 4063,
            l.segment_data_bytes() * 3 - 1);
  EXPECT_FALSE((Layout{4, 2, 5000, 8}.Valid()));
  EXPECT_FALSE((Layout{0, 2, 4096, 8}.Valid()));
  EXPECT_FALSE((Layout{30, 3, 4096, 8}.Valid()));
}

std::string EncodeObject(const ObjectRecord& o, uint64_t seq,
                         const std::string& body) {
  std::string var, out;
  EncodeObjectVar(o, &var);
  EncodeRecordHeader(RecordType::kObject, kObjectNullVersion, seq, var,
                     body.size(), crc32c::Extend(0, body.data(), body.size()),
                     &out);
  return out + body;
}

TEST(Records, ObjectRoundTripPinned) {
  const std::string rec = EncodeObject(SampleObject(), 42, "hello");
  EXPECT_EQ(Crc(rec), 0xC5ADC560u);
  RecordHeader h;
  size_t needed = 0;
  ASSERT_TRUE(DecodeRecordHeader(reinterpret_cast<const uint8_t*>(rec.data()),
                                 rec.size(), &h, &needed)
                  .ok());
  EXPECT_EQ(h.type, RecordType::kObject);
  EXPECT_EQ(h.flags, kObjectNullVersion);
  EXPECT_EQ(h.seq, 42u);
  EXPECT_EQ(h.payload_bytes, 5u);
  ObjectRecord o;
  ASSERT_TRUE(DecodeObjectVar(std::string_view(rec).substr(
                                  record_header_fixed_bytes,
                                  h.header_bytes - record_header_fixed_bytes),
                              &o)
                  .ok());
  EXPECT_EQ(o.bucket, "photos");
  EXPECT_EQ(o.key, "2026/11/cat.jpg");
  EXPECT_EQ(o.version_id, "0000000000000042-ab12");
  EXPECT_EQ(o.content_type, "image/jpeg");
  EXPECT_EQ(o.metadata.size(), 2u);
  EXPECT_EQ(o.metadata[0].second, "ada");
  EXPECT_EQ(o.checksums[0].first, "crc32c");
  EXPECT_EQ(rec.substr(h.header_bytes), "hello");
}

TEST(Records, OtherTypesRoundTripPinned) {
  GroupRecord g{7, 3, 100, 2, 500, 1000, 2000};
  std::string var, out;
  EncodeGroupVar(g, &var);
  EncodeRecordHeader(RecordType::kGroup, 0, 0, var, 0, 0, &out);
  EXPECT_EQ(out.size(), group_record_bytes);
  EXPECT_EQ(Crc(out), 0xA0762B10u);
  GroupRecord gb;
  ASSERT_TRUE(DecodeGroupVar(var, &gb).ok());
  EXPECT_EQ(gb.group_seq, 7u);
  EXPECT_EQ(gb.void_end, 2000u);

  DeleteRecord d{"b1", "k/1", "v9"}, db;
  EncodeDeleteVar(d, &var);
  EXPECT_EQ(Crc(var), 0x20F0BF11u);
  ASSERT_TRUE(DecodeDeleteVar(var, &db).ok());
  EXPECT_EQ(db.key, "k/1");
  EXPECT_EQ(db.version_id, "v9");

  BucketRecord b{BucketOp::kSettings, "bkt", Versioning::kEnabled, 99}, bb;
  EncodeBucketVar(b, &var);
  EXPECT_EQ(Crc(var), 0x5E669560u);
  ASSERT_TRUE(DecodeBucketVar(var, &bb).ok());
  EXPECT_EQ(bb.op, BucketOp::kSettings);
  EXPECT_EQ(bb.versioning, Versioning::kEnabled);

  std::vector<Extent> ex{{4096, 10, 0xdead}, {8192, 20, 0xbeef}}, exb;
  std::string payload;
  EncodeExtents(ex, &payload);
  ASSERT_TRUE(DecodeExtents(payload, 30, &exb).ok());
  EXPECT_EQ(exb[1].address, 8192u);
  EXPECT_EQ(DecodeExtents(payload, 31, &exb).code(), StatusCode::kCorrupt);
  EXPECT_EQ(DecodeExtents(payload.substr(1), 30, &exb).code(),
            StatusCode::kCorrupt);

  uint64_t up = 0, off = 0;
  EncodeFragmentVar(5, 1 << 20, &var);
  ASSERT_TRUE(DecodeFragmentVar(var, &up, &off).ok());
  EXPECT_EQ(up, 5u);
  EXPECT_EQ(off, 1u << 20);
}

// The decoder sees every prefix of a record and every single-bit flip of its
// header: it must never succeed on a damaged header, and must never read past
// what it was given (ASan build checks the latter; we copy into exact-size
// heap buffers so an over-read is an ASan error).
TEST(Records, StrictDecodingOfTruncationsAndFlips) {
  const std::string rec = EncodeObject(SampleObject(), 42, "hello");
  RecordHeader h;
  size_t needed = 0;
  ASSERT_TRUE(DecodeRecordHeader(reinterpret_cast<const uint8_t*>(rec.data()),
                                 rec.size(), &h, &needed)
                  .ok());
  for (size_t len = 0; len < h.header_bytes; len++) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len + 1]);
    memcpy(buf.get(), rec.data(), len);
    Status s = DecodeRecordHeader(buf.get(), len, &h, &needed);
    EXPECT_EQ(s.code(), StatusCode::kOutOfRange) << "len " << len;
    EXPECT_GT(needed, len);
  }
  for (size_t bit = 0; bit < size_t(h.header_bytes) * 8; bit++) {
    std::string bad = rec;
    bad[bit / 8] ^= char(1 << (bit % 8));
    std::unique_ptr<uint8_t[]> buf(new uint8_t[bad.size()]);
    memcpy(buf.get(), bad.data(), bad.size());
    RecordHeader hb;
    Status s = DecodeRecordHeader(buf.get(), bad.size(), &hb, &needed);
    // A flip in header_bytes may make the header look longer than the
    // input (kOutOfRange); anything else is kCorrupt. Never OK.
    EXPECT_FALSE(s.ok()) << "bit " << bit;
  }
}

TEST(Records, RandomVarPartsNeverCrashDecoders) {
  std::mt19937_64 rng(Seed());
  for (int i = 0; i < 20000; i++) {
    std::string var(rng() % 64, '\0');
    for (char& c : var) c = char(rng() % 4 == 0 ? 0 : rng());
    ObjectRecord o;
    DeleteRecord d;
    BucketRecord b;
    GroupRecord g;
    std::vector<Extent> e;
    (void)DecodeObjectVar(var, &o).ok();
    (void)DecodeDeleteVar(var, &d).ok();
    (void)DecodeBucketVar(var, &b).ok();
    (void)DecodeGroupVar(var, &g).ok();
    (void)DecodeExtents(var, rng() % 100, &e).ok();
  }
  // A valid OBJECT var part cut anywhere is rejected.
  std::string var;
  EncodeObjectVar(SampleObject(), &var);
  for (size_t len = 0; len < var.size(); len++) {
    ObjectRecord o;
    EXPECT_EQ(DecodeObjectVar(var.substr(0, len), &o).code(),
              StatusCode::kCorrupt);
  }
}

}  // namespace
}  // namespace log
}  // namespace tessera
