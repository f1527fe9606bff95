// Tests of the erasure-coding core: every usable kernel against the scalar
// oracle, every erasure pattern for the common storage classes, fixed parity
// vectors, page-boundary safety, and equality with ISA-L when present.
//
// Randomized cases print their seed; set TESSERA_SEED to replay one.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ec/coding_matrix.h"
#include "ec/ec_kernels.h"
#include "ec/gf256.h"
#include "ec/isal_library.h"
#include "ec/reed_solomon.h"

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Regression: node exports OpenSSL's gf_mul, which interposed on ISA-L's own
// gf_mul inside ec_encode_data_base (short lengths) and crashed the addon.
// This test binary exports a gf_mul of its own (linked with -rdynamic) that
// must never be called; isal_library.cc opens ISA-L with RTLD_DEEPBIND.
extern "C" __attribute__((visibility("default"), used)) unsigned char gf_mul(
    unsigned char, unsigned char) {
  std::abort();
}
#endif

namespace tessera {
namespace ec {
namespace {

// splitmix64: the generator the fixed vectors are defined with (see
// docs/ec.md); also seeds every randomized test here.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
};

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("TESSERA_SEED");
    const uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 0)
                                      : static_cast<uint64_t>(time(nullptr));
    std::printf("ec_test seed: TESSERA_SEED=%" PRIu64 "\n", s);
    return s;
  }();
  return seed;
}

// Fills len bytes from the generator: each 64-bit output in little-endian
// order, the last one truncated.
void FillFromGenerator(SplitMix64* rng, uint8_t* out, size_t len) {
  for (size_t i = 0; i < len; i += 8) {
    const uint64_t word = rng->Next();
    for (size_t b = 0; b < 8 && i + b < len; ++b) {
      out[i + b] = static_cast<uint8_t>(word >> (8 * b));
    }
  }
}

uint64_t Fnv1a64(uint64_t h, const uint8_t* p, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Shards with room for an offset in front so kernels see unaligned pointers.
struct Shards {
  std::vector<std::vector<uint8_t>> storage;
  std::vector<uint8_t*> ptr;
  Shards(int count, size_t len, SplitMix64* rng, bool random_offsets) {
    storage.resize(count);
    ptr.resize(count);
    for (int i = 0; i < count; ++i) {
      const size_t offset = random_offsets ? rng->Below(64) : 0;
      storage[i].resize(len + offset + 1);
      ptr[i] = storage[i].data() + offset;
      FillFromGenerator(rng, storage[i].data(), storage[i].size());
    }
  }
};

CodingMatrix CauchyParity(int k, int m) {
  std::vector<uint8_t> g(static_cast<size_t>(k) * (k + m));
  GenerateCauchyMatrix(k, m, g.data());
  CodingMatrix matrix;
  PrepareCodingMatrix(g.data() + k * k, m, k, &matrix);
  return matrix;
}

TEST(Gf256, FieldAxioms) {
  for (int a = 0; a < 256; ++a) {
    EXPECT_EQ(GfMul(a, 1), a);
    EXPECT_EQ(GfMul(a, 0), 0);
    if (a != 0) {
      EXPECT_EQ(GfMul(a, GfInv(a)), 1) << a;
    }
  }
  EXPECT_EQ(GfMul(2, 0x80), 0x1d);  // x * x^7 = x^8 = 0x11d - 0x100
  EXPECT_EQ(GfInv(0), 0);
  for (int a = 1; a < 256; a += 7) {
    for (int b = 1; b < 256; b += 5) {
      EXPECT_EQ(GfMul(a, b), GfMul(b, a));
      EXPECT_EQ(GfMul(GfMul(a, b), 3), GfMul(a, GfMul(b, 3)));
    }
  }
}

TEST(Gf256, CauchyMatrixRows) {
  uint8_t g[6 * 4];
  GenerateCauchyMatrix(4, 2, g);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(g[i * 4 + j], i == j ? 1 : 0);
  }
  for (int i = 4; i < 6; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(g[i * 4 + j], GfInv(i ^ j));
  }
}

