// Aligned memory for O_DIRECT I/O, allocated when a store opens and never on
// the hot path.
//
// O_DIRECT needs the buffer address, the file offset and the length to be
// multiples of the device's logical block size; 4096 covers every device we
// support (512e and 4Kn disks alike), so every buffer here is 4096-aligned
// and a whole number of 4096-byte blocks long.
//
// Concurrency: an AlignedBuffer is owned by one thread at a time. BufferPool
// is thread-safe: any thread may Acquire/TryAcquire/Release.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "core/status.h"

namespace tessera {
namespace io {

constexpr size_t kIoAlignment = 4096;

inline constexpr bool IsAligned(uint64_t value) {
  return value % kIoAlignment == 0;
}
inline constexpr uint64_t AlignUp(uint64_t value) {
  return (value + kIoAlignment - 1) / kIoAlignment * kIoAlignment;
}

// A move-only, 4096-aligned, zero-initialized block of memory.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // size_bytes must be a positive multiple of kIoAlignment.
  static Status Allocate(size_t size_bytes, AlignedBuffer* out);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return data_ == nullptr; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A fixed set of equal-sized aligned buffers carved from one allocation made
// at construction. Bounded by construction: when every buffer is out,
// TryAcquire returns nullptr and Acquire waits (back-pressure), so memory
// use never grows with load.
class BufferPool {
 public:
  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // buffer_bytes: a positive multiple of kIoAlignment; count >= 1.
  Status Init(size_t buffer_bytes, size_t count);

  uint8_t* TryAcquire();
  uint8_t* Acquire();  // blocks until a buffer is free
  // `buffer` must have come from this pool and not been released since.
  void Release(uint8_t* buffer);

  size_t buffer_bytes() const { return buffer_bytes_; }
  size_t capacity() const { return count_; }
  size_t available() const;

 private:
  size_t IndexOf(const uint8_t* buffer) const;

  AlignedBuffer memory_;
  size_t buffer_bytes_ = 0;
  size_t count_ = 0;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  std::vector<uint32_t> free_;     // guarded by mu_; indexes of free buffers
  std::vector<bool> outstanding_;  // guarded by mu_; catches double release
};

}  // namespace io
}  // namespace tessera
