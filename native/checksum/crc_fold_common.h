// Raw tail functions shared by the folding kernels (included only by
// compilation units built with -msse4.2).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "checksum/crc_internal.h"

namespace tessera {
namespace checksum {

// CRC32C tail with the crc32 instruction (the folding kernels are only
// selected on CPUs that have SSE4.2 as well as PCLMULQDQ).
inline uint64_t Crc32cHwTail(uint64_t reg, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    reg = _mm_crc32_u64(reg, v);
    p += 8;
    n -= 8;
  }
  uint32_t r = static_cast<uint32_t>(reg);
  while (n > 0) {
    r = _mm_crc32_u8(r, *p++);
    n--;
  }
  return r;
}

inline uint64_t Crc32TableTail(uint64_t reg, const uint8_t* p, size_t n) {
  return Crc32TableRaw(static_cast<uint32_t>(reg), p, n);
}

inline uint64_t Crc64NvmeTableTail(uint64_t reg, const uint8_t* p, size_t n) {
  return Crc64NvmeTableRaw(reg, p, n);
}

}  // namespace checksum
}  // namespace tessera
