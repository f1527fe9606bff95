// CRC32C, CRC32 and CRC64/NVME by carry-less multiplication folding on
// 512-bit registers (VPCLMULQDQ + AVX-512). Built with -mavx512f -mavx512bw
// -mavx512vl -mvpclmulqdq -mpclmul -msse4.2.
//
// Same method as crc_fold_pclmul.cc, four lanes per register: four registers
// (256 bytes) are folded forward per iteration, merged into one register,
// folded 64 bytes at a time, then into one 128-bit lane, which is finished with
// the remaining bytes by the raw table or the crc32 instruction. Inputs too
// short for one round go to the 128-bit kernel.

#include <immintrin.h>

#include "checksum/crc_fold_common.h"
#include "checksum/crc_internal.h"
#include "core/ts_assert.h"

namespace tessera {
namespace checksum {
namespace {

constexpr size_t kMinFoldBytes = 512;

inline __m512i Keys(const FoldPair& f) {
  const long long q0 = static_cast<long long>(f.k_q0);
  const long long q1 = static_cast<long long>(f.k_q1);
  return _mm512_set_epi64(q1, q0, q1, q0, q1, q0, q1, q0);
}

inline __m128i Keys128(const FoldPair& f) {
  return _mm_set_epi64x(static_cast<long long>(f.k_q1),
                        static_cast<long long>(f.k_q0));
}

inline __m128i Fold128(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                       _mm_clmulepi64_si128(x, k, 0x11));
}

inline __m512i Fold(__m512i x, __m512i k, __m512i next) {
  // 0x96: three-way exclusive or.
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), next,
                                   0x96);
}

inline __m512i Load(const uint8_t* p) { return _mm512_loadu_si512(p); }

template <RawTailFn kTail>
uint64_t FoldRaw(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n) {
  TS_ASSERT(n >= 256);
  const FoldConstants& c = GetFoldConstants(kind);
  const __m512i first =
      _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, static_cast<long long>(reg));
  __m512i x0 = _mm512_xor_si512(Load(p), first);
  __m512i x1 = Load(p + 64), x2 = Load(p + 128), x3 = Load(p + 192);
  p += 256;
  n -= 256;
  const __m512i k2048 = Keys(c.f2048);
  while (n >= 256) {
    x0 = Fold(x0, k2048, Load(p));
    x1 = Fold(x1, k2048, Load(p + 64));
    x2 = Fold(x2, k2048, Load(p + 128));
    x3 = Fold(x3, k2048, Load(p + 192));
    p += 256;
    n -= 256;
  }
  const __m512i k512 = Keys(c.f512);
  __m512i x = Fold(x0, k512, x1);
  x = Fold(x, k512, x2);
  x = Fold(x, k512, x3);
  while (n >= 64) {
    x = Fold(x, k512, Load(p));
    p += 64;
    n -= 64;
  }
  // Merge the four lanes of x into one: lane i is 3-i lanes before the last.
  __m128i y = _mm_ternarylogic_epi64(
      Fold128(_mm512_maskz_extracti32x4_epi32(0xF, x, 0), Keys128(c.f384)),
      Fold128(_mm512_maskz_extracti32x4_epi32(0xF, x, 1), Keys128(c.f256)),
      Fold128(_mm512_maskz_extracti32x4_epi32(0xF, x, 2), Keys128(c.f128)),
      0x96);
  y = _mm_xor_si128(y, _mm512_maskz_extracti32x4_epi32(0xF, x, 3));
  const __m128i k128 = Keys128(c.f128);
  while (n >= 16) {
    y = _mm_xor_si128(Fold128(y, k128),
                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    p += 16;
    n -= 16;
  }
  alignas(16) uint8_t lane[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(lane), y);
  TS_ASSERT(n < 16);
  return kTail(kTail(0, lane, 16), p, n);
}

}  // namespace

uint32_t Crc32cVpclmul(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  if (len < kMinFoldBytes) return Crc32cPclmul(crc, data, len);
  return ~static_cast<uint32_t>(
      FoldRaw<Crc32cHwTail>(CrcKind::kCrc32c, ~crc & 0xFFFFFFFFull,
                            static_cast<const uint8_t*>(data), len));
}

uint32_t Crc32Vpclmul(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  if (len < kMinFoldBytes) return Crc32Pclmul(crc, data, len);
  return ~static_cast<uint32_t>(
      FoldRaw<Crc32TableTail>(CrcKind::kCrc32, ~crc & 0xFFFFFFFFull,
                              static_cast<const uint8_t*>(data), len));
}

uint64_t Crc64NvmeVpclmul(uint64_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  if (len < kMinFoldBytes) return Crc64NvmePclmul(crc, data, len);
  return ~FoldRaw<Crc64NvmeTableTail>(CrcKind::kCrc64Nvme, ~crc,
                                      static_cast<const uint8_t*>(data), len);
}

}  // namespace checksum
}  // namespace tessera