TEST(Gf256, InvertMatrixRoundTrip) {
  SplitMix64 rng{TestSeed()};
  for (int n = 1; n <= 12; ++n) {
    std::vector<uint8_t> g(static_cast<size_t>(n) * (n + 4));
    GenerateCauchyMatrix(n, 4, g.data());
    // Rows n-? .. : take the last n rows (mixes identity and Cauchy rows).
    std::vector<uint8_t> b(g.end() - n * n, g.end()), copy = b, inv(n * n);
    ASSERT_TRUE(InvertMatrix(copy.data(), inv.data(), n));
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        uint8_t acc = 0;
        for (int t = 0; t < n; ++t) acc ^= GfMul(b[i * n + t], inv[t * n + j]);
        EXPECT_EQ(acc, i == j ? 1 : 0) << "n=" << n;
      }
    }
  }
  uint8_t singular[4] = {1, 2, 1, 2}, out[4];
  EXPECT_FALSE(InvertMatrix(singular, out, 2));
  (void)rng;
}

TEST(Dispatch, KernelListOrderAndLookup) {
  const int count = UsableKernelCount();
  ASSERT_GE(count, 1);
  EXPECT_STREQ(UsableKernel(count - 1)->name, "scalar");
  EXPECT_EQ(BestKernel(), UsableKernel(0));
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(FindUsableKernel(UsableKernel(i)->name), UsableKernel(i));
    EXPECT_TRUE(IsKnownKernelName(UsableKernel(i)->name));
  }
  EXPECT_EQ(FindUsableKernel("avx9000"), nullptr);
  EXPECT_FALSE(IsKnownKernelName("avx9000"));
  EXPECT_TRUE(IsKnownKernelName("neon"));
}

struct Shape {
  int k;
  int m;
};
constexpr Shape kShapes[] = {{1, 1},
                             {4, 2},
                             {6, 3},
                             {8, 4},
                             {10, 4},
                             {16, 4},
                             {data_shards_max, parity_shards_max}};

void ExpectKernelMatchesOracle(const EcKernel& kernel,
                               const CodingMatrix& matrix, size_t len,
                               SplitMix64* rng) {
  Shards src(matrix.k, len, rng, true);
  Shards expected(matrix.rows, len, rng, true);
  Shards actual(matrix.rows, len, rng, true);
  // Bytes just past the end must stay untouched.
  std::vector<uint8_t> sentinels(matrix.rows);
  for (int r = 0; r < matrix.rows; ++r) sentinels[r] = actual.ptr[r][len];
  EncodeScalar(len, matrix, src.ptr.data(), expected.ptr.data());
  kernel.encode(len, matrix, src.ptr.data(), actual.ptr.data());
  for (int r = 0; r < matrix.rows; ++r) {
    ASSERT_EQ(0, std::memcmp(expected.ptr[r], actual.ptr[r], len))
        << kernel.name << " k=" << matrix.k << " rows=" << matrix.rows
        << " len=" << len << " row=" << r;
    ASSERT_EQ(actual.ptr[r][len], sentinels[r]) << kernel.name << " overran";
  }
}

TEST(Kernels, MatchOracleOnCauchyShapes) {
  SplitMix64 rng{TestSeed()};
  std::vector<size_t> lengths;
  for (size_t len = 1; len <= 200; ++len) lengths.push_back(len);
  for (size_t len : {255, 256, 257, 1000, 4095, 4096, 4097, 65536 + 13}) {
    lengths.push_back(len);
  }
  for (int i = 0; i < UsableKernelCount(); ++i) {
    const EcKernel& kernel = *UsableKernel(i);
    for (const Shape& shape : kShapes) {
      const CodingMatrix matrix = CauchyParity(shape.k, shape.m);
      for (size_t len : lengths) {
        ExpectKernelMatchesOracle(kernel, matrix, len, &rng);
      }
    }
  }
}

TEST(Kernels, MatchOracleOnRandomMatricesAndLongStripes) {
  // Random coefficients (zeros and ones included) and lengths long enough to
  // cross the column blocks used when outputs need more than one pass.
  SplitMix64 rng{TestSeed() + 1};
  for (int i = 0; i < UsableKernelCount(); ++i) {
    const EcKernel& kernel = *UsableKernel(i);
    for (int trial = 0; trial < 12; ++trial) {
      const int k = 1 + rng.Below(data_shards_max);
      const int rows = 1 + rng.Below(parity_shards_max);
      std::vector<uint8_t> coeff(k * rows);
      for (uint8_t& c : coeff) {
        const uint32_t pick = rng.Below(8);
        c = pick == 0 ? 0 : pick == 1 ? 1 : static_cast<uint8_t>(rng.Next());
      }
      CodingMatrix matrix;
      PrepareCodingMatrix(coeff.data(), rows, k, &matrix);
      const size_t len = 1 + rng.Below(70000);
      ExpectKernelMatchesOracle(kernel, matrix, len, &rng);
    }
  }
}

