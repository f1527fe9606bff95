// CRC32C and CRC32 with the ARMv8 CRC32 instructions (crc32cx / crc32x).
// Built only for aarch64, with -march=armv8-a+crc. Selected when the kernel
// reports HWCAP_CRC32. CRC64/NVME uses the table on arm64 for now (a PMULL
// folding kernel is the natural next step; see docs/io.md).

#include <arm_acle.h>

#include <cstring>

#include "checksum/crc_internal.h"
#include "core/ts_assert.h"

namespace tessera {
namespace checksum {
namespace {

template <uint32_t (*kStep64)(uint32_t, uint64_t),
          uint32_t (*kStep8)(uint32_t, uint8_t)>
uint32_t Arm64Raw(uint32_t reg, const uint8_t* p, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = kStep8(reg, *p++);
    n--;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    reg = kStep64(reg, v);
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    reg = kStep8(reg, *p++);
    n--;
  }
  return reg;
}

uint32_t StepC64(uint32_t r, uint64_t v) { return __crc32cd(r, v); }
uint32_t StepC8(uint32_t r, uint8_t v) { return __crc32cb(r, v); }
uint32_t Step64(uint32_t r, uint64_t v) { return __crc32d(r, v); }
uint32_t Step8(uint32_t r, uint8_t v) { return __crc32b(r, v); }

}  // namespace

uint32_t Crc32cArm64(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  return ~Arm64Raw<StepC64, StepC8>(~crc, static_cast<const uint8_t*>(data),
                                    len);
}

uint32_t Crc32Arm64(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  return ~Arm64Raw<Step64, Step8>(~crc, static_cast<const uint8_t*>(data), len);
}

}  // namespace checksum
}  // namespace tessera
