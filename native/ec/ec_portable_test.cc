// A dependency-free check of every usable kernel against the scalar oracle
// and of reconstruction through every kernel: the subset of ec_test that
// needs no GoogleTest, so it also runs on cross-compiled targets (arm64
// NEON under qemu-aarch64 on the x86 build machines; see docs/ec.md).
// Exit status 0 when everything matches; prints the first mismatch.
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "ec/coding_matrix.h"
#include "ec/ec_kernels.h"
#include "ec/gf256.h"
#include "ec/reed_solomon.h"

namespace tessera {
namespace ec {
namespace {

uint64_t state = 0x243f6a8885a308d3ULL;
uint8_t NextByte() {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<uint8_t>(state >> 24);
}

bool CheckKernel(const EcKernel& kernel, int k, int m, size_t len) {
  std::vector<uint8_t> g(static_cast<size_t>(k) * (k + m));
  GenerateCauchyMatrix(k, m, g.data());
  auto matrix = std::make_unique<CodingMatrix>();
  PrepareCodingMatrix(g.data() + k * k, m, k, matrix.get());
  const size_t offset = NextByte() % 16;
  std::vector<std::vector<uint8_t>> src(k), want(m), got(m);
  std::vector<const uint8_t*> src_ptr;
  std::vector<uint8_t*> want_ptr, got_ptr;
  for (int j = 0; j < k; ++j) {
    src[j].resize(len + offset);
    for (uint8_t& b : src[j]) b = NextByte();
    src_ptr.push_back(src[j].data() + offset);
  }
  for (int r = 0; r < m; ++r) {
    want[r].resize(len + 1, 0x5a);
    got[r].resize(len + 1, 0x5a);
    want_ptr.push_back(want[r].data());
    got_ptr.push_back(got[r].data());
  }
  EncodeScalar(len, *matrix, src_ptr.data(), want_ptr.data());
  kernel.encode(len, *matrix, src_ptr.data(), got_ptr.data());
  for (int r = 0; r < m; ++r) {
    if (want[r] != got[r]) {
      std::printf("MISMATCH kernel=%s k=%d m=%d len=%zu row=%d\n", kernel.name,
                  k, m, len, r);
      return false;
    }
  }
  return true;
}

bool CheckReconstruct(const EcKernel& kernel, int k, int m, size_t len) {
  std::unique_ptr<ReedSolomonCodec> codec;
  if (!ReedSolomonCodec::Create(k, m, EcBackend::kBuiltin, &kernel, &codec)
           .ok()) {
    return false;
  }
  const int n = k + m;
  std::vector<std::vector<uint8_t>> shards(n, std::vector<uint8_t>(len));
  std::vector<uint8_t*> ptr;
  for (int i = 0; i < n; ++i) {
    if (i < k) {
      for (uint8_t& b : shards[i]) b = NextByte();
    }
    ptr.push_back(shards[i].data());
  }
  codec->Encode(len, ptr.data());
  const std::vector<std::vector<uint8_t>> original = shards;
  for (uint32_t mask = 1; mask < (1u << n); ++mask) {
    std::vector<int> missing;
    for (int i = 0; i < n; ++i) {
      if (mask & (1u << i)) missing.push_back(i);
    }
    if (static_cast<int>(missing.size()) > m) continue;
    for (int i : missing) std::memset(ptr[i], 0, len);
    codec->Reconstruct(len, ptr.data(), missing.data(),
                       static_cast<int>(missing.size()));
    if (shards != original) {
      std::printf("RECONSTRUCT MISMATCH kernel=%s %d+%d mask=%u\n", kernel.name,
                  k, m, mask);
      return false;
    }
  }
  return true;
}

int Main() {
  int checks = 0;
  const int shapes[][2] = {{1, 1},
                           {4, 2},
                           {6, 3},
                           {8, 4},
                           {10, 4},
                           {16, 4},
                           {data_shards_max, parity_shards_max}};
  for (int i = 0; i < UsableKernelCount(); ++i) {
    const EcKernel& kernel = *UsableKernel(i);
    std::printf("kernel %s\n", kernel.name);
    for (const auto& shape : shapes) {
      for (size_t len = 1; len <= 130; ++len) {
        if (!CheckKernel(kernel, shape[0], shape[1], len)) return 1;
        ++checks;
      }
      for (size_t len : {1000, 4097, 20000}) {
        if (!CheckKernel(kernel, shape[0], shape[1], len)) return 1;
        ++checks;
      }
    }
    for (const auto& shape : {std::pair<int, int>{4, 2}, {6, 3}, {8, 4}}) {
      if (!CheckReconstruct(kernel, shape.first, shape.second, 333)) return 1;
      ++checks;
    }
  }
  std::printf("ok: %d checks over %d kernels\n", checks, UsableKernelCount());
  return 0;
}

}  // namespace
}  // namespace ec
}  // namespace tessera

int main() { return tessera::ec::Main(); }
