// Which kernels this process may run, decided once from CPUID and XCR0
// (core/cpu_features), fastest first.
#include <cstring>

#include "core/cpu_features.h"
#include "core/ts_assert.h"
#include "ec/ec_kernels.h"

namespace tessera {
namespace ec {
namespace {

constexpr const char* known_kernel_names[] = {
    "gfni-avx512", "gfni-avx2", "avx512bw", "avx2", "ssse3", "neon", "scalar",
};
constexpr int kernel_count_max = 8;

struct KernelList {
  EcKernel kernels[kernel_count_max];
  int count = 0;

  void Add(const char* name, EncodeFn fn) {
    TS_ASSERT(count < kernel_count_max);
    kernels[count++] = EcKernel{name, fn};
  }

  KernelList() {
    const CpuFeatures& f = GetCpuFeatures();
    (void)f;
#if defined(__x86_64__)
    // Order is preference: GFNI multiplies 64 bytes in one instruction
    // where PSHUFB needs two lookups, a shift and two masks.
    const bool avx512 = f.avx512f && f.avx512bw;
    if (avx512 && f.gfni) Add("gfni-avx512", EncodeGfniAvx512);
    if (f.avx2 && f.gfni) Add("gfni-avx2", EncodeGfniAvx2);
    if (avx512) Add("avx512bw", EncodeAvx512bw);
    if (f.avx2) Add("avx2", EncodeAvx2);
    if (f.ssse3) Add("ssse3", EncodeSsse3);
#endif
#if defined(__aarch64__)
    if (f.neon) Add("neon", EncodeNeon);
#endif
    Add("scalar", EncodeScalar);
    TS_ASSERT(count >= 1 &&
              std::strcmp(kernels[count - 1].name, "scalar") == 0);
  }
};

const KernelList& Kernels() {
  static const KernelList list;
  return list;
}

}  // namespace

int UsableKernelCount() { return Kernels().count; }

const EcKernel* UsableKernel(int index) {
  TS_ASSERT(index >= 0 && index < Kernels().count);
  return &Kernels().kernels[index];
}

const EcKernel* BestKernel() { return &Kernels().kernels[0]; }

const EcKernel* FindUsableKernel(const char* name) {
  TS_ASSERT(name != nullptr);
  const KernelList& list = Kernels();
  for (int i = 0; i < list.count; ++i) {
    if (std::strcmp(list.kernels[i].name, name) == 0) return &list.kernels[i];
  }
  return nullptr;
}

bool IsKnownKernelName(const char* name) {
  TS_ASSERT(name != nullptr);
  for (const char* known : known_kernel_names) {
    if (std::strcmp(known, name) == 0) return true;
  }
  return false;
}

}  // namespace ec
}  // namespace tessera
