// The reference kernel: one byte at a time through the full product table.
// Deliberately the most direct reading of the definition, so it can serve as
// the oracle every SIMD kernel is tested against.
#include "core/ts_assert.h"
#include "ec/ec_kernels.h"
#include "ec/gf256.h"

namespace tessera {
namespace ec {

void EncodeScalar(size_t len, const CodingMatrix& matrix,
                  const uint8_t* const* src, uint8_t* const* dst) {
  TS_ASSERT(matrix.k >= 1 && matrix.k <= data_shards_max);
  TS_ASSERT(matrix.rows >= 0 && matrix.rows <= parity_shards_max);
  const int k = matrix.k;
  for (int r = 0; r < matrix.rows; ++r) {
    uint8_t* out = dst[r];
    for (size_t i = 0; i < len; ++i) out[i] = 0;
    for (int j = 0; j < k; ++j) {
      const uint8_t* product = GfMulRow(matrix.coeff[r * k + j]);
      const uint8_t* in = src[j];
      for (size_t i = 0; i < len; ++i) out[i] ^= product[in[i]];
    }
  }
}

}  // namespace ec
}  // namespace tessera
