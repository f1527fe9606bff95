// CRC32C, CRC32 and CRC64/NVME by carry-less multiplication folding on
// 128-bit lanes. Built with -msse4.2 -mpclmul.
//
// Four lanes (64 bytes) are folded forward per iteration, then merged into
// one lane. The last 16-byte lane has the same remainder modulo P as every
// byte it replaced, so the CRC is finished by running the raw table (or the
// crc32 instruction for CRC32C) over that lane and the sub-lane tail. This
// avoids a Barrett reduction and is exact for any polynomial.

#include <immintrin.h>

#include "checksum/crc_fold_common.h"
#include "checksum/crc_internal.h"
#include "core/ts_assert.h"

namespace tessera {
namespace checksum {
namespace {

constexpr size_t kMinFoldBytes = 64;

inline __m128i Keys(const FoldPair& f) {
  return _mm_set_epi64x(static_cast<long long>(f.k_q1),
                        static_cast<long long>(f.k_q0));
}

inline __m128i Fold(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                     _mm_clmulepi64_si128(x, k, 0x11)),
                       next);
}

inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

template <RawTailFn kTail>
uint64_t FoldRaw(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n) {
  TS_ASSERT(n >= kMinFoldBytes);
  const FoldConstants& c = GetFoldConstants(kind);
  __m128i x0 =
      _mm_xor_si128(Load(p), _mm_cvtsi64_si128(static_cast<long long>(reg)));
  __m128i x1 = Load(p + 16), x2 = Load(p + 32), x3 = Load(p + 48);
  p += 64;
  n -= 64;
  const __m128i k512 = Keys(c.f512);
  while (n >= 64) {
    x0 = Fold(x0, k512, Load(p));
    x1 = Fold(x1, k512, Load(p + 16));
    x2 = Fold(x2, k512, Load(p + 32));
    x3 = Fold(x3, k512, Load(p + 48));
    p += 64;
    n -= 64;
  }
  const __m128i k128 = Keys(c.f128);
  __m128i x = Fold(x0, k128, x1);
  x = Fold(x, k128, x2);
  x = Fold(x, k128, x3);
  while (n >= 16) {
    x = Fold(x, k128, Load(p));
    p += 16;
    n -= 16;
  }
  alignas(16) uint8_t lane[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lane), x);
  TS_ASSERT(n < 16);
  return kTail(kTail(0, lane, 16), p, n);
}

}  // namespace

uint32_t Crc32cPclmul(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < kMinFoldBytes)
    return ~static_cast<uint32_t>(Crc32cHwTail(~crc, p, len));
  return ~static_cast<uint32_t>(
      FoldRaw<Crc32cHwTail>(CrcKind::kCrc32c, ~crc & 0xFFFFFFFFull, p, len));
}

uint32_t Crc32Pclmul(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < kMinFoldBytes) return ~Crc32TableRaw(~crc, p, len);
  return ~static_cast<uint32_t>(
      FoldRaw<Crc32TableTail>(CrcKind::kCrc32, ~crc & 0xFFFFFFFFull, p, len));
}

uint64_t Crc64NvmePclmul(uint64_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < kMinFoldBytes) return ~Crc64NvmeTableRaw(~crc, p, len);
  return ~FoldRaw<Crc64NvmeTableTail>(CrcKind::kCrc64Nvme, ~crc, p, len);
}

}  // namespace checksum
}  // namespace tessera
