// SSSE3 with the PSHUFB nibble-table method (16 bytes per step); the kernel
// for x86-64 CPUs without AVX2. Tail bytes go through the scalar
// nibble tables.
#include <immintrin.h>

#include "ec/ec_kernels.h"
#include "ec/kernel_driver.h"

namespace tessera {
namespace ec {
namespace {

inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

inline __m128i Table(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

struct Ssse3 {
  static constexpr int kOutputsPerPassMax = 4;

  template <int N>
  static void Pass(size_t off, size_t len, const CodingMatrix& m, int row0,
                   const uint8_t* const* src, uint8_t* const* dst) {
    const int k = m.k;
    const uint8_t(*tables)[32] = &m.nibble[row0 * k];
    const __m128i low_mask = _mm_set1_epi8(0x0f);
    const size_t end = off + len;
    size_t pos = off;
    // Two 16-byte columns per step: each table load feeds two lookups.
    for (; pos + 32 <= end; pos += 32) {
      __m128i acc0[N], acc1[N];
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        acc0[n] = _mm_setzero_si128();
        acc1[n] = _mm_setzero_si128();
      }
      for (int j = 0; j < k; ++j) {
        kernel_driver::Prefetch<Ssse3>(src[j] + pos);
        const __m128i x0 = Load(src[j] + pos);
        const __m128i x1 = Load(src[j] + pos + 16);
        const __m128i lo0 = _mm_and_si128(x0, low_mask);
        const __m128i hi0 = _mm_and_si128(_mm_srli_epi64(x0, 4), low_mask);
        const __m128i lo1 = _mm_and_si128(x1, low_mask);
        const __m128i hi1 = _mm_and_si128(_mm_srli_epi64(x1, 4), low_mask);
#pragma GCC unroll 8
        for (int n = 0; n < N; ++n) {
          const uint8_t* t = tables[n * k + j];
          const __m128i t_lo = Table(t);
          const __m128i t_hi = Table(t + 16);
          acc0[n] = _mm_xor_si128(acc0[n],
                                  _mm_xor_si128(_mm_shuffle_epi8(t_lo, lo0),
                                                _mm_shuffle_epi8(t_hi, hi0)));
          acc1[n] = _mm_xor_si128(acc1[n],
                                  _mm_xor_si128(_mm_shuffle_epi8(t_lo, lo1),
                                                _mm_shuffle_epi8(t_hi, hi1)));
        }
      }
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[row0 + n] + pos),
                         acc0[n]);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[row0 + n] + pos + 16),
                         acc1[n]);
      }
    }
    for (; pos + 16 <= end; pos += 16) {
      __m128i acc[N];
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) acc[n] = _mm_setzero_si128();
      for (int j = 0; j < k; ++j) {
        kernel_driver::Prefetch<Ssse3>(src[j] + pos);
        const __m128i x = Load(src[j] + pos);
        const __m128i lo = _mm_and_si128(x, low_mask);
        const __m128i hi = _mm_and_si128(_mm_srli_epi64(x, 4), low_mask);
#pragma GCC unroll 8
        for (int n = 0; n < N; ++n) {
          const uint8_t* t = tables[n * k + j];
          acc[n] = _mm_xor_si128(
              acc[n], _mm_xor_si128(_mm_shuffle_epi8(Table(t), lo),
                                    _mm_shuffle_epi8(Table(t + 16), hi)));
        }
      }
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[row0 + n] + pos),
                         acc[n]);
      }
    }
    kernel_driver::ScalarTail<Ssse3>(pos, end, N, m, row0, src, dst);
  }
};

}  // namespace

void EncodeSsse3(size_t len, const CodingMatrix& matrix,
                 const uint8_t* const* src, uint8_t* const* dst) {
  kernel_driver::Encode<Ssse3>(len, matrix, src, dst);
}

}  // namespace ec
}  // namespace tessera
