// What the CPU and the OS let us run, detected once per process.
//
// SIMD code lives in its own compilation units with their own -m flags; the
// generic code (this file included) is built for the baseline ISA, so the
// addon loads on any CPU of its architecture. Dispatchers consult
// GetCpuFeatures() once at start-up and pick a kernel.
#pragma once

namespace tessera {

struct CpuFeatures {
  // x86-64. The wide-register flags are only true when the OS also saves
  // the registers on context switch (XCR0), not just when CPUID has the bit.
  bool sse42 = false;
  bool ssse3 = false;
  bool pclmulqdq = false;
  bool avx2 = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool gfni = false;
  bool vpclmulqdq = false;
  // arm64
  bool neon = false;
  bool arm_crc32 = false;
  bool arm_pmull = false;
};

// Detected on first call (thread-safe static init); never changes after.
const CpuFeatures& GetCpuFeatures();

// Space-separated list of the flags above that are true, e.g. "sse4.2 avx2".
const char* CpuFeatureSummary();

}  // namespace tessera
