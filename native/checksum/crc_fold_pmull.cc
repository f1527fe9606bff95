// CRC32C, CRC32 and CRC64/NVME by carry-less multiplication folding with
// the ARMv8 PMULL instruction (vmull_p64). Built only for aarch64, with
// -march=armv8-a+crc+crypto; selected when the kernel reports HWCAP_PMULL.
//
// The method and the constants are those of crc_fold_pclmul.cc: PMULL's
// 64x64 carry-less product has the same bit order as PCLMULQDQ, and the
// loads are little-endian, so the folding constants computed in
// crc_reference.cc serve both. The last lane and the tail are finished with
// the CRC32 instructions (CRC32C, CRC32) or the table (CRC64/NVME).

#include <arm_acle.h>
#include <arm_neon.h>

#include <cstring>

#include "checksum/crc_internal.h"
#include "core/ts_assert.h"

namespace tessera {
namespace checksum {
namespace {

constexpr size_t kMinFoldBytes = 64;

inline uint64x2_t Clmul(uint64_t a, uint64_t b) {
  return vreinterpretq_u64_p128(
      vmull_p64(static_cast<poly64_t>(a), static_cast<poly64_t>(b)));
}

inline uint64x2_t Fold(uint64x2_t x, const FoldPair& k, uint64x2_t next) {
  return veorq_u64(veorq_u64(Clmul(vgetq_lane_u64(x, 0), k.k_q0),
                             Clmul(vgetq_lane_u64(x, 1), k.k_q1)),
                   next);
}

inline uint64x2_t Load(const uint8_t* p) {
  return vreinterpretq_u64_u8(vld1q_u8(p));
}

template <uint32_t (*kStep64)(uint32_t, uint64_t),
          uint32_t (*kStep8)(uint32_t, uint8_t)>
uint64_t Arm64Tail(uint64_t reg, const uint8_t* p, size_t n) {
  uint32_t r = static_cast<uint32_t>(reg);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    r = kStep64(r, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    r = kStep8(r, *p++);
    n--;
  }
  return r;
}

uint32_t StepC64(uint32_t r, uint64_t v) { return __crc32cd(r, v); }
uint32_t StepC8(uint32_t r, uint8_t v) { return __crc32cb(r, v); }
uint32_t Step64(uint32_t r, uint64_t v) { return __crc32d(r, v); }
uint32_t Step8(uint32_t r, uint8_t v) { return __crc32b(r, v); }

constexpr RawTailFn kCrc32cTail = Arm64Tail<StepC64, StepC8>;
constexpr RawTailFn kCrc32Tail = Arm64Tail<Step64, Step8>;

uint64_t Crc64Tail(uint64_t reg, const uint8_t* p, size_t n) {
  return Crc64NvmeTableRaw(reg, p, n);
}

template <RawTailFn kTail>
uint64_t FoldRaw(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n) {
  TS_ASSERT(n >= kMinFoldBytes);
  const FoldConstants& c = GetFoldConstants(kind);
  uint64x2_t x0 = veorq_u64(Load(p), vsetq_lane_u64(reg, vdupq_n_u64(0), 0));
  uint64x2_t x1 = Load(p + 16), x2 = Load(p + 32), x3 = Load(p + 48);
  p += 64;
  n -= 64;
  while (n >= 64) {
    x0 = Fold(x0, c.f512, Load(p));
    x1 = Fold(x1, c.f512, Load(p + 16));
    x2 = Fold(x2, c.f512, Load(p + 32));
    x3 = Fold(x3, c.f512, Load(p + 48));
    p += 64;
    n -= 64;
  }
  uint64x2_t x = Fold(x0, c.f128, x1);
  x = Fold(x, c.f128, x2);
  x = Fold(x, c.f128, x3);
  while (n >= 16) {
    x = Fold(x, c.f128, Load(p));
    p += 16;
    n -= 16;
  }
  alignas(16) uint8_t lane[16];
  vst1q_u8(lane, vreinterpretq_u8_u64(x));
  TS_ASSERT(n < 16);
  return kTail(kTail(0, lane, 16), p, n);
}

}  // namespace

uint32_t Crc32cPmull(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < kMinFoldBytes)
    return ~static_cast<uint32_t>(kCrc32cTail(~crc, p, len));
  return ~static_cast<uint32_t>(
      FoldRaw<kCrc32cTail>(CrcKind::kCrc32c, ~crc & 0xFFFFFFFFull, p, len));
}

uint32_t Crc32Pmull(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < kMinFoldBytes)
    return ~static_cast<uint32_t>(kCrc32Tail(~crc, p, len));
  return ~static_cast<uint32_t>(
      FoldRaw<kCrc32Tail>(CrcKind::kCrc32, ~crc & 0xFFFFFFFFull, p, len));
}

uint64_t Crc64NvmePmull(uint64_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (len < kMinFoldBytes) return ~Crc64NvmeTableRaw(~crc, p, len);
  return ~FoldRaw<Crc64Tail>(CrcKind::kCrc64Nvme, ~crc, p, len);
}

}  // namespace checksum
}  // namespace tessera
