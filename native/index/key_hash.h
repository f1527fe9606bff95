// The 64-bit hash of an index key. Not a security boundary (keys are chosen
// by clients, so a per-index random seed keeps probe sequences unguessable).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "index/byte_loads.h"

namespace tessera {
namespace index {

// wyhash's first two secret constants.
constexpr uint64_t kHashK0 = 0xa0761d6478bd642full;
constexpr uint64_t kHashK1 = 0xe7037ed1a0b428dbull;

inline uint64_t HashMix(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// Multiply-fold hash (the wyhash/mum construction). HashFold folds one
// string into the state `h`: up to 16 bytes are two (overlapping) words and
// one multiply; a longer string folds each 16-byte block, the last block
// overlapping the one before. Both factors of every multiply carry the
// seeded state: a factor that a client could make zero would zero the
// product for every value of the other word. Lengths are mixed in by the
// caller's last multiply. Not stored anywhere: tables and snapshots rehash
// on load, so this may change between versions.
inline uint64_t HashFold(std::string_view part, uint64_t h) {
  const char* p = part.data();
  size_t n = part.size();
  uint64_t a = 0, b = 0;
  if (n <= 16) {
    if (n >= 8) {
      a = LoadU64(p);
      b = LoadU64(p + n - 8);
    } else if (n >= 4) {
      a = LoadU32(p);
      b = LoadU32(p + n - 4);
    } else if (n > 0) {
      a = (uint64_t{static_cast<uint8_t>(p[0])} << 16) |
          (uint64_t{static_cast<uint8_t>(p[n >> 1])} << 8) |
          static_cast<uint8_t>(p[n - 1]);
    }
  } else {
    do {
      h = HashMix(LoadU64(p) ^ kHashK0 ^ h, LoadU64(p + 8) ^ kHashK1 ^ h);
      p += 16;
      n -= 16;
    } while (n > 16);
    a = LoadU64(p + n - 16);
    b = LoadU64(p + n - 8);
  }
  return HashMix(a ^ kHashK0 ^ h, b ^ kHashK1 ^ h);
}

// One string's hash.
inline uint64_t HashKey(std::string_view key, uint64_t seed) {
  return HashMix(HashFold(key, seed) ^ kHashK0, key.size() ^ kHashK1);
}

// The hash of an internal index key (length byte, bucket, object key; see
// Index::MakeKey), computed from the two parts: the bucket, then the object
// key seeded with the bucket's hash. Readers hash the caller's bucket and key
// where they are instead of the internal key they have just copied: reading
// back a just-copied buffer with 8-byte loads that span several smaller
// stores defeats store-to-load forwarding, and that stall was most of the
// CPU time of a cached Get (docs/index.md, "Point lookups").
inline uint64_t HashIndexKey(std::string_view bucket,
                             std::string_view object_key, uint64_t seed) {
  // Both lengths go into the last multiply, so the same bytes split
  // differently between bucket and key hash differently.
  return HashMix(
      HashFold(object_key, HashFold(bucket, seed)) ^ kHashK0,
      ((uint64_t{bucket.size()} << 32) | object_key.size()) ^ kHashK1);
}
// The same hash from the internal key itself (writers, table growth,
// snapshot load). `ikey` is a well-formed internal key.
inline uint64_t HashIndexKey(std::string_view ikey, uint64_t seed) {
  const size_t b = static_cast<uint8_t>(ikey[0]);
  return HashIndexKey(ikey.substr(1, b), ikey.substr(1 + b), seed);
}

}  // namespace index
}  // namespace tessera
