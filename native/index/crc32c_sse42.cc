// Built with -msse4.2 (see CMakeLists.txt / index.gyp); called only when
// GetCpuFeatures().sse42 is true.
#include <nmmintrin.h>

#include <cstring>

#include "index/crc32c.h"

namespace tessera {
namespace index {

uint32_t Crc32cSse42Update(uint32_t state, const uint8_t* p, size_t n) {
  uint64_t c = state;
  // One dependent stream (8 bytes per ~3 cycles) is several GB/s, far
  // more than snapshot I/O needs; native/checksum will bring the wide one.
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

}  // namespace index
}  // namespace tessera
