#include "io/aligned_buffer.h"

#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/ts_assert.h"

namespace tessera {
namespace io {

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Status AlignedBuffer::Allocate(size_t size_bytes, AlignedBuffer* out) {
  TS_ASSERT(out != nullptr);
  if (size_bytes == 0 || !IsAligned(size_bytes)) {
    return Status(StatusCode::kInvalidArgument,
                  "aligned buffer size must be a positive multiple of 4096, "
                  "got " +
                      std::to_string(size_bytes));
  }
  void* p = std::aligned_alloc(kIoAlignment, size_bytes);
  if (p == nullptr) {
    return Status(StatusCode::kNoSpace, "out of memory allocating " +
                                            std::to_string(size_bytes) +
                                            " aligned bytes");
  }
  std::memset(p, 0, size_bytes);
  AlignedBuffer b;
  b.data_ = static_cast<uint8_t*>(p);
  b.size_ = size_bytes;
  *out = std::move(b);
  TS_ASSERT(reinterpret_cast<uintptr_t>(out->data_) % kIoAlignment == 0);
  return Status::Ok();
}

Status BufferPool::Init(size_t buffer_bytes, size_t count) {
  TS_ASSERT(count_ == 0);  // Init once
  if (count == 0 || count > UINT32_MAX) {
    return Status(
        StatusCode::kOutOfRange,
        "buffer pool count must be in 1..2^32-1, got " + std::to_string(count));
  }
  if (buffer_bytes > SIZE_MAX / count) {
    return Status(StatusCode::kOutOfRange, "buffer pool size overflows");
  }
  TS_RETURN_IF_ERROR(AlignedBuffer::Allocate(buffer_bytes * count, &memory_));
  std::lock_guard<std::mutex> lock(mu_);
  buffer_bytes_ = buffer_bytes;
  count_ = count;
  free_.reserve(count);
  for (size_t i = count; i > 0; i--)
    free_.push_back(static_cast<uint32_t>(i - 1));
  outstanding_.assign(count, false);
  return Status::Ok();
}

size_t BufferPool::IndexOf(const uint8_t* buffer) const {
  TS_ASSERT(buffer >= memory_.data());
  const size_t delta = static_cast<size_t>(buffer - memory_.data());
  TS_ASSERT_MSG(delta % buffer_bytes_ == 0 && delta / buffer_bytes_ < count_,
                "buffer does not belong to this pool");
  return delta / buffer_bytes_;
}

uint8_t* BufferPool::TryAcquire() {
  TS_ASSERT(count_ > 0);
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) return nullptr;
  const uint32_t i = free_.back();
  free_.pop_back();
  TS_ASSERT(!outstanding_[i]);
  outstanding_[i] = true;
  return memory_.data() + static_cast<size_t>(i) * buffer_bytes_;
}

uint8_t* BufferPool::Acquire() {
  TS_ASSERT(count_ > 0);
  std::unique_lock<std::mutex> lock(mu_);
  freed_.wait(lock, [this] { return !free_.empty(); });
  const uint32_t i = free_.back();
  free_.pop_back();
  TS_ASSERT(!outstanding_[i]);
  outstanding_[i] = true;
  return memory_.data() + static_cast<size_t>(i) * buffer_bytes_;
}

void BufferPool::Release(uint8_t* buffer) {
  const size_t i = IndexOf(buffer);
  {
    std::lock_guard<std::mutex> lock(mu_);
    TS_ASSERT_MSG(outstanding_[i], "buffer released twice");
    outstanding_[i] = false;
    free_.push_back(static_cast<uint32_t>(i));
    TS_ASSERT(free_.size() <= count_);
  }
  freed_.notify_one();
}

size_t BufferPool::available() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

}  // namespace io
}  // namespace tessera
