// NEON for arm64 with the nibble-table method: vqtbl1q_u8 looks up 16 bytes
// at a time in the same 16-entry tables the x86 PSHUFB kernels use. Built
// only for arm64 targets; kept to the plainest loop so it is correct by
// construction (it cannot be tested on the x86 build machines).
#include <arm_neon.h>

#include "ec/ec_kernels.h"
#include "ec/kernel_driver.h"

namespace tessera {
namespace ec {
namespace {

struct Neon {
  static constexpr int kOutputsPerPassMax = 4;

  template <int N>
  static void Pass(size_t off, size_t len, const CodingMatrix& m, int row0,
                   const uint8_t* const* src, uint8_t* const* dst) {
    const int k = m.k;
    const uint8_t(*tables)[32] = &m.nibble[row0 * k];
    const uint8x16_t low_mask = vdupq_n_u8(0x0f);
    const size_t end = off + len;
    size_t pos = off;
    for (; pos + 16 <= end; pos += 16) {
      uint8x16_t acc[N];
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) acc[n] = vdupq_n_u8(0);
      for (int j = 0; j < k; ++j) {
        kernel_driver::Prefetch<Neon>(src[j] + pos);
        const uint8x16_t x = vld1q_u8(src[j] + pos);
        const uint8x16_t lo = vandq_u8(x, low_mask);
        const uint8x16_t hi = vshrq_n_u8(x, 4);
#pragma GCC unroll 8
        for (int n = 0; n < N; ++n) {
          const uint8_t* t = tables[n * k + j];
          const uint8x16_t p_lo = vqtbl1q_u8(vld1q_u8(t), lo);
          const uint8x16_t p_hi = vqtbl1q_u8(vld1q_u8(t + 16), hi);
          acc[n] = veorq_u8(acc[n], veorq_u8(p_lo, p_hi));
        }
      }
#pragma GCC unroll 8
      for (int n = 0; n < N; ++n) vst1q_u8(dst[row0 + n] + pos, acc[n]);
    }
    kernel_driver::ScalarTail<Neon>(pos, end, N, m, row0, src, dst);
  }
};

}  // namespace

void EncodeNeon(size_t len, const CodingMatrix& matrix,
                const uint8_t* const* src, uint8_t* const* dst) {
  kernel_driver::Encode<Neon>(len, matrix, src, dst);
}

}  // namespace ec
}  // namespace tessera
