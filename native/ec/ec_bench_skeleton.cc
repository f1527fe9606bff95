// The memory-only skeleton of an encode, for ec_bench --paired: the loads,
// stores, prefetches and loop shape of the gfni-avx512 kernel (two 64-byte
// columns per step, each source prefetched 1 KiB ahead, m outputs held in
// registers) with the GF multiply replaced by one add and one xor per
// product. Its throughput is what the memory system allows for the access
// pattern, an upper bound for any kernel that moves the same bytes. Not a
// codec: the outputs are not parity.
#include <cstddef>
#include <cstdint>

#include "core/ts_assert.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera {
namespace ec {

#if defined(__x86_64__)

bool MemorySkeletonUsable() {
  return __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw");
}

namespace {
template <int N>
void Skeleton(size_t len, int k, uint8_t* const* src, uint8_t* const* dst) {
  for (size_t pos = 0; pos + 128 <= len; pos += 128) {
    __m512i a0[N], a1[N];
#pragma GCC unroll 8
    for (int n = 0; n < N; ++n) {
      a0[n] = _mm512_setzero_si512();
      a1[n] = _mm512_setzero_si512();
    }
    for (int j = 0; j < k; ++j) {
      const uint8_t* p = src[j] + pos;
      __builtin_prefetch(p + 1024, 0, 3);
      __builtin_prefetch(p + 1024 + 64, 0, 3);
      const __m512i x = _mm512_loadu_si512(p);
      const __m512i y = _mm512_loadu_si512(p + 64);
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) {
        a0[n] = _mm512_xor_si512(_mm512_add_epi8(a0[n], a0[n]), x);
        a1[n] = _mm512_xor_si512(_mm512_add_epi8(a1[n], a1[n]), y);
      }
    }
#pragma GCC unroll 8
    for (int n = 0; n < N; ++n) {
      _mm512_storeu_si512(dst[n] + pos, a0[n]);
      _mm512_storeu_si512(dst[n] + pos + 64, a1[n]);
    }
  }
}
}  // namespace

void EncodeMemorySkeleton(size_t len, int k, int m, uint8_t* const* src,
                          uint8_t* const* dst) {
  TS_ASSERT(MemorySkeletonUsable());
  switch (m) {
    case 2:
      Skeleton<2>(len, k, src, dst);
      break;
    case 4:
      Skeleton<4>(len, k, src, dst);
      break;
    default:
      TS_ASSERT_MSG(false, "skeleton supports m = 2 or 4");
  }
}

#else

bool MemorySkeletonUsable() { return false; }
void EncodeMemorySkeleton(size_t, int, int, uint8_t* const*, uint8_t* const*) {
  TS_ASSERT_MSG(false, "no skeleton on this architecture");
}

#endif

}  // namespace ec
}  // namespace tessera
