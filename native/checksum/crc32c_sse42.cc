// CRC32C with the SSE4.2 crc32 instruction. Built with -msse4.2 -mpclmul.
//
// The instruction has a latency of three cycles and a throughput of one per
// cycle, so a single dependency chain runs at a third of the possible rate.
// The three-way kernel hashes three adjacent blocks as independent chains and
// merges them: raw(r, A||B||C) = raw(r,A)*x^(8*2B) ^ raw(0,B)*x^(8B) ^
// raw(0,C). The two shifts are one pclmulqdq and one crc32 each (see ShiftBy
// below).

#include <immintrin.h>

#include <cstring>

#include "checksum/crc_internal.h"
#include "core/ts_assert.h"

namespace tessera {
namespace checksum {
namespace {

constexpr size_t kLongBlock = 8192;  // bytes per stream, large inputs
constexpr size_t kShortBlock = 256;  // bytes per stream, medium inputs

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint32_t Sse42Raw(uint32_t reg, const uint8_t* p, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = _mm_crc32_u8(reg, *p++);
    n--;
  }
  uint64_t r = reg;
  while (n >= 8) {
    r = _mm_crc32_u64(r, Load64(p));
    p += 8;
    n -= 8;
  }
  reg = static_cast<uint32_t>(r);
  while (n > 0) {
    reg = _mm_crc32_u8(reg, *p++);
    n--;
  }
  return reg;
}

// Multiplying a register c by x^(8n) mod P: with k = x^(8n-33) mod P in the
// low 32 bits of a lane, clmul(c, k) holds c*k*x^65 in bits 0..62, i.e. the
// 64-bit message c*k*x; crc32 of that message with a zero register is
// c*k*x*x^32 = c*x^(8n) (mod P).
struct ShiftKey {
  __m128i k;
};

ShiftKey MakeShiftKey(size_t bytes) {
  const uint64_t k = XPowModP(CrcKind::kCrc32c, 8 * bytes - 33);
  TS_ASSERT(k <= 0xFFFFFFFFull);
  return ShiftKey{_mm_cvtsi64_si128(static_cast<long long>(k))};
}

inline uint32_t ShiftBy(uint32_t c, const ShiftKey& key) {
  const __m128i prod =
      _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(c)), key.k, 0);
  return static_cast<uint32_t>(
      _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(prod))));
}

struct ThreeWayKeys {
  ShiftKey long_1, long_2, short_1, short_2;
};

const ThreeWayKeys& Keys() {
  static const ThreeWayKeys keys = {
      MakeShiftKey(kLongBlock), MakeShiftKey(2 * kLongBlock),
      MakeShiftKey(kShortBlock), MakeShiftKey(2 * kShortBlock)};
  return keys;
}

template <size_t kBlock>
inline uint32_t ThreeBlocks(uint32_t reg, const uint8_t* p,
                            const ShiftKey& shift_1, const ShiftKey& shift_2) {
  uint64_t a = reg, b = 0, c = 0;
  for (size_t i = 0; i < kBlock; i += 8) {
    a = _mm_crc32_u64(a, Load64(p + i));
    b = _mm_crc32_u64(b, Load64(p + kBlock + i));
    c = _mm_crc32_u64(c, Load64(p + 2 * kBlock + i));
  }
  return ShiftBy(static_cast<uint32_t>(a), shift_2) ^
         ShiftBy(static_cast<uint32_t>(b), shift_1) ^ static_cast<uint32_t>(c);
}

}  // namespace

uint32_t Crc32cSse42(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  return ~Sse42Raw(~crc, static_cast<const uint8_t*>(data), len);
}

uint32_t Crc32cSse42ThreeWay(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t reg = ~crc;
  if (len < 3 * kShortBlock) return ~Sse42Raw(reg, p, len);
  const ThreeWayKeys& keys = Keys();
  while (len > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = _mm_crc32_u8(reg, *p++);
    len--;
  }
  while (len >= 3 * kLongBlock) {
    reg = ThreeBlocks<kLongBlock>(reg, p, keys.long_1, keys.long_2);
    p += 3 * kLongBlock;
    len -= 3 * kLongBlock;
  }
  while (len >= 3 * kShortBlock) {
    reg = ThreeBlocks<kShortBlock>(reg, p, keys.short_1, keys.short_2);
    p += 3 * kShortBlock;
    len -= 3 * kShortBlock;
  }
  TS_ASSERT(len < 3 * kShortBlock);
  return ~Sse42Raw(reg, p, len);
}

}  // namespace checksum
}  // namespace tessera
