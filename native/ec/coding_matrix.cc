#include "ec/coding_matrix.h"

#include <cstring>

#include "core/ts_assert.h"
#include "ec/gf256.h"

namespace tessera {
namespace ec {
namespace {

// Row i of the matrix (output bit i) sits in byte 7-i of the qword; bit j of
// that row is bit i of c * x^j, the image of input bit j.
uint64_t AffineMatrixFor(uint8_t c) {
  uint64_t matrix = 0;
  for (int i = 0; i < 8; ++i) {
    uint8_t row = 0;
    for (int j = 0; j < 8; ++j) {
      const uint8_t image = GfMul(c, static_cast<uint8_t>(1u << j));
      row |= static_cast<uint8_t>(((image >> i) & 1u) << j);
    }
    matrix |= static_cast<uint64_t>(row) << (8 * (7 - i));
  }
  return matrix;
}

}  // namespace

void PrepareCodingMatrix(const uint8_t* coeff, int rows, int k,
                         CodingMatrix* out) {
  TS_ASSERT(k >= 1 && k <= data_shards_max);
  TS_ASSERT(rows >= 0 && rows <= parity_shards_max);
  TS_ASSERT(coeff != nullptr && out != nullptr);
  out->k = k;
  out->rows = rows;
  const int count = rows * k;
  std::memcpy(out->coeff, coeff, static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    const uint8_t c = coeff[i];
    for (int n = 0; n < 16; ++n) {
      out->nibble[i][n] = GfMul(c, static_cast<uint8_t>(n));
      out->nibble[i][16 + n] = GfMul(c, static_cast<uint8_t>(n << 4));
    }
    out->affine[i] = AffineMatrixFor(c);
  }
  TS_ASSERT(count == 0 || out->nibble[0][1] == coeff[0]);
}

}  // namespace ec
}  // namespace tessera
