#include "cpu_features.h"

#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tessera {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
unsigned long long ReadXcr0() {
  unsigned int eax = 0, edx = 0;
  // xgetbv with ecx=0; encoded as bytes so no -mxsave flag is needed.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

CpuFeatures Detect() {
  CpuFeatures f;
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  f.ssse3 = (ecx & bit_SSSE3) != 0;
  f.sse42 = (ecx & bit_SSE4_2) != 0;
  f.pclmulqdq = (ecx & bit_PCLMUL) != 0;
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;
  const unsigned long long xcr0 = osxsave ? ReadXcr0() : 0;
  const bool ymm_ok = (xcr0 & 0x6) == 0x6;    // XMM + YMM state
  const bool zmm_ok = (xcr0 & 0xe6) == 0xe6;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
    f.avx2 = ymm_ok && (ebx & bit_AVX2) != 0;
    f.avx512f = zmm_ok && (ebx & bit_AVX512F) != 0;
    f.avx512bw = zmm_ok && (ebx & bit_AVX512BW) != 0;
    f.avx512vl = zmm_ok && (ebx & bit_AVX512VL) != 0;
    // GFNI on xmm works without AVX; the wide forms need the register state,
    // which kernels check through avx2 / avx512bw alongside gfni.
    f.gfni = (ecx & bit_GFNI) != 0;
    f.vpclmulqdq = ymm_ok && (ecx & bit_VPCLMULQDQ) != 0;
  }
  return f;
}
#elif defined(__aarch64__) && defined(__linux__)
CpuFeatures Detect() {
  CpuFeatures f;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon = (hwcap & HWCAP_ASIMD) != 0;
  f.arm_crc32 = (hwcap & HWCAP_CRC32) != 0;
  f.arm_pmull = (hwcap & HWCAP_PMULL) != 0;
  return f;
}
#else
CpuFeatures Detect() { return CpuFeatures(); }
#endif

std::string Summarize(const CpuFeatures& f) {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.sse42, "sse4.2");
  add(f.ssse3, "ssse3");
  add(f.pclmulqdq, "pclmulqdq");
  add(f.avx2, "avx2");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.gfni, "gfni");
  add(f.vpclmulqdq, "vpclmulqdq");
  add(f.neon, "neon");
  add(f.arm_crc32, "crc32");
  add(f.arm_pmull, "pmull");
  return s;
}

}  // namespace

const CpuFeatures& GetCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

const char* CpuFeatureSummary() {
  static const std::string summary = Summarize(GetCpuFeatures());
  return summary.c_str();
}

}  // namespace tessera
