// AVX2 with the PSHUFB nibble-table method (32 bytes per step); the kernel
// for x86-64 CPUs without GFNI or AVX-512. Tail bytes go through the scalar
// nibble tables. Why this kernel cannot reach ISA-L's AVX-512 kernel on a
// CPU that has AVX-512: docs/ec.md, "How far from the bound".
#include <immintrin.h>

#include "ec/ec_kernels.h"
#include "ec/kernel_driver.h"

namespace tessera {
namespace ec {
namespace {

// Sources are prefetched this far ahead. The PSHUFB kernel consumes a
// source about 2.5 times slower than the GFNI kernels, so the shared 1 KiB
// (kernel_driver::prefetch_bytes) runs too far ahead of it: 128-384 B
// measured ~5% faster on 8+4 1 MiB and 4 MiB stripes (docs/ec.md).
constexpr size_t avx2_prefetch_bytes = 256;

inline void Prefetch(const uint8_t* p) {
  __builtin_prefetch(p + avx2_prefetch_bytes, 0, 3);
}

inline __m256i Load(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline __m256i Table(const uint8_t* p) {
  return _mm256_broadcastsi128_si256(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// The products of one source's 32 bytes at x with every output's table:
// stored into acc on the first source (no zeroing and no xor with zero),
// xored into it after.
template <int N, bool kFirst>
inline void Column(const uint8_t* x_ptr, const uint8_t (*tables)[32], int k,
                   int j, __m256i low_mask, __m256i* acc) {
  const __m256i x = Load(x_ptr);
  const __m256i lo = _mm256_and_si256(x, low_mask);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi64(x, 4), low_mask);
#pragma GCC unroll 8
  for (int n = 0; n < N; ++n) {
    const uint8_t* t = tables[n * k + j];
    const __m256i p = _mm256_xor_si256(_mm256_shuffle_epi8(Table(t), lo),
                                       _mm256_shuffle_epi8(Table(t + 16), hi));
    acc[n] = kFirst ? p : _mm256_xor_si256(acc[n], p);
  }
}

// The same for two adjacent 32-byte columns: each table broadcast feeds two
// lookups.
template <int N, bool kFirst>
inline void Column2(const uint8_t* x_ptr, const uint8_t (*tables)[32], int k,
                    int j, __m256i low_mask, __m256i* acc0, __m256i* acc1) {
  const __m256i x0 = Load(x_ptr);
  const __m256i x1 = Load(x_ptr + 32);
  const __m256i lo0 = _mm256_and_si256(x0, low_mask);
  const __m256i hi0 = _mm256_and_si256(_mm256_srli_epi64(x0, 4), low_mask);
  const __m256i lo1 = _mm256_and_si256(x1, low_mask);
  const __m256i hi1 = _mm256_and_si256(_mm256_srli_epi64(x1, 4), low_mask);
#pragma GCC unroll 8
  for (int n = 0; n < N; ++n) {
    const uint8_t* t = tables[n * k + j];
    const __m256i t_lo = Table(t);
    const __m256i t_hi = Table(t + 16);
    const __m256i p0 = _mm256_xor_si256(_mm256_shuffle_epi8(t_lo, lo0),
                                        _mm256_shuffle_epi8(t_hi, hi0));
    const __m256i p1 = _mm256_xor_si256(_mm256_shuffle_epi8(t_lo, lo1),
                                        _mm256_shuffle_epi8(t_hi, hi1));
    acc0[n] = kFirst ? p0 : _mm256_xor_si256(acc0[n], p0);
    acc1[n] = kFirst ? p1 : _mm256_xor_si256(acc1[n], p1);
  }
}

struct Avx2 {
  static constexpr int kOutputsPerPassMax = 4;

  template <int N>
  static void Pass(size_t off, size_t len, const CodingMatrix& m, int row0,
                   const uint8_t* const* src, uint8_t* const* dst) {
    const int k = m.k;
    TS_ASSERT(k >= 1);
    const uint8_t(*tables)[32] = &m.nibble[row0 * k];
    const __m256i low_mask = _mm256_set1_epi8(0x0f);
    const size_t end = off + len;
    size_t pos = off;
    // Peel the head through the scalar tables so the first output's stores
    // are 64-byte aligned: both 32-byte stores of a step land in one line
    // (buffers 16 bytes past a line, as malloc and Node give, otherwise split
    // every other store); sources and other outputs usually share the offset.
    const size_t head =
        (0 - reinterpret_cast<uintptr_t>(dst[row0] + pos)) & size_t{63};
    if (head != 0 && head + 64 <= len) {
      kernel_driver::ScalarTail<Avx2>(pos, pos + head, N, m, row0, src, dst);
      pos += head;
    }
    // Two 32-byte columns per step.
    for (; pos + 64 <= end; pos += 64) {
      __m256i acc0[N], acc1[N];
      Prefetch(src[0] + pos);
      Column2<N, true>(src[0] + pos, tables, k, 0, low_mask, acc0, acc1);
      for (int j = 1; j < k; ++j) {
        Prefetch(src[j] + pos);
        Column2<N, false>(src[j] + pos, tables, k, j, low_mask, acc0, acc1);
      }
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[row0 + n] + pos),
                            acc0[n]);
        _mm256_storeu_si256(
            reinterpret_cast<__m256i*>(dst[row0 + n] + pos + 32), acc1[n]);
      }
    }
    for (; pos + 32 <= end; pos += 32) {
      __m256i acc[N];
      Column<N, true>(src[0] + pos, tables, k, 0, low_mask, acc);
      for (int j = 1; j < k; ++j)
        Column<N, false>(src[j] + pos, tables, k, j, low_mask, acc);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[row0 + n] + pos),
                            acc[n]);
      }
    }
    kernel_driver::ScalarTail<Avx2>(pos, end, N, m, row0, src, dst);
  }
};

}  // namespace

void EncodeAvx2(size_t len, const CodingMatrix& matrix,
                const uint8_t* const* src, uint8_t* const* dst) {
  kernel_driver::Encode<Avx2>(len, matrix, src, dst);
}

}  // namespace ec
}  // namespace tessera
