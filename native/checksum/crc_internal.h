// Internals shared by the CRC kernels, the dispatcher, the tests and the
// benchmarks. Not part of the public API (see crc.h).
//
// Conventions. A "raw" function works on the CRC register without the
// initial and final inversion: raw(reg, M) = (reg * x^(8|M|) + M * x^w) mod P
// in the bit-reflected representation (bit 0 of a register holds the
// coefficient of x^(w-1)). The public Extend(crc, ...) is ~raw(~crc, ...).
// Working on raw registers makes the math of folding and combining linear.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tessera {
namespace checksum {

enum class CrcKind { kCrc32c = 0, kCrc32 = 1, kCrc64Nvme = 2 };

// Reflected polynomials (without the x^w term).
constexpr uint32_t kCrc32cPolyReflected = 0x82F63B78u;
constexpr uint32_t kCrc32PolyReflected = 0xEDB88320u;
constexpr uint64_t kCrc64NvmePolyReflected = 0x9A6C9329AC4BC9B5ull;

int CrcWidthBits(CrcKind kind);

// Portable slice-by-8 reference: the oracle every fast kernel is tested
// against, and the kernel on CPUs without the instructions.
uint32_t Crc32cTableRaw(uint32_t reg, const uint8_t* p, size_t n);
uint32_t Crc32TableRaw(uint32_t reg, const uint8_t* p, size_t n);
uint64_t Crc64NvmeTableRaw(uint64_t reg, const uint8_t* p, size_t n);
// Bit-at-a-time definition, used by tests to check the tables themselves.
uint64_t CrcBitwiseRaw(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n);

// GF(2)[x] mod P arithmetic in the reflected representation of `kind`.
uint64_t MulModP(CrcKind kind, uint64_t a, uint64_t b);
// x^n mod P, reflected, for any n (square-and-multiply).
uint64_t XPowModP(CrcKind kind, uint64_t n);
// reg * x^(8 * len) mod P: what a register becomes after len zero bytes.
uint64_t ShiftRaw(CrcKind kind, uint64_t reg, uint64_t len);
// CRC(A || B) from CRC(A), CRC(B) (finalized values) and |B|.
uint64_t CombineFinal(CrcKind kind, uint64_t crc_a, uint64_t crc_b,
                      uint64_t len_b);

// Carry-less multiplication folding constants for one polynomial. Folding a
// 128-bit block X forward by F bits is
//   clmul(X.q0, k[0]) ^ clmul(X.q1, k[1])
// with k[0] = x^(F+63) mod P and k[1] = x^(F-1) mod P, both as 64-bit
// reflected operands (a 32-bit CRC's constant sits in the high half).
struct FoldPair {
  uint64_t k_q0;
  uint64_t k_q1;
};
struct FoldConstants {
  FoldPair f128;   // one 16-byte lane to the next
  FoldPair f256;   // two lanes apart
  FoldPair f384;   // three lanes apart
  FoldPair f512;   // four lanes apart (64 bytes)
  FoldPair f2048;  // sixteen lanes apart (256 bytes)
};
FoldPair MakeFoldPair(CrcKind kind, uint64_t distance_bits);
const FoldConstants& GetFoldConstants(CrcKind kind);

// A raw register function used to finish a folded buffer.
using RawTailFn = uint64_t (*)(uint64_t reg, const uint8_t* p, size_t n);
uint64_t TableRawTail(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n);

// ---- Kernels. Each takes and returns finalized CRC values, like Extend.
using Crc32Fn = uint32_t (*)(uint32_t crc, const void* data, size_t len);
using Crc64Fn = uint64_t (*)(uint64_t crc, const void* data, size_t len);

uint32_t Crc32cTable(uint32_t crc, const void* data, size_t len);
uint32_t Crc32Table(uint32_t crc, const void* data, size_t len);
uint64_t Crc64NvmeTable(uint64_t crc, const void* data, size_t len);

#if defined(__x86_64__)
// crc32c_sse42.cc (-msse4.2 -mpclmul)
uint32_t Crc32cSse42(uint32_t crc, const void* data, size_t len);
uint32_t Crc32cSse42ThreeWay(uint32_t crc, const void* data, size_t len);
// crc_fold_pclmul.cc (-msse4.2 -mpclmul)
uint32_t Crc32cPclmul(uint32_t crc, const void* data, size_t len);
uint32_t Crc32Pclmul(uint32_t crc, const void* data, size_t len);
uint64_t Crc64NvmePclmul(uint64_t crc, const void* data, size_t len);
// crc_fold_vpclmul.cc (-mavx512f -mavx512bw -mavx512vl -mvpclmulqdq)
uint32_t Crc32cVpclmul(uint32_t crc, const void* data, size_t len);
uint32_t Crc32Vpclmul(uint32_t crc, const void* data, size_t len);
uint64_t Crc64NvmeVpclmul(uint64_t crc, const void* data, size_t len);
#endif
#if defined(__aarch64__)
// crc_arm64.cc (-march=armv8-a+crc+crypto)
uint32_t Crc32cArm64(uint32_t crc, const void* data, size_t len);
uint32_t Crc32Arm64(uint32_t crc, const void* data, size_t len);
// crc_fold_pmull.cc (-march=armv8-a+crc+crypto)
uint32_t Crc32cPmull(uint32_t crc, const void* data, size_t len);
uint32_t Crc32Pmull(uint32_t crc, const void* data, size_t len);
uint64_t Crc64NvmePmull(uint64_t crc, const void* data, size_t len);
#endif

// Every kernel this CPU can run, best last-resort first: [0] is the table.
struct Crc32Kernel {
  const char* name;
  Crc32Fn fn;
};
struct Crc64Kernel {
  const char* name;
  Crc64Fn fn;
};
std::vector<Crc32Kernel> AvailableCrc32cKernels();
std::vector<Crc32Kernel> AvailableCrc32Kernels();
std::vector<Crc64Kernel> AvailableCrc64NvmeKernels();

}  // namespace checksum
}  // namespace tessera
