// GFNI at AVX2 width (VEX-encoded vgf2p8affineqb on ymm): for CPUs with GFNI
// but without AVX-512 (Intel Alder Lake and later client cores, AMD Zen 3
// has neither). Tail bytes go through the scalar nibble tables.
#include <immintrin.h>

#include "ec/ec_kernels.h"
#include "ec/kernel_driver.h"

namespace tessera {
namespace ec {
namespace {

inline __m256i Mul(__m256i x, uint64_t matrix) {
  return _mm256_gf2p8affine_epi64_epi8(
      x, _mm256_set1_epi64x(static_cast<long long>(matrix)), 0);
}

inline __m256i Load(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

struct GfniAvx2 {
  static constexpr int kOutputsPerPassMax = 6;

  template <int N>
  static void Pass(size_t off, size_t len, const CodingMatrix& m, int row0,
                   const uint8_t* const* src, uint8_t* const* dst) {
    const int k = m.k;
    const uint64_t* mat = &m.affine[row0 * k];
    const size_t end = off + len;
    size_t pos = off;
    for (; pos + 32 <= end; pos += 32) {
      __m256i acc[N];
      kernel_driver::Prefetch<GfniAvx2>(src[0] + pos);
      const __m256i x = Load(src[0] + pos);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) acc[n] = Mul(x, mat[n * k]);
      for (int j = 1; j < k; ++j) {
        kernel_driver::Prefetch<GfniAvx2>(src[j] + pos);
        const __m256i y = Load(src[j] + pos);
#pragma GCC unroll 8
        for (int n = 0; n < N; ++n) {
          acc[n] = _mm256_xor_si256(acc[n], Mul(y, mat[n * k + j]));
        }
      }
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[row0 + n] + pos),
                            acc[n]);
      }
    }
    kernel_driver::ScalarTail<GfniAvx2>(pos, end, N, m, row0, src, dst);
  }
};

}  // namespace

void EncodeGfniAvx2(size_t len, const CodingMatrix& matrix,
                    const uint8_t* const* src, uint8_t* const* dst) {
  kernel_driver::Encode<GfniAvx2>(len, matrix, src, dst);
}

}  // namespace ec
}  // namespace tessera
