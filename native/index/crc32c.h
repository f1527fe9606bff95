// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for index snapshots.
// A portable table implementation is the reference; an SSE4.2 version
// (crc32c_sse42.cc, built with -msse4.2) is chosen once at start-up when the
// CPU has it. native/checksum will replace this file (see docs/index.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera {
namespace index {

// Continues `crc` (0 for a fresh checksum) over `data`. Crc32c("123456789")
// is 0xE3069283.
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc = 0);
// Raw update without the pre/post inversion; defined in crc32c_sse42.cc.
uint32_t Crc32cSse42Update(uint32_t state, const uint8_t* p, size_t n);

}  // namespace index
}  // namespace tessera
