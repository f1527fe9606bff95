// AVX-512BW with the PSHUFB nibble-table method: each product is two
// vpshufb lookups (low and high nibble) into 16-byte tables broadcast to all
// four lanes; vpternlogq folds both lookups into the accumulator. Masked
// loads and stores handle the tail.
#include <immintrin.h>

#include "ec/ec_kernels.h"
#include "ec/kernel_driver.h"

namespace tessera {
namespace ec {
namespace {

struct Avx512bw {
  static constexpr int kOutputsPerPassMax = 6;

  template <bool masked>
  static inline __m512i Load(const uint8_t* p, __mmask64 mask) {
    return masked ? _mm512_maskz_loadu_epi8(mask, p) : _mm512_loadu_si512(p);
  }

  static inline __m512i Table(const uint8_t* p) {
    return _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }

  template <int N, bool masked>
  static inline void Column(__m512i (&acc)[N], const uint8_t (*tables)[32],
                            int k, const uint8_t* const* src, size_t pos,
                            __mmask64 mask) {
    const __m512i low_mask = _mm512_set1_epi8(0x0f);
#pragma GCC unroll 8
    for (int n = 0; n < N; ++n) acc[n] = _mm512_setzero_si512();
    for (int j = 0; j < k; ++j) {
      if (!masked) kernel_driver::Prefetch<Avx512bw>(src[j] + pos);
      const __m512i x = Load<masked>(src[j] + pos, mask);
      const __m512i lo = _mm512_and_si512(x, low_mask);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi64(x, 4), low_mask);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        const uint8_t* t = tables[n * k + j];
        acc[n] = _mm512_ternarylogic_epi64(
            acc[n], _mm512_shuffle_epi8(Table(t), lo),
            _mm512_shuffle_epi8(Table(t + 16), hi), 0x96);
      }
    }
  }

  template <int N>
  static void Pass(size_t off, size_t len, const CodingMatrix& m, int row0,
                   const uint8_t* const* src, uint8_t* const* dst) {
    const int k = m.k;
    const uint8_t(*tables)[32] = &m.nibble[row0 * k];
    const size_t end = off + len;
    size_t pos = off;
    for (; pos + 64 <= end; pos += 64) {
      __m512i acc[N];
      Column<N, false>(acc, tables, k, src, pos, 0);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm512_storeu_si512(dst[row0 + n] + pos, acc[n]);
      }
    }
    if (pos < end) {
      const __mmask64 mask = ~0ULL >> (64 - (end - pos));
      __m512i acc[N];
      Column<N, true>(acc, tables, k, src, pos, mask);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm512_mask_storeu_epi8(dst[row0 + n] + pos, mask, acc[n]);
      }
    }
  }
};

}  // namespace

void EncodeAvx512bw(size_t len, const CodingMatrix& matrix,
                    const uint8_t* const* src, uint8_t* const* dst) {
  kernel_driver::Encode<Avx512bw>(len, matrix, src, dst);
}

}  // namespace ec
}  // namespace tessera
