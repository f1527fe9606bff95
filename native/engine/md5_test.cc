#include "engine/md5.h"

#include <gtest/gtest.h>

#include <string>

namespace tessera {
namespace engine {
namespace {

std::string Hex(const std::string& in, size_t split = 0) {
  Md5 m;
  if (split > 0 && split < in.size()) {
    m.Update(in.data(), split);
    m.Update(in.data() + split, in.size() - split);
  } else {
    m.Update(in.data(), in.size());
  }
  uint8_t d[16];
  m.Final(d);
  static const char* x = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s.push_back(x[b >> 4]);
    s.push_back(x[b & 15]);
  }
  return s;
}

// RFC 1321 appendix A.5 test suite.
TEST(Md5, Rfc1321Vectors) {
  EXPECT_EQ(Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Hex("abcdefghijklmnopqrstuvwxyz"),
            "c3fcd3d76192e4007dfb496cca67e13b");
  const std::string digits =
      "12345678901234567890123456789012345678901234567890123456789012345678901"
      "234567890";
  EXPECT_EQ(Hex(digits), "57edf4a22be3c955ac49da2e2107b67a");
  for (size_t split = 1; split < digits.size(); split += 7) {
    EXPECT_EQ(Hex(digits, split), "57edf4a22be3c955ac49da2e2107b67a");
  }
}

}  // namespace
}  // namespace engine
}  // namespace tessera
