// Portable CRC code: slice-by-8 tables (the reference and fallback kernel)
// and the GF(2)[x] mod P arithmetic behind Combine and the folding constants.

#include <array>
#include <cstring>

#include "checksum/crc_internal.h"
#include "core/ts_assert.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the CRC kernels assume a little-endian target"
#endif

namespace tessera {
namespace checksum {
namespace {

template <typename T>
struct SliceTables {
  T t[8][256];
};

template <typename T>
SliceTables<T> MakeSliceTables(T poly) {
  SliceTables<T> tb;
  for (unsigned b = 0; b < 256; b++) {
    T c = static_cast<T>(b);
    for (int i = 0; i < 8; i++) c = (c & 1) ? (c >> 1) ^ poly : (c >> 1);
    tb.t[0][b] = c;
  }
  for (int k = 1; k < 8; k++) {
    for (unsigned b = 0; b < 256; b++) {
      const T prev = tb.t[k - 1][b];
      tb.t[k][b] = (prev >> 8) ^ tb.t[0][prev & 0xff];
    }
  }
  return tb;
}

template <typename T>
T SliceBy8(const SliceTables<T>& tb, T reg, const uint8_t* p, size_t n) {
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    reg = tb.t[0][(reg ^ *p) & 0xff] ^ static_cast<T>(reg >> 8);
    p++;
    n--;
  }
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= reg;
    reg = tb.t[7][w & 0xff] ^ tb.t[6][(w >> 8) & 0xff] ^
          tb.t[5][(w >> 16) & 0xff] ^ tb.t[4][(w >> 24) & 0xff] ^
          tb.t[3][(w >> 32) & 0xff] ^ tb.t[2][(w >> 40) & 0xff] ^
          tb.t[1][(w >> 48) & 0xff] ^ tb.t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    reg = tb.t[0][(reg ^ *p) & 0xff] ^ static_cast<T>(reg >> 8);
    p++;
    n--;
  }
  return reg;
}

const SliceTables<uint32_t>& Crc32cTables() {
  static const SliceTables<uint32_t> tb = MakeSliceTables(kCrc32cPolyReflected);
  return tb;
}
const SliceTables<uint32_t>& Crc32Tables() {
  static const SliceTables<uint32_t> tb = MakeSliceTables(kCrc32PolyReflected);
  return tb;
}
const SliceTables<uint64_t>& Crc64NvmeTables() {
  static const SliceTables<uint64_t> tb =
      MakeSliceTables(kCrc64NvmePolyReflected);
  return tb;
}

uint64_t PolyOf(CrcKind kind) {
  switch (kind) {
    case CrcKind::kCrc32c:
      return kCrc32cPolyReflected;
    case CrcKind::kCrc32:
      return kCrc32PolyReflected;
    case CrcKind::kCrc64Nvme:
      return kCrc64NvmePolyReflected;
  }
  TS_ASSERT_MSG(false, "unknown CrcKind");
}

uint64_t MaskOf(CrcKind kind) {
  return CrcWidthBits(kind) == 64 ? ~0ull : 0xFFFFFFFFull;
}

// x^(2^k) mod P for k in 0..66, so XPowModP covers every 64-bit exponent
// and ShiftRaw every 64-bit byte count (8 * len needs three more doublings).
constexpr int kPowTableSize = 67;
using PowTable = std::array<uint64_t, kPowTableSize>;

PowTable MakePowTable(CrcKind kind) {
  PowTable t{};
  t[0] = 1ull << (CrcWidthBits(kind) - 2);  // x^1: one below x^0's top bit
  for (int k = 1; k < kPowTableSize; k++)
    t[k] = MulModP(kind, t[k - 1], t[k - 1]);
  return t;
}

const PowTable& PowTableOf(CrcKind kind) {
  static const PowTable tables[3] = {MakePowTable(CrcKind::kCrc32c),
                                     MakePowTable(CrcKind::kCrc32),
                                     MakePowTable(CrcKind::kCrc64Nvme)};
  return tables[static_cast<int>(kind)];
}

// x^(2^first_k * n) mod P.
uint64_t PowFromTable(CrcKind kind, uint64_t n, int first_k) {
  const PowTable& t = PowTableOf(kind);
  uint64_t p = 1ull << (CrcWidthBits(kind) - 1);  // x^0
  for (int k = first_k; n != 0; k++, n >>= 1) {
    TS_ASSERT(k < kPowTableSize);
    if (n & 1) p = MulModP(kind, p, t[k]);
  }
  return p;
}

uint64_t ToLane64(CrcKind kind, uint64_t reflected) {
  // A w-bit reflected value holds x^j at bit w-1-j; a 64-bit clmul operand
  // holds it at bit 63-j.
  return CrcWidthBits(kind) == 64 ? reflected : reflected << 32;
}

}  // namespace

int CrcWidthBits(CrcKind kind) { return kind == CrcKind::kCrc64Nvme ? 64 : 32; }

