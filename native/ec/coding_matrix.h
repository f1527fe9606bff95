// The limits of the code and the per-coefficient tables every kernel reads.
//
// A CodingMatrix is "rows outputs, each a GF(2^8) dot product of k sources".
// It is prepared once (per codec for encoding, per erasure pattern for
// reconstruction) so the kernels never build tables on the hot path. This
// header holds plain data only: it is included by the SIMD compilation
// units, which must not share inline functions with baseline code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera {
namespace ec {

// Limits of one codec. The Cauchy construction works up to k+m = 256; these
// are the sizes tessera supports and tests (32+16 is the tested maximum).
// lib/ec reads them from the addon, so this is their one source.
constexpr int data_shards_max = 32;
constexpr int parity_shards_max = 16;
constexpr int shard_count_max = data_shards_max + parity_shards_max;
// One shard; ISA-L's ec_encode_data takes an int length, and 1 GiB is far
// beyond any stripe tessera writes.
constexpr size_t shard_bytes_max = size_t{1} << 30;

struct CodingMatrix {
  int k = 0;     // sources (data shards, or surviving shards when decoding)
  int rows = 0;  // outputs
  // rows x k coefficients, row-major.
  uint8_t coeff[parity_shards_max * data_shards_max];
  // Per coefficient c: c*n for n in 0..15, then c*(n<<4) for n in 0..15; the
  // PSHUFB/TBL nibble tables (the same layout as ISA-L's gftbls).
  alignas(64) uint8_t nibble[parity_shards_max * data_shards_max][32];
  // Per coefficient: the 8x8 bit matrix that vgf2p8affineqb applies to
  // multiply a byte by c.
  uint64_t affine[parity_shards_max * data_shards_max];
};

// Fills `out` from `rows` x `k` coefficients (row-major).
void PrepareCodingMatrix(const uint8_t* coeff, int rows, int k,
                         CodingMatrix* out);

// outputs[r][i] = sum over j of coeff[r][j] * src[j][i], for i < len.
// src has matrix.k pointers and dst matrix.rows; none may alias.
using EncodeFn = void (*)(size_t len, const CodingMatrix& matrix,
                          const uint8_t* const* src, uint8_t* const* dst);

}  // namespace ec
}  // namespace tessera
