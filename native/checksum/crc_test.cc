// Tests for native/checksum: check values, every kernel against the
// slice-by-8 reference (random lengths, unaligned offsets, random prior CRC),
// incremental hashing and Combine. Randomized tests print their seed and
// replay from TESSERA_SEED.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "checksum/crc.h"
#include "checksum/crc_internal.h"

namespace tessera {
namespace checksum {
namespace {

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("TESSERA_SEED");
    const uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 10)
                                      : std::random_device()();
    std::printf("checksum_test seed: TESSERA_SEED=%llu\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

const char kCheck[] = "123456789";

TEST(CrcCheckValues, PublicApi) {
  EXPECT_EQ(crc32c::Extend(0, kCheck, 9), 0xE3069283u);
  EXPECT_EQ(crc32::Extend(0, kCheck, 9), 0xCBF43926u);
  EXPECT_EQ(crc64nvme::Extend(0, kCheck, 9), 0xAE8B14860A799888ull);
  EXPECT_EQ(crc32c::Extend(0, nullptr, 0), 0u);
  EXPECT_EQ(crc32::Extend(0, nullptr, 0), 0u);
  EXPECT_EQ(crc64nvme::Extend(0, nullptr, 0), 0u);
}

TEST(CrcCheckValues, EveryKernel) {
  for (const auto& k : AvailableCrc32cKernels()) {
    EXPECT_EQ(k.fn(0, kCheck, 9), 0xE3069283u) << k.name;
  }
  for (const auto& k : AvailableCrc32Kernels()) {
    EXPECT_EQ(k.fn(0, kCheck, 9), 0xCBF43926u) << k.name;
  }
  for (const auto& k : AvailableCrc64NvmeKernels()) {
    EXPECT_EQ(k.fn(0, kCheck, 9), 0xAE8B14860A799888ull) << k.name;
  }
}

TEST(CrcCheckValues, Rfc3720Crc32cVectors) {
  // iSCSI (RFC 3720 section B.4) test vectors.
  uint8_t buf[32];
  std::memset(buf, 0, sizeof buf);
  EXPECT_EQ(crc32c::Extend(0, buf, 32), 0x8A9136AAu);
  std::memset(buf, 0xFF, sizeof buf);
  EXPECT_EQ(crc32c::Extend(0, buf, 32), 0x62A8AB43u);
  for (int i = 0; i < 32; i++) buf[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(crc32c::Extend(0, buf, 32), 0x46DD794Eu);
  for (int i = 0; i < 32; i++) buf[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(crc32c::Extend(0, buf, 32), 0x113FDB5Cu);
}

TEST(CrcCheckValues, Crc32QuickBrownFox) {
  const std::string s = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32::Extend(0, s.data(), s.size()), 0x414FA339u);
}

TEST(CrcReference, TablesMatchBitwiseDefinition) {
  std::mt19937_64 rng(TestSeed());
  for (int round = 0; round < 200; round++) {
    const size_t n = rng() % 300;
    const auto data = RandomBytes(rng, n + 7);
    const size_t off = rng() % 8;
    const uint32_t r32 = static_cast<uint32_t>(rng());
    const uint64_t r64 = rng();
    EXPECT_EQ(Crc32cTableRaw(r32, data.data() + off, n),
              CrcBitwiseRaw(CrcKind::kCrc32c, r32, data.data() + off, n));
    EXPECT_EQ(Crc32TableRaw(r32, data.data() + off, n),
              CrcBitwiseRaw(CrcKind::kCrc32, r32, data.data() + off, n));
    EXPECT_EQ(Crc64NvmeTableRaw(r64, data.data() + off, n),
              CrcBitwiseRaw(CrcKind::kCrc64Nvme, r64, data.data() + off, n));
  }
}

// Every kernel against the table on every length 0..kDense and random
// longer lengths, at every offset 0..63 of a random buffer.
template <typename KernelList, typename Ref>
void CheckKernelsAgainstReference(const KernelList& kernels, Ref reference,
                                  const char* what) {
  std::mt19937_64 rng(TestSeed() ^ std::hash<std::string>()(what));
  constexpr size_t kDense = 1100;
  constexpr size_t kMax = 70000;
  const auto data = RandomBytes(rng, kMax + 64);
  for (const auto& k : kernels) {
    for (size_t n = 0; n <= kDense; n++) {
      const size_t off = rng() % 64;
      const auto prev = static_cast<decltype(k.fn(0, nullptr, 0))>(rng());
      ASSERT_EQ(k.fn(prev, data.data() + off, n),
                reference(prev, data.data() + off, n))
          << what << " kernel " << k.name << " len " << n << " offset " << off;
    }
    for (int round = 0; round < 300; round++) {
      const size_t n = rng() % kMax;
      const size_t off = rng() % 64;
      const auto prev = static_cast<decltype(k.fn(0, nullptr, 0))>(rng());
      ASSERT_EQ(k.fn(prev, data.data() + off, n),
                reference(prev, data.data() + off, n))
          << what << " kernel " << k.name << " len " << n << " offset " << off;
    }
  }
}

TEST(CrcKernels, Crc32cMatchReference) {
  CheckKernelsAgainstReference(AvailableCrc32cKernels(), Crc32cTable, "crc32c");
}
TEST(CrcKernels, Crc32MatchReference) {
  CheckKernelsAgainstReference(AvailableCrc32Kernels(), Crc32Table, "crc32");
}
TEST(CrcKernels, Crc64NvmeMatchReference) {
  CheckKernelsAgainstReference(AvailableCrc64NvmeKernels(), Crc64NvmeTable,
                               "crc64nvme");
}

TEST(CrcKernels, BufferEndingAtPageBoundaryAndLargeInput) {
  // 3 MiB + odd bytes crosses the three-way kernel's long blocks several
  // times; the input ends exactly at the end of its allocation.
  std::mt19937_64 rng(TestSeed() + 1);
  const size_t n = (3u << 20) + 4093;
  const auto data = RandomBytes(rng, n);
  const uint32_t c32c = Crc32cTable(0, data.data(), n);
  for (const auto& k : AvailableCrc32cKernels()) {
    EXPECT_EQ(k.fn(0, data.data(), n), c32c) << k.name;
  }
  const uint32_t c32 = Crc32Table(0, data.data(), n);
  for (const auto& k : AvailableCrc32Kernels()) {
    EXPECT_EQ(k.fn(0, data.data(), n), c32) << k.name;
  }
  const uint64_t c64 = Crc64NvmeTable(0, data.data(), n);
  for (const auto& k : AvailableCrc64NvmeKernels()) {
    EXPECT_EQ(k.fn(0, data.data(), n), c64) << k.name;
  }
}

TEST(CrcKernels, ListsStartWithTableAndNamesAreUnique) {
  const auto k = AvailableCrc32cKernels();
  ASSERT_FALSE(k.empty());
  EXPECT_STREQ(k[0].name, "table");
  EXPECT_STREQ(crc32c::KernelName(), k.back().name);
  EXPECT_STREQ(crc32::KernelName(), AvailableCrc32Kernels().back().name);
  EXPECT_STREQ(crc64nvme::KernelName(),
               AvailableCrc64NvmeKernels().back().name);
  for (size_t i = 0; i < k.size(); i++) {
    for (size_t j = i + 1; j < k.size(); j++) {
      EXPECT_STRNE(k[i].name, k[j].name);
    }
  }
}

TEST(CrcIncremental, ExtendInPiecesEqualsWhole) {
  std::mt19937_64 rng(TestSeed() + 2);
  for (int round = 0; round < 100; round++) {
    const size_t n = rng() % 20000;
    const auto data = RandomBytes(rng, n);
    const size_t cut = n == 0 ? 0 : rng() % (n + 1);
    const uint8_t* p = data.data();
    EXPECT_EQ(crc32c::Extend(crc32c::Extend(0, p, cut), p + cut, n - cut),
              crc32c::Extend(0, p, n));
    EXPECT_EQ(crc32::Extend(crc32::Extend(0, p, cut), p + cut, n - cut),
              crc32::Extend(0, p, n));
    EXPECT_EQ(crc64nvme::Extend(crc64nvme::Extend(0, p, cut), p + cut, n - cut),
              crc64nvme::Extend(0, p, n));
  }
}

TEST(CrcCombine, EqualsCrcOfConcatenation) {
  std::mt19937_64 rng(TestSeed() + 3);
  for (int round = 0; round < 200; round++) {
    const size_t n = rng() % 10000;
    const auto data = RandomBytes(rng, n);
    const size_t cut = n == 0 ? 0 : rng() % (n + 1);
    const uint8_t* p = data.data();
    const size_t nb = n - cut;
    EXPECT_EQ(crc32c::Combine(crc32c::Extend(0, p, cut),
                              crc32c::Extend(0, p + cut, nb), nb),
              crc32c::Extend(0, p, n));
    EXPECT_EQ(crc32::Combine(crc32::Extend(0, p, cut),
                             crc32::Extend(0, p + cut, nb), nb),
              crc32::Extend(0, p, n));
    EXPECT_EQ(crc64nvme::Combine(crc64nvme::Extend(0, p, cut),
                                 crc64nvme::Extend(0, p + cut, nb), nb),
              crc64nvme::Extend(0, p, n));
  }
}

TEST(CrcCombine, IdentityAndAssociativity) {
  std::mt19937_64 rng(TestSeed() + 4);
  for (int round = 0; round < 100; round++) {
    const uint32_t a = static_cast<uint32_t>(rng());
    const uint32_t b = static_cast<uint32_t>(rng());
    const uint32_t c = static_cast<uint32_t>(rng());
    const uint64_t lb = rng() % (1ull << 40), lc = rng() % (1ull << 40);
    // The CRC of an empty string is 0 and combining it changes nothing.
    EXPECT_EQ(crc32c::Combine(a, 0, 0), a);
    EXPECT_EQ(crc32c::Combine(0, b, lb), b);
    EXPECT_EQ(crc32c::Combine(crc32c::Combine(a, b, lb), c, lc),
              crc32c::Combine(a, crc32c::Combine(b, c, lc), lb + lc));
    EXPECT_EQ(crc32::Combine(crc32::Combine(a, b, lb), c, lc),
              crc32::Combine(a, crc32::Combine(b, c, lc), lb + lc));
    const uint64_t a64 = rng(), b64 = rng(), c64 = rng();
    EXPECT_EQ(crc64nvme::Combine(a64, 0, 0), a64);
    EXPECT_EQ(
        crc64nvme::Combine(crc64nvme::Combine(a64, b64, lb), c64, lc),
        crc64nvme::Combine(a64, crc64nvme::Combine(b64, c64, lc), lb + lc));
  }
}

TEST(CrcCombine, HandlesLengthsBeyondAnyBuffer) {
  // ShiftRaw by 2^k bytes equals shifting by 2^(k-1) bytes twice, up to the
  // largest 64-bit lengths (the power table has entries for all of them).
  for (CrcKind kind :
       {CrcKind::kCrc32c, CrcKind::kCrc32, CrcKind::kCrc64Nvme}) {
    const uint64_t reg = 0x12345678u;
    for (int k = 1; k < 64; k++) {
      const uint64_t half = 1ull << (k - 1);
      EXPECT_EQ(ShiftRaw(kind, reg, 1ull << k),
                ShiftRaw(kind, ShiftRaw(kind, reg, half), half))
          << "k=" << k;
    }
    EXPECT_EQ(
        ShiftRaw(kind, reg, ~0ull),
        ShiftRaw(kind, ShiftRaw(kind, reg, 1ull << 63), (1ull << 63) - 1));
  }
}

TEST(CrcCombine, ShiftEqualsFeedingZeroBytes) {
  std::vector<uint8_t> zeros(5000, 0);
  for (size_t n : {0, 1, 7, 8, 63, 64, 1000, 4999}) {
    const uint32_t reg = 0xDEADBEEFu;
    EXPECT_EQ(ShiftRaw(CrcKind::kCrc32c, reg, n),
              Crc32cTableRaw(reg, zeros.data(), n));
    EXPECT_EQ(ShiftRaw(CrcKind::kCrc32, reg, n),
              Crc32TableRaw(reg, zeros.data(), n));
    EXPECT_EQ(ShiftRaw(CrcKind::kCrc64Nvme, 0xDEADBEEFCAFEF00Dull, n),
              Crc64NvmeTableRaw(0xDEADBEEFCAFEF00Dull, zeros.data(), n));
  }
}

}  // namespace
}  // namespace checksum
}  // namespace tessera
