// The encode kernels and the one-time choice between them.
//
// Every kernel has the EncodeFn signature and computes exactly what the
// scalar kernel (the oracle) computes. Each SIMD kernel lives in its own
// compilation unit built with its own -m flags; nothing here runs a wide
// instruction until the CPU (and OS) support for it has been checked.
#pragma once

#include "ec/coding_matrix.h"

namespace tessera {
namespace ec {

struct EcKernel {
  const char* name;  // "scalar", "ssse3", "avx2", "avx512bw", "gfni-avx2",
                     // "gfni-avx512", "neon"
  EncodeFn encode;
};

// Kernels this CPU and OS can run, fastest first; "scalar" is always last.
// Computed once (thread-safe); the pointers stay valid for the process.
int UsableKernelCount();
const EcKernel* UsableKernel(int index);
// The kernel dispatch picks: the first usable one.
const EcKernel* BestKernel();
// A usable kernel by name, or nullptr when unknown or not usable here.
const EcKernel* FindUsableKernel(const char* name);
// True when `name` is a kernel tessera has (on some CPU), usable or not.
bool IsKnownKernelName(const char* name);

// The kernels themselves (defined only where compiled for the target).
void EncodeScalar(size_t len, const CodingMatrix& matrix,
                  const uint8_t* const* src, uint8_t* const* dst);
#if defined(__x86_64__)
void EncodeSsse3(size_t len, const CodingMatrix& matrix,
                 const uint8_t* const* src, uint8_t* const* dst);
void EncodeAvx2(size_t len, const CodingMatrix& matrix,
                const uint8_t* const* src, uint8_t* const* dst);
void EncodeAvx512bw(size_t len, const CodingMatrix& matrix,
                    const uint8_t* const* src, uint8_t* const* dst);
void EncodeGfniAvx2(size_t len, const CodingMatrix& matrix,
                    const uint8_t* const* src, uint8_t* const* dst);
void EncodeGfniAvx512(size_t len, const CodingMatrix& matrix,
                      const uint8_t* const* src, uint8_t* const* dst);
#endif
#if defined(__aarch64__)
void EncodeNeon(size_t len, const CodingMatrix& matrix,
                const uint8_t* const* src, uint8_t* const* dst);
#endif

}  // namespace ec
}  // namespace tessera
