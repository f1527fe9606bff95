#include "ec/gf256.h"

#include <cstring>

#include "core/ts_assert.h"

namespace tessera {
namespace ec {
namespace {

struct GfTables {
  uint8_t exp[512];  // doubled so exp[log a + log b] needs no modulo
  uint8_t log[256];
  uint8_t inv[256];
  uint8_t mul[256][256];

  GfTables() {
    unsigned x = 1;
    for (int i = 0; i < 255; ++i) {
      exp[i] = static_cast<uint8_t>(x);
      log[x] = static_cast<uint8_t>(i);
      x <<= 1;
      if (x & 0x100) x ^= gf_polynomial;
    }
    // 2 generates the multiplicative group of this field: the walk must
    // return to 1 after exactly 255 steps.
    TS_ASSERT(x == 1);
    for (int i = 255; i < 512; ++i) exp[i] = exp[i - 255];
    log[0] = 0;
    for (int a = 0; a < 256; ++a) {
      for (int b = 0; b < 256; ++b) {
        mul[a][b] = (a == 0 || b == 0) ? 0 : exp[log[a] + log[b]];
      }
    }
    inv[0] = 0;
    for (int a = 1; a < 256; ++a) inv[a] = exp[255 - log[a]];
    TS_ASSERT(mul[0x53][inv[0x53]] == 1);
  }
};

const GfTables& Tables() {
  static const GfTables tables;
  return tables;
}

}  // namespace

uint8_t GfMul(uint8_t a, uint8_t b) { return Tables().mul[a][b]; }

uint8_t GfInv(uint8_t a) { return Tables().inv[a]; }

const uint8_t* GfMulRow(uint8_t c) { return Tables().mul[c]; }

void GenerateCauchyMatrix(int k, int m, uint8_t* out) {
  TS_ASSERT(k >= 1 && m >= 0 && k + m <= 256);
  TS_ASSERT(out != nullptr);
  std::memset(out, 0, static_cast<size_t>(k) * (k + m));
  for (int i = 0; i < k; ++i) out[i * k + i] = 1;
  uint8_t* p = out + k * k;
  for (int i = k; i < k + m; ++i) {
    for (int j = 0; j < k; ++j) *p++ = GfInv(static_cast<uint8_t>(i ^ j));
  }
}

bool InvertMatrix(uint8_t* in, uint8_t* out, int n) {
  TS_ASSERT(n >= 1 && n <= 256);
  TS_ASSERT(in != nullptr && out != nullptr && in != out);
  std::memset(out, 0, static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i) out[i * n + i] = 1;
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    while (pivot < n && in[pivot * n + col] == 0) ++pivot;
    if (pivot == n) return false;
    if (pivot != col) {
      for (int j = 0; j < n; ++j) {
        uint8_t t = in[col * n + j];
        in[col * n + j] = in[pivot * n + j];
        in[pivot * n + j] = t;
        t = out[col * n + j];
        out[col * n + j] = out[pivot * n + j];
        out[pivot * n + j] = t;
      }
    }
    const uint8_t scale = GfInv(in[col * n + col]);
    for (int j = 0; j < n; ++j) {
      in[col * n + j] = GfMul(in[col * n + j], scale);
      out[col * n + j] = GfMul(out[col * n + j], scale);
    }
    for (int row = 0; row < n; ++row) {
      const uint8_t f = in[row * n + col];
      if (row == col || f == 0) continue;
      for (int j = 0; j < n; ++j) {
        in[row * n + j] ^= GfMul(f, in[col * n + j]);
        out[row * n + j] ^= GfMul(f, out[col * n + j]);
      }
    }
  }
  TS_ASSERT(in[0] == 1);
  return true;
}

}  // namespace ec
}  // namespace tessera
