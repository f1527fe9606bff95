#include "engine/md5.h"

#include <cstring>

#include "core/ts_assert.h"

namespace tessera {
namespace engine {
namespace {

inline uint32_t Rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

}  // namespace

Md5::Md5() {
  state_[0] = 0x67452301;
  state_[1] = 0xefcdab89;
  state_[2] = 0x98badcfe;
  state_[3] = 0x10325476;
}

// The 64 steps unrolled with their constants (RFC 1321, section 3.4): the
// compiler keeps everything in registers. About twice the speed of a loop
// that looks the message index, shift and constant up per step.
#define TS_MD5_STEP(f, a, b, c, d, x, t, s) \
  a += f(b, c, d) + (x) + (t);              \
  a = Rotl(a, s) + b
#define TS_MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define TS_MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define TS_MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define TS_MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))

void Md5::Block(const uint8_t* p) {
  uint32_t m[16];
  for (int i = 0; i < 16; i++) {
    m[i] = uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 |
           uint32_t(p[4 * i + 2]) << 16 | uint32_t(p[4 * i + 3]) << 24;
  }
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  TS_MD5_STEP(TS_MD5_F, a, b, c, d, m[0], 0xd76aa478, 7);
  TS_MD5_STEP(TS_MD5_F, d, a, b, c, m[1], 0xe8c7b756, 12);
  TS_MD5_STEP(TS_MD5_F, c, d, a, b, m[2], 0x242070db, 17);
  TS_MD5_STEP(TS_MD5_F, b, c, d, a, m[3], 0xc1bdceee, 22);
  TS_MD5_STEP(TS_MD5_F, a, b, c, d, m[4], 0xf57c0faf, 7);
  TS_MD5_STEP(TS_MD5_F, d, a, b, c, m[5], 0x4787c62a, 12);
  TS_MD5_STEP(TS_MD5_F, c, d, a, b, m[6], 0xa8304613, 17);
  TS_MD5_STEP(TS_MD5_F, b, c, d, a, m[7], 0xfd469501, 22);
  TS_MD5_STEP(TS_MD5_F, a, b, c, d, m[8], 0x698098d8, 7);
  TS_MD5_STEP(TS_MD5_F, d, a, b, c, m[9], 0x8b44f7af, 12);
  TS_MD5_STEP(TS_MD5_F, c, d, a, b, m[10], 0xffff5bb1, 17);
  TS_MD5_STEP(TS_MD5_F, b, c, d, a, m[11], 0x895cd7be, 22);
  TS_MD5_STEP(TS_MD5_F, a, b, c, d, m[12], 0x6b901122, 7);
  TS_MD5_STEP(TS_MD5_F, d, a, b, c, m[13], 0xfd987193, 12);
  TS_MD5_STEP(TS_MD5_F, c, d, a, b, m[14], 0xa679438e, 17);
  TS_MD5_STEP(TS_MD5_F, b, c, d, a, m[15], 0x49b40821, 22);
  TS_MD5_STEP(TS_MD5_G, a, b, c, d, m[1], 0xf61e2562, 5);
  TS_MD5_STEP(TS_MD5_G, d, a, b, c, m[6], 0xc040b340, 9);
  TS_MD5_STEP(TS_MD5_G, c, d, a, b, m[11], 0x265e5a51, 14);
  TS_MD5_STEP(TS_MD5_G, b, c, d, a, m[0], 0xe9b6c7aa, 20);
  TS_MD5_STEP(TS_MD5_G, a, b, c, d, m[5], 0xd62f105d, 5);
  TS_MD5_STEP(TS_MD5_G, d, a, b, c, m[10], 0x02441453, 9);
  TS_MD5_STEP(TS_MD5_G, c, d, a, b, m[15], 0xd8a1e681, 14);
  TS_MD5_STEP(TS_MD5_G, b, c, d, a, m[4], 0xe7d3fbc8, 20);
  TS_MD5_STEP(TS_MD5_G, a, b, c, d, m[9], 0x21e1cde6, 5);
  TS_MD5_STEP(TS_MD5_G, d, a, b, c, m[14], 0xc33707d6, 9);
  TS_MD5_STEP(TS_MD5_G, c, d, a, b, m[3], 0xf4d50d87, 14);
  TS_MD5_STEP(TS_MD5_G, b, c, d, a, m[8], 0x455a14ed, 20);
  TS_MD5_STEP(TS_MD5_G, a, b, c, d, m[13], 0xa9e3e905, 5);
  TS_MD5_STEP(TS_MD5_G, d, a, b, c, m[2], 0xfcefa3f8, 9);
  TS_MD5_STEP(TS_MD5_G, c, d, a, b, m[7], 0x676f02d9, 14);
  TS_MD5_STEP(TS_MD5_G, b, c, d, a, m[12], 0x8d2a4c8a, 20);
  TS_MD5_STEP(TS_MD5_H, a, b, c, d, m[5], 0xfffa3942, 4);
  TS_MD5_STEP(TS_MD5_H, d, a, b, c, m[8], 0x8771f681, 11);
  TS_MD5_STEP(TS_MD5_H, c, d, a, b, m[11], 0x6d9d6122, 16);
  TS_MD5_STEP(TS_MD5_H, b, c, d, a, m[14], 0xfde5380c, 23);
  TS_MD5_STEP(TS_MD5_H, a, b, c, d, m[1], 0xa4beea44, 4);
  TS_MD5_STEP(TS_MD5_H, d, a, b, c, m[4], 0x4bdecfa9, 11);
  TS_MD5_STEP(TS_MD5_H, c, d, a, b, m[7], 0xf6bb4b60, 16);
  TS_MD5_STEP(TS_MD5_H, b, c, d, a, m[10], 0xbebfbc70, 23);
  TS_MD5_STEP(TS_MD5_H, a, b, c, d, m[13], 0x289b7ec6, 4);
  TS_MD5_STEP(TS_MD5_H, d, a, b, c, m[0], 0xeaa127fa, 11);
  TS_MD5_STEP(TS_MD5_H, c, d, a, b, m[3], 0xd4ef3085, 16);
  TS_MD5_STEP(TS_MD5_H, b, c, d, a, m[6], 0x04881d05, 23);
  TS_MD5_STEP(TS_MD5_H, a, b, c, d, m[9], 0xd9d4d039, 4);
  TS_MD5_STEP(TS_MD5_H, d, a, b, c, m[12], 0xe6db99e5, 11);
  TS_MD5_STEP(TS_MD5_H, c, d, a, b, m[15], 0x1fa27cf8, 16);
  TS_MD5_STEP(TS_MD5_H, b, c, d, a, m[2], 0xc4ac5665, 23);
  TS_MD5_STEP(TS_MD5_I, a, b, c, d, m[0], 0xf4292244, 6);
  TS_MD5_STEP(TS_MD5_I, d, a, b, c, m[7], 0x432aff97, 10);
  TS_MD5_STEP(TS_MD5_I, c, d, a, b, m[14], 0xab9423a7, 15);
  TS_MD5_STEP(TS_MD5_I, b, c, d, a, m[5], 0xfc93a039, 21);
  TS_MD5_STEP(TS_MD5_I, a, b, c, d, m[12], 0x655b59c3, 6);
  TS_MD5_STEP(TS_MD5_I, d, a, b, c, m[3], 0x8f0ccc92, 10);
  TS_MD5_STEP(TS_MD5_I, c, d, a, b, m[10], 0xffeff47d, 15);
  TS_MD5_STEP(TS_MD5_I, b, c, d, a, m[1], 0x85845dd1, 21);
  TS_MD5_STEP(TS_MD5_I, a, b, c, d, m[8], 0x6fa87e4f, 6);
  TS_MD5_STEP(TS_MD5_I, d, a, b, c, m[15], 0xfe2ce6e0, 10);
  TS_MD5_STEP(TS_MD5_I, c, d, a, b, m[6], 0xa3014314, 15);
  TS_MD5_STEP(TS_MD5_I, b, c, d, a, m[13], 0x4e0811a1, 21);
  TS_MD5_STEP(TS_MD5_I, a, b, c, d, m[4], 0xf7537e82, 6);
  TS_MD5_STEP(TS_MD5_I, d, a, b, c, m[11], 0xbd3af235, 10);
  TS_MD5_STEP(TS_MD5_I, c, d, a, b, m[2], 0x2ad7d2bb, 15);
  TS_MD5_STEP(TS_MD5_I, b, c, d, a, m[9], 0xeb86d391, 21);
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
}

#undef TS_MD5_STEP
#undef TS_MD5_F
#undef TS_MD5_G
#undef TS_MD5_H
#undef TS_MD5_I

void Md5::Update(const void* data, size_t len) {
  TS_ASSERT(data != nullptr || len == 0);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t have = size_t(bytes_ % 64);
  bytes_ += len;
  if (have > 0) {
    const size_t take = len < 64 - have ? len : 64 - have;
    memcpy(buffer_ + have, p, take);
    have += take;
    p += take;
    len -= take;
    if (have < 64) return;
    Block(buffer_);
  }
  while (len >= 64) {
    Block(p);
    p += 64;
    len -= 64;
  }
  if (len > 0) memcpy(buffer_, p, len);
}

void Md5::Final(uint8_t out[16]) {
  TS_ASSERT(out != nullptr);
  const uint64_t bits = bytes_ * 8;
  static const uint8_t pad[64] = {0x80};
  const size_t have = size_t(bytes_ % 64);
  Update(pad, have < 56 ? 56 - have : 120 - have);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = uint8_t(bits >> (8 * i));
  Update(len, 8);
  TS_ASSERT(bytes_ % 64 == 0);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 4; j++) out[4 * i + j] = uint8_t(state_[i] >> (8 * j));
  }
}

}  // namespace engine
}  // namespace tessera