// A mapping whose last byte is followed by an inaccessible page: any read or
// write past the end faults.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t len) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    span_ = ((len + page - 1) / page + 1) * page;
    void* p = mmap(nullptr, span_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    base_ = static_cast<uint8_t*>(p);
    if (mprotect(base_ + span_ - page, page, PROT_NONE) != 0) std::abort();
    data_ = base_ + span_ - page - len;
  }
  ~GuardedBuffer() { munmap(base_, span_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  uint8_t* data() const { return data_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t span_ = 0;
};

TEST(Kernels, BuffersEndingAtAGuardPage) {
  SplitMix64 rng{TestSeed() + 2};
  for (int i = 0; i < UsableKernelCount(); ++i) {
    const EcKernel& kernel = *UsableKernel(i);
    for (const Shape& shape : {Shape{4, 2}, Shape{8, 4}, Shape{10, 4}}) {
      const CodingMatrix matrix = CauchyParity(shape.k, shape.m);
      for (size_t len : {1, 15, 17, 31, 33, 63, 65, 127, 1000, 4096, 5000}) {
        std::vector<std::unique_ptr<GuardedBuffer>> buffers;
        std::vector<const uint8_t*> src;
        std::vector<uint8_t*> dst;
        std::vector<std::vector<uint8_t>> oracle(shape.m,
                                                 std::vector<uint8_t>(len));
        std::vector<uint8_t*> oracle_ptr;
        for (int j = 0; j < shape.k; ++j) {
          buffers.emplace_back(new GuardedBuffer(len));
          FillFromGenerator(&rng, buffers.back()->data(), len);
          src.push_back(buffers.back()->data());
        }
        for (int r = 0; r < shape.m; ++r) {
          buffers.emplace_back(new GuardedBuffer(len));
          dst.push_back(buffers.back()->data());
          oracle_ptr.push_back(oracle[r].data());
        }
        kernel.encode(len, matrix, src.data(), dst.data());
        EncodeScalar(len, matrix, src.data(), oracle_ptr.data());
        for (int r = 0; r < shape.m; ++r) {
          ASSERT_EQ(0, std::memcmp(oracle[r].data(), dst[r], len))
              << kernel.name << " len=" << len;
        }
      }
    }
  }
}

// Codecs to exercise: one per usable kernel, plus ISA-L when it loads.
std::vector<std::unique_ptr<ReedSolomonCodec>> AllCodecs(int k, int m) {
  std::vector<std::unique_ptr<ReedSolomonCodec>> codecs;
  for (int i = 0; i < UsableKernelCount(); ++i) {
    std::unique_ptr<ReedSolomonCodec> codec;
    Status s = ReedSolomonCodec::Create(k, m, EcBackend::kBuiltin,
                                        UsableKernel(i), &codec);
    EXPECT_TRUE(s.ok()) << s.message();
    codecs.push_back(std::move(codec));
  }
  if (LoadIsal() != nullptr) {
    std::unique_ptr<ReedSolomonCodec> codec;
    Status s =
        ReedSolomonCodec::Create(k, m, EcBackend::kIsal, nullptr, &codec);
    EXPECT_TRUE(s.ok()) << s.message();
    codecs.push_back(std::move(codec));
  }
  return codecs;
}

TEST(Codec, EveryErasurePatternUpToM) {
  SplitMix64 rng{TestSeed() + 3};
  for (const Shape& shape : {Shape{4, 2}, Shape{6, 3}, Shape{8, 4}}) {
    const int n = shape.k + shape.m;
    for (auto& codec : AllCodecs(shape.k, shape.m)) {
      const size_t len = 1031;  // not a multiple of any vector width
      Shards stripe(n, len, &rng, true);
      codec->Encode(len, stripe.ptr.data());
      ASSERT_TRUE(codec->Verify(len, stripe.ptr.data()));
      std::vector<std::vector<uint8_t>> original(n);
      for (int i = 0; i < n; ++i) {
        original[i].assign(stripe.ptr[i], stripe.ptr[i] + len);
      }
      int patterns = 0;
      for (uint32_t mask = 1; mask < (1u << n); ++mask) {
        if (__builtin_popcount(mask) > shape.m) continue;
        std::vector<int> missing;
        for (int i = 0; i < n; ++i) {
          if (mask & (1u << i)) {
            missing.push_back(i);
            std::memset(stripe.ptr[i], 0xa5, len);
          }
        }
        // Reverse order: the codec must not depend on the caller's order.
        std::vector<int> reversed(missing.rbegin(), missing.rend());
        codec->Reconstruct(len, stripe.ptr.data(), reversed.data(),
                           static_cast<int>(reversed.size()));
        for (int i = 0; i < n; ++i) {
          ASSERT_EQ(0, std::memcmp(original[i].data(), stripe.ptr[i], len))
              << codec->kernel_name() << " " << shape.k << "+" << shape.m
              << " mask=" << mask << " shard=" << i;
        }
        ++patterns;
      }
      // C(6,1..2) = 21, C(9,1..3) = 129, C(12,1..4) = 793.
      EXPECT_EQ(patterns, n == 6 ? 21 : n == 9 ? 129 : 793);
    }
  }
}

TEST(Codec, VerifyDetectsAnyChangedParityByte) {
  SplitMix64 rng{TestSeed() + 4};
  for (auto& codec : AllCodecs(6, 3)) {
    const size_t len = 3000;
    Shards stripe(9, len, &rng, false);
    codec->Encode(len, stripe.ptr.data());
    EXPECT_TRUE(codec->Verify(len, stripe.ptr.data()));
    for (int shard : {0, 5, 6, 8}) {
      const size_t at = rng.Below(len);
      stripe.ptr[shard][at] ^= 0x10;
      EXPECT_FALSE(codec->Verify(len, stripe.ptr.data()))
          << codec->kernel_name() << " shard " << shard << " byte " << at;
      stripe.ptr[shard][at] ^= 0x10;
    }
    EXPECT_TRUE(codec->Verify(len, stripe.ptr.data()));
  }
}

TEST(Codec, ConcurrentReconstructionsShareTheCache) {
  // More patterns than cache entries, from two threads: exercises eviction
  // under contention (run under TSan in the thread-sanitizer build).
  std::unique_ptr<ReedSolomonCodec> codec;
  ASSERT_TRUE(
      ReedSolomonCodec::Create(8, 4, EcBackend::kBuiltin, nullptr, &codec)
          .ok());
  auto worker = [&](uint64_t seed, bool* ok) {
    SplitMix64 rng{seed};
    const size_t len = 512;
    Shards stripe(12, len, &rng, false);
    codec->Encode(len, stripe.ptr.data());
    std::vector<std::vector<uint8_t>> original(12);
    for (int i = 0; i < 12; ++i) {
      original[i].assign(stripe.ptr[i], stripe.ptr[i] + len);
    }
    *ok = true;
    for (int iter = 0; iter < 400; ++iter) {
      int missing[4];
      int count = 1 + rng.Below(4);
      uint32_t mask = 0;
      for (int c = 0; c < count;) {
        const int i = rng.Below(12);
        if (mask & (1u << i)) continue;
        mask |= 1u << i;
        missing[c++] = i;
        std::memset(stripe.ptr[i], 0, len);
      }
      codec->Reconstruct(len, stripe.ptr.data(), missing, count);
      for (int i = 0; i < 12; ++i) {
        if (std::memcmp(original[i].data(), stripe.ptr[i], len) != 0) {
          *ok = false;
        }
      }
    }
  };
  bool ok_a = false, ok_b = false;
  std::thread a(worker, TestSeed() + 5, &ok_a);
  std::thread b(worker, TestSeed() + 6, &ok_b);
  a.join();
  b.join();
  EXPECT_TRUE(ok_a);
  EXPECT_TRUE(ok_b);
}

// Fixed vectors: each line "k m length seed fnv1a64(parity)". Data shards
// 0..k-1 are filled in order from one splitmix64 stream seeded with `seed`
// (8 bytes per output, little-endian, each shard starting on a fresh
// output); the hash is FNV-1a 64 over parity shards k..k+m-1 in order.
// TESSERA_EC_PRINT_VECTORS=1 prints the computed lines (to regenerate).
std::string ParityHash(const ReedSolomonCodec& codec, int k, int m, size_t len,
                       uint64_t seed) {
  std::vector<std::vector<uint8_t>> shards(k + m, std::vector<uint8_t>(len));
  std::vector<uint8_t*> ptr;
  SplitMix64 rng{seed};
  for (int i = 0; i < k + m; ++i) {
    if (i < k) FillFromGenerator(&rng, shards[i].data(), len);
    ptr.push_back(shards[i].data());
  }
  codec.Encode(len, ptr.data());
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int i = k; i < k + m; ++i) h = Fnv1a64(h, shards[i].data(), len);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016" PRIx64, h);
  return hex;
}

TEST(Codec, FixedParityVectors) {
  std::ifstream file(TESSERA_EC_VECTORS_FILE);
  ASSERT_TRUE(file.good()) << TESSERA_EC_VECTORS_FILE;
  const bool print = std::getenv("TESSERA_EC_PRINT_VECTORS") != nullptr;
  std::string line;
  int checked = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    int k = 0, m = 0;
    size_t len = 0;
    uint64_t seed = 0;
    std::string hash;
    ASSERT_TRUE(static_cast<bool>(in >> k >> m >> len >> seed >> hash)) << line;
    for (auto& codec : AllCodecs(k, m)) {
      const std::string actual = ParityHash(*codec, k, m, len, seed);
      if (print) {
        std::printf("%d %d %zu %" PRIu64 " %s\n", k, m, len, seed,
                    actual.c_str());
      }
      EXPECT_EQ(actual, hash) << codec->kernel_name() << " " << line;
    }
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(Isal, CauchyMatrixInversionAndParityMatch) {
  const IsalLibrary* isal = LoadIsal();
  if (isal == nullptr) {
    GTEST_SKIP() << "libisal not loadable: " << IsalUnavailableReason();
  }
  for (const Shape& shape : kShapes) {
    const int k = shape.k, m = shape.m;
    std::vector<uint8_t> ours(k * (k + m)), theirs(k * (k + m));
    GenerateCauchyMatrix(k, m, ours.data());
    isal->gf_gen_cauchy1_matrix(theirs.data(), k + m, k);
    ASSERT_EQ(ours, theirs) << k << "+" << m;
    // Inverse of the k x k bottom rows (all parity rows + some identity).
    std::vector<uint8_t> b(ours.end() - k * k, ours.end()), b2 = b;
    std::vector<uint8_t> inv_ours(k * k), inv_theirs(k * k);
    ASSERT_TRUE(InvertMatrix(b.data(), inv_ours.data(), k));
    ASSERT_EQ(0, isal->gf_invert_matrix(b2.data(), inv_theirs.data(), k));
    ASSERT_EQ(inv_ours, inv_theirs);
  }
  SplitMix64 rng{TestSeed() + 7};
  for (const Shape& shape : kShapes) {
    std::unique_ptr<ReedSolomonCodec> builtin, via_isal;
    ASSERT_TRUE(ReedSolomonCodec::Create(shape.k, shape.m, EcBackend::kBuiltin,
                                         nullptr, &builtin)
                    .ok());
    ASSERT_TRUE(ReedSolomonCodec::Create(shape.k, shape.m, EcBackend::kIsal,
                                         nullptr, &via_isal)
                    .ok());
    EXPECT_STREQ(via_isal->kernel_name(), "isal");
    for (size_t len : {1, 31, 64, 1000, 65537}) {
      const int n = shape.k + shape.m;
      Shards a(n, len, &rng, true), b(n, len, &rng, true);
      for (int j = 0; j < shape.k; ++j) std::memcpy(b.ptr[j], a.ptr[j], len);
      builtin->Encode(len, a.ptr.data());
      via_isal->Encode(len, b.ptr.data());
      for (int r = shape.k; r < n; ++r) {
        ASSERT_EQ(0, std::memcmp(a.ptr[r], b.ptr[r], len))
            << shape.k << "+" << shape.m << " len=" << len;
      }
    }
  }
}

TEST(Isal, MissingLibraryIsReportedNotFatal) {
  // The loader is process-wide; this checks only the reporting contract.
  if (LoadIsal() != nullptr) {
    EXPECT_STREQ(IsalUnavailableReason(), "");
    return;
  }
  std::unique_ptr<ReedSolomonCodec> codec;
  const Status s =
      ReedSolomonCodec::Create(4, 2, EcBackend::kIsal, nullptr, &codec);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.message().rfind("ISA-L backend unavailable: ", 0), 0u);
}

}  // namespace
}  // namespace ec
}  // namespace tessera
