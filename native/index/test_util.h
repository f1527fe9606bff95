// Helpers shared by the index tests.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "index/index.h"

namespace tessera {
namespace index {
namespace testing_util {

// The seed of a randomized test: TESSERA_SEED when set (to replay a
// failure), otherwise random. Printed either way.
inline uint64_t TestSeed(const char* test_name) {
  uint64_t seed;
  const char* env = std::getenv("TESSERA_SEED");
  if (env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32) | rd();
  }
  std::printf("[ seed     ] %s: TESSERA_SEED=%llu\n", test_name,
              static_cast<unsigned long long>(seed));
  return seed;
}

// Metadata whose every field is derived from (version, salt), so a reader can
// check that what it got was written whole.
inline ObjectMeta MetaFor(uint64_t version, uint64_t salt = 0,
                          uint8_t flags = 0) {
  ObjectMeta m;
  const uint64_t x = version * 0x9E3779B97F4A7C15ull ^ salt;
  m.segment = static_cast<uint32_t>(x & 0xFFFFFF);
  m.offset = (x >> 8) & kSegmentOffsetMax;
  m.length = static_cast<uint32_t>(x >> 20);
  m.version_id = version;
  m.size = (x >> 3) & kObjectSizeMax;
  m.mtime_ms = (x >> 11) & kMtimeMsMax;
  for (int i = 0; i < 16; ++i) m.etag[i] = static_cast<uint8_t>(x >> (i * 4));
  m.part_count = static_cast<uint16_t>(x >> 48) % 3;
  m.flags = flags;
  return m;
}

inline bool SameMeta(const ObjectMeta& a, const ObjectMeta& b) {
  return a.segment == b.segment && a.offset == b.offset &&
         a.length == b.length && a.version_id == b.version_id &&
         a.size == b.size && a.mtime_ms == b.mtime_ms &&
         std::memcmp(a.etag, b.etag, 16) == 0 && a.part_count == b.part_count &&
         a.flags == b.flags;
}

// True when `m` is exactly MetaFor(m.version_id, salt, m.flags).
inline bool IsWhole(const ObjectMeta& m, uint64_t salt = 0) {
  return SameMeta(m, MetaFor(m.version_id, salt, m.flags));
}

}  // namespace testing_util
}  // namespace index
}  // namespace tessera