uint32_t Crc32cTableRaw(uint32_t reg, const uint8_t* p, size_t n) {
  return SliceBy8(Crc32cTables(), reg, p, n);
}
uint32_t Crc32TableRaw(uint32_t reg, const uint8_t* p, size_t n) {
  return SliceBy8(Crc32Tables(), reg, p, n);
}
uint64_t Crc64NvmeTableRaw(uint64_t reg, const uint8_t* p, size_t n) {
  return SliceBy8(Crc64NvmeTables(), reg, p, n);
}

uint64_t CrcBitwiseRaw(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n) {
  const uint64_t poly = PolyOf(kind);
  TS_ASSERT((reg & ~MaskOf(kind)) == 0);
  for (size_t i = 0; i < n; i++) {
    reg ^= p[i];
    for (int b = 0; b < 8; b++) reg = (reg & 1) ? (reg >> 1) ^ poly : reg >> 1;
  }
  return reg;
}

uint64_t TableRawTail(CrcKind kind, uint64_t reg, const uint8_t* p, size_t n) {
  switch (kind) {
    case CrcKind::kCrc32c:
      return Crc32cTableRaw(static_cast<uint32_t>(reg), p, n);
    case CrcKind::kCrc32:
      return Crc32TableRaw(static_cast<uint32_t>(reg), p, n);
    case CrcKind::kCrc64Nvme:
      return Crc64NvmeTableRaw(reg, p, n);
  }
  TS_ASSERT_MSG(false, "unknown CrcKind");
}

uint64_t MulModP(CrcKind kind, uint64_t a, uint64_t b) {
  const uint64_t poly = PolyOf(kind);
  const uint64_t mask = MaskOf(kind);
  TS_ASSERT((a & ~mask) == 0 && (b & ~mask) == 0);
  uint64_t product = 0;
  // Walk a's coefficients from x^0 (the top bit) upwards while b is
  // multiplied by x at each step (a right shift, reducing x^w to P).
  for (uint64_t m = 1ull << (CrcWidthBits(kind) - 1); m != 0 && a != 0;
       m >>= 1) {
    if (a & m) {
      product ^= b;
      a ^= m;
    }
    b = (b & 1) ? (b >> 1) ^ poly : b >> 1;
  }
  TS_ASSERT((product & ~mask) == 0);
  return product;
}

uint64_t XPowModP(CrcKind kind, uint64_t n) { return PowFromTable(kind, n, 0); }

uint64_t ShiftRaw(CrcKind kind, uint64_t reg, uint64_t len) {
  TS_ASSERT((reg & ~MaskOf(kind)) == 0);
  if (reg == 0 || len == 0) return reg;
  return MulModP(kind, reg, PowFromTable(kind, len, 3));
}

uint64_t CombineFinal(CrcKind kind, uint64_t crc_a, uint64_t crc_b,
                      uint64_t len_b) {
  // With init = xorout = all ones, the inversions cancel:
  // CRC(A||B) = CRC(A) * x^(8|B|) + CRC(B) (mod P), like zlib's crc32_combine.
  TS_ASSERT((crc_a & ~MaskOf(kind)) == 0 && (crc_b & ~MaskOf(kind)) == 0);
  return ShiftRaw(kind, crc_a, len_b) ^ crc_b;
}

FoldPair MakeFoldPair(CrcKind kind, uint64_t distance_bits) {
  TS_ASSERT(distance_bits >= 64 && distance_bits % 64 == 0);
  FoldPair pair;
  pair.k_q0 = ToLane64(kind, XPowModP(kind, distance_bits + 63));
  pair.k_q1 = ToLane64(kind, XPowModP(kind, distance_bits - 1));
  return pair;
}

const FoldConstants& GetFoldConstants(CrcKind kind) {
  static const auto make = [](CrcKind k) {
    FoldConstants c;
    c.f128 = MakeFoldPair(k, 128);
    c.f256 = MakeFoldPair(k, 256);
    c.f384 = MakeFoldPair(k, 384);
    c.f512 = MakeFoldPair(k, 512);
    c.f2048 = MakeFoldPair(k, 2048);
    return c;
  };
  static const FoldConstants constants[3] = {
      make(CrcKind::kCrc32c), make(CrcKind::kCrc32), make(CrcKind::kCrc64Nvme)};
  return constants[static_cast<int>(kind)];
}

uint32_t Crc32cTable(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  return ~Crc32cTableRaw(~crc, static_cast<const uint8_t*>(data), len);
}
uint32_t Crc32Table(uint32_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  return ~Crc32TableRaw(~crc, static_cast<const uint8_t*>(data), len);
}
uint64_t Crc64NvmeTable(uint64_t crc, const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  return ~Crc64NvmeTableRaw(~crc, static_cast<const uint8_t*>(data), len);
}

}  // namespace checksum
}  // namespace tessera
