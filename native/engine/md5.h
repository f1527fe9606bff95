// MD5 (RFC 1321), for S3 ETags only: the engine computes every object's
// ETag itself, off the JS thread. Not used for integrity (CRC32C is) and
// never for security. Incremental; plain C++; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera {
namespace engine {

class Md5 {
 public:
  Md5();
  void Update(const void* data, size_t len);
  // Writes the 16-byte digest; the object must not be updated afterwards.
  void Final(uint8_t out[16]);

 private:
  void Block(const uint8_t* p);
  uint32_t state_[4];
  uint64_t bytes_ = 0;
  uint8_t buffer_[64];
};

}  // namespace engine
}  // namespace tessera
