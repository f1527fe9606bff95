// Arithmetic in GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11d), the
// field ISA-L's erasure code uses, and the matrices built on it.
//
// This is baseline-ISA code: kernels take their per-coefficient tables from
// coding_matrix.h, never call these functions from a SIMD compilation unit.
#pragma once

#include <cstdint>

namespace tessera {
namespace ec {

constexpr unsigned gf_polynomial = 0x11d;

uint8_t GfMul(uint8_t a, uint8_t b);
// Multiplicative inverse; GfInv(0) is 0 by convention (as in ISA-L).
uint8_t GfInv(uint8_t a);
// The 256 products c * x for x in 0..255; used by the scalar oracle.
const uint8_t* GfMulRow(uint8_t c);

// Writes the (k+m) x k generator matrix of the systematic code, row-major:
// rows 0..k-1 are the identity, row i >= k column j is 1 / (i xor j). This is
// the matrix of ISA-L's gf_gen_cauchy1_matrix(a, k+m, k), so parity bytes
// match ec_encode_data. Every k x k submatrix is invertible (a Cauchy matrix
// over disjoint point sets {k..k+m-1} and {0..k-1}, stacked on the identity)
// as long as k+m <= 256.
void GenerateCauchyMatrix(int k, int m, uint8_t* out);

// Inverts the n x n matrix `in` (row-major) into `out` by Gauss-Jordan
// elimination. Returns false when `in` is singular. `in` is clobbered.
bool InvertMatrix(uint8_t* in, uint8_t* out, int n);

}  // namespace ec
}  // namespace tessera
