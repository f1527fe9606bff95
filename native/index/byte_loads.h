// Unaligned little-endian loads and stores of the index's in-memory words
// (records, keys being hashed or compared). memcpy compiles to one move.
#pragma once

#include <cstdint>
#include <cstring>

namespace tessera {
namespace index {

inline uint64_t LoadU64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void StoreU64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }

}  // namespace index
}  // namespace tessera
