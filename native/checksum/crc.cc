// Kernel selection: once per process, from core/cpu_features.h.

#include "checksum/crc.h"

#include "checksum/crc_internal.h"
#include "core/cpu_features.h"
#include "core/ts_assert.h"

namespace tessera {
namespace checksum {
namespace {

#if defined(__x86_64__)
bool HasPclmul(const CpuFeatures& f) { return f.sse42 && f.pclmulqdq; }
bool HasVpclmul512(const CpuFeatures& f) {
  return HasPclmul(f) && f.avx512f && f.avx512bw && f.avx512vl && f.vpclmulqdq;
}
#endif

// The preferred kernel is the last entry of each list (lists are ordered
// from the reference up to the fastest measured on this CPU class; see
// docs/BENCHMARKS.md, "Checksums").
template <typename Kernel>
const Kernel& Best(const std::vector<Kernel>& kernels) {
  TS_ASSERT(!kernels.empty());
  return kernels.back();
}

}  // namespace

std::vector<Crc32Kernel> AvailableCrc32cKernels() {
  std::vector<Crc32Kernel> k = {{"table", Crc32cTable}};
#if defined(__x86_64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (f.sse42) k.push_back({"sse42", Crc32cSse42});
  if (HasPclmul(f)) k.push_back({"pclmul", Crc32cPclmul});
  if (HasPclmul(f)) k.push_back({"sse42-3way", Crc32cSse42ThreeWay});
  if (HasVpclmul512(f)) k.push_back({"vpclmul-avx512", Crc32cVpclmul});
#elif defined(__aarch64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (f.arm_crc32) k.push_back({"arm64-crc", Crc32cArm64});
  if (f.arm_crc32 && f.arm_pmull) k.push_back({"arm64-pmull", Crc32cPmull});
#endif
  return k;
}

std::vector<Crc32Kernel> AvailableCrc32Kernels() {
  std::vector<Crc32Kernel> k = {{"table", Crc32Table}};
#if defined(__x86_64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (HasPclmul(f)) k.push_back({"pclmul", Crc32Pclmul});
  if (HasVpclmul512(f)) k.push_back({"vpclmul-avx512", Crc32Vpclmul});
#elif defined(__aarch64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (f.arm_crc32) k.push_back({"arm64-crc", Crc32Arm64});
  if (f.arm_crc32 && f.arm_pmull) k.push_back({"arm64-pmull", Crc32Pmull});
#endif
  return k;
}

std::vector<Crc64Kernel> AvailableCrc64NvmeKernels() {
  std::vector<Crc64Kernel> k = {{"table", Crc64NvmeTable}};
#if defined(__x86_64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (HasPclmul(f)) k.push_back({"pclmul", Crc64NvmePclmul});
  if (HasVpclmul512(f)) k.push_back({"vpclmul-avx512", Crc64NvmeVpclmul});
#elif defined(__aarch64__)
  const CpuFeatures& f = GetCpuFeatures();
  if (f.arm_crc32 && f.arm_pmull) {
    k.push_back({"arm64-pmull", Crc64NvmePmull});
  }
#endif
  return k;
}

}  // namespace checksum

namespace crc32c {
namespace {
const checksum::Crc32Kernel& Selected() {
  static const checksum::Crc32Kernel kernel =
      checksum::Best(checksum::AvailableCrc32cKernels());
  return kernel;
}
}  // namespace
uint32_t Extend(uint32_t crc, const void* data, size_t len) {
  return Selected().fn(crc, data, len);
}
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(
      checksum::CombineFinal(checksum::CrcKind::kCrc32c, crc_a, crc_b, len_b));
}
const char* KernelName() { return Selected().name; }
}  // namespace crc32c

namespace crc32 {
namespace {
const checksum::Crc32Kernel& Selected() {
  static const checksum::Crc32Kernel kernel =
      checksum::Best(checksum::AvailableCrc32Kernels());
  return kernel;
}
}  // namespace
uint32_t Extend(uint32_t crc, const void* data, size_t len) {
  return Selected().fn(crc, data, len);
}
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(
      checksum::CombineFinal(checksum::CrcKind::kCrc32, crc_a, crc_b, len_b));
}
const char* KernelName() { return Selected().name; }
}  // namespace crc32

namespace crc64nvme {
namespace {
const checksum::Crc64Kernel& Selected() {
  static const checksum::Crc64Kernel kernel =
      checksum::Best(checksum::AvailableCrc64NvmeKernels());
  return kernel;
}
}  // namespace
uint64_t Extend(uint64_t crc, const void* data, size_t len) {
  return Selected().fn(crc, data, len);
}
uint64_t Combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  return checksum::CombineFinal(checksum::CrcKind::kCrc64Nvme, crc_a, crc_b,
                                len_b);
}
const char* KernelName() { return Selected().name; }
}  // namespace crc64nvme
}  // namespace tessera
