// GFNI at AVX-512 width: vgf2p8affineqb multiplies 64 bytes by a constant
// (an 8x8 bit matrix per coefficient, broadcast from memory), and
// vpternlogq folds two products into an accumulator per instruction. The
// tail uses masked loads and stores, so no byte past the end is touched.
#include <immintrin.h>

#include "ec/ec_kernels.h"
#include "ec/kernel_driver.h"

namespace tessera {
namespace ec {
namespace {

inline __m512i Mul(__m512i x, uint64_t matrix) {
  return _mm512_gf2p8affine_epi64_epi8(x, _mm512_set1_epi64(matrix), 0);
}

struct GfniAvx512 {
  static constexpr int kOutputsPerPassMax = 6;

  template <bool masked>
  static inline __m512i Load(const uint8_t* p, __mmask64 mask) {
    return masked ? _mm512_maskz_loadu_epi8(mask, p) : _mm512_loadu_si512(p);
  }

  template <int N, bool masked>
  static inline void Column(__m512i (&acc)[N], const uint64_t* mat, int k,
                            const uint8_t* const* src, size_t pos,
                            __mmask64 mask) {
    if (!masked) kernel_driver::Prefetch<GfniAvx512>(src[0] + pos);
    __m512i x = Load<masked>(src[0] + pos, mask);
#pragma GCC unroll 8
    for (int n = 0; n < N; ++n) acc[n] = Mul(x, mat[n * k]);
    int j = 1;
    for (; j + 1 < k; j += 2) {
      if (!masked) {
        kernel_driver::Prefetch<GfniAvx512>(src[j] + pos);
        kernel_driver::Prefetch<GfniAvx512>(src[j + 1] + pos);
      }
      const __m512i a = Load<masked>(src[j] + pos, mask);
      const __m512i b = Load<masked>(src[j + 1] + pos, mask);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        acc[n] = _mm512_ternarylogic_epi64(acc[n], Mul(a, mat[n * k + j]),
                                           Mul(b, mat[n * k + j + 1]), 0x96);
      }
    }
    if (j < k) {
      if (!masked) kernel_driver::Prefetch<GfniAvx512>(src[j] + pos);
      x = Load<masked>(src[j] + pos, mask);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        acc[n] = _mm512_xor_si512(acc[n], Mul(x, mat[n * k + j]));
      }
    }
  }

  // Two adjacent columns (128 bytes): each broadcast matrix feeds two
  // products, and the source pointers are loaded once per 128 bytes.
  template <int N>
  static inline void Column2(__m512i (&acc0)[N], __m512i (&acc1)[N],
                             const uint64_t* mat, int k,
                             const uint8_t* const* src, size_t pos) {
    {
      const uint8_t* p = src[0] + pos;
      kernel_driver::Prefetch<GfniAvx512>(p);
      kernel_driver::Prefetch<GfniAvx512>(p + 64);
      const __m512i a = _mm512_loadu_si512(p);
      const __m512i b = _mm512_loadu_si512(p + 64);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        const __m512i t = _mm512_set1_epi64(mat[n * k]);
        acc0[n] = _mm512_gf2p8affine_epi64_epi8(a, t, 0);
        acc1[n] = _mm512_gf2p8affine_epi64_epi8(b, t, 0);
      }
    }
    for (int j = 1; j < k; ++j) {
      const uint8_t* p = src[j] + pos;
      kernel_driver::Prefetch<GfniAvx512>(p);
      kernel_driver::Prefetch<GfniAvx512>(p + 64);
      const __m512i a = _mm512_loadu_si512(p);
      const __m512i b = _mm512_loadu_si512(p + 64);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        const __m512i t = _mm512_set1_epi64(mat[n * k + j]);
        acc0[n] =
            _mm512_xor_si512(acc0[n], _mm512_gf2p8affine_epi64_epi8(a, t, 0));
        acc1[n] =
            _mm512_xor_si512(acc1[n], _mm512_gf2p8affine_epi64_epi8(b, t, 0));
      }
    }
  }

  template <int N>
  static void Pass(size_t off, size_t len, const CodingMatrix& m, int row0,
                   const uint8_t* const* src, uint8_t* const* dst) {
    const int k = m.k;
    const uint64_t* mat = &m.affine[row0 * k];
    const size_t end = off + len;
    size_t pos = off;
    // Peel a masked head so the first output's stores are 64-byte aligned
    // (buffers from malloc/mmap are often 16 bytes past a line boundary, and
    // then every store and load splits two lines). Sources and the other
    // outputs usually share that offset.
    const size_t head =
        (0 - reinterpret_cast<uintptr_t>(dst[row0] + pos)) & size_t{63};
    if (head != 0 && head + 128 <= len) {
      const __mmask64 mask = ~0ULL >> (64 - head);
      __m512i acc[N];
      Column<N, true>(acc, mat, k, src, pos, mask);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm512_mask_storeu_epi8(dst[row0 + n] + pos, mask, acc[n]);
      }
      pos += head;
    }
    for (; pos + 128 <= end; pos += 128) {
      __m512i acc0[N], acc1[N];
      Column2<N>(acc0, acc1, mat, k, src, pos);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm512_storeu_si512(dst[row0 + n] + pos, acc0[n]);
        _mm512_storeu_si512(dst[row0 + n] + pos + 64, acc1[n]);
      }
    }
    for (; pos + 64 <= end; pos += 64) {
      __m512i acc[N];
      Column<N, false>(acc, mat, k, src, pos, 0);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm512_storeu_si512(dst[row0 + n] + pos, acc[n]);
      }
    }
    if (pos < end) {
      const __mmask64 mask = ~0ULL >> (64 - (end - pos));
      __m512i acc[N];
      Column<N, true>(acc, mat, k, src, pos, mask);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm512_mask_storeu_epi8(dst[row0 + n] + pos, mask, acc[n]);
      }
    }
  }
};

}  // namespace

void EncodeGfniAvx512(size_t len, const CodingMatrix& matrix,
                      const uint8_t* const* src, uint8_t* const* dst) {
  kernel_driver::Encode<GfniAvx512>(len, matrix, src, dst);
}

}  // namespace ec
}  // namespace tessera
