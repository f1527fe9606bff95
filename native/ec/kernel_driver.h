// The loop structure shared by the SIMD kernels: split the outputs into
// passes of at most Isa::kOutputsPerPassMax rows (each pass reads every
// source once and keeps its accumulators in registers), and when more than
// one pass is needed, walk the columns in blocks small enough that the
// sources are still in L1/L2 for the second pass.
//
// Included only by kernel compilation units. Everything here is a template
// over an Isa type with internal linkage, so each unit gets its own copy
// built with its own flags (no shared inline code across ISAs).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/ts_assert.h"
#include "ec/coding_matrix.h"

namespace tessera {
namespace ec {
namespace kernel_driver {

// Sources of one block take about 256 KiB: well inside this machine class's
// 1-2 MiB L2, so later passes over the same block hit cache.
constexpr size_t block_source_bytes = 256 * 1024;
constexpr size_t block_bytes_min = 4096;

// Sources are prefetched this far ahead of the column being computed. With
// 8-10 source streams plus 4 output streams the hardware prefetchers fall
// behind; 1 KiB ahead measured best on this machine class (512 B and 2 KiB
// were slower), lifting 8+4 1 MiB encodes from about 1.45x to 2x ISA-L's
// AVX-512 kernel. Prefetches never fault, so running past the end is safe.
constexpr size_t prefetch_bytes = 1024;

template <class Isa>
inline void Prefetch(const uint8_t* p) {
  __builtin_prefetch(p + prefetch_bytes, 0, 3);
}

template <class Isa, int N>
inline void PassIfSupported(size_t off, size_t len, const CodingMatrix& m,
                            int row0, const uint8_t* const* src,
                            uint8_t* const* dst) {
  if constexpr (N <= Isa::kOutputsPerPassMax) {
    Isa::template Pass<N>(off, len, m, row0, src, dst);
  } else {
    TS_ASSERT_MSG(false, "pass wider than the kernel supports");
  }
}

template <class Isa>
inline void RunPass(int outputs, size_t off, size_t len, const CodingMatrix& m,
                    int row0, const uint8_t* const* src, uint8_t* const* dst) {
  switch (outputs) {
    case 1:
      PassIfSupported<Isa, 1>(off, len, m, row0, src, dst);
      break;
    case 2:
      PassIfSupported<Isa, 2>(off, len, m, row0, src, dst);
      break;
    case 3:
      PassIfSupported<Isa, 3>(off, len, m, row0, src, dst);
      break;
    case 4:
      PassIfSupported<Isa, 4>(off, len, m, row0, src, dst);
      break;
    case 5:
      PassIfSupported<Isa, 5>(off, len, m, row0, src, dst);
      break;
    case 6:
      PassIfSupported<Isa, 6>(off, len, m, row0, src, dst);
      break;
    default:
      TS_ASSERT_MSG(false, "pass width out of range");
  }
}

template <class Isa>
inline void Encode(size_t len, const CodingMatrix& m, const uint8_t* const* src,
                   uint8_t* const* dst) {
  TS_ASSERT(m.k >= 1 && m.k <= data_shards_max);
  TS_ASSERT(m.rows >= 0 && m.rows <= parity_shards_max);
  if (m.rows == 0 || len == 0) return;
  constexpr int per_pass = Isa::kOutputsPerPassMax;
  const int passes = (m.rows + per_pass - 1) / per_pass;
  size_t block = len;
  if (passes > 1) {
    block = block_source_bytes / static_cast<size_t>(m.k);
    block &= ~static_cast<size_t>(63);
    if (block < block_bytes_min) block = block_bytes_min;
  }
  for (size_t off = 0; off < len; off += block) {
    const size_t n = len - off < block ? len - off : block;
    int row = 0;
    for (int pass = 0; pass < passes; ++pass) {
      // Balanced passes (5 rows -> 3 + 2) keep every pass near full width.
      const int left = passes - pass;
      const int outputs = (m.rows - row + left - 1) / left;
      RunPass<Isa>(outputs, off, n, m, row, src, dst);
      row += outputs;
    }
    TS_ASSERT(row == m.rows);
  }
}

// Bytes [from, end) of `outputs` rows starting at row0, one byte at a time
// through the nibble tables; the tail of the kernels without masked loads.
// A template over Isa only so that each unit keeps its own copy.
template <class Isa>
inline void ScalarTail(size_t from, size_t end, int outputs,
                       const CodingMatrix& m, int row0,
                       const uint8_t* const* src, uint8_t* const* dst) {
  const int k = m.k;
  for (int r = 0; r < outputs; ++r) {
    const uint8_t(*tables)[32] = &m.nibble[(row0 + r) * k];
    for (size_t i = from; i < end; ++i) {
      uint8_t acc = 0;
      for (int j = 0; j < k; ++j) {
        const uint8_t x = src[j][i];
        acc ^= tables[j][x & 15] ^ tables[j][16 + (x >> 4)];
      }
      dst[row0 + r][i] = acc;
    }
  }
}

}  // namespace kernel_driver
}  // namespace ec
}  // namespace tessera
