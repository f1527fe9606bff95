#include "io/aligned_buffer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace tessera {
namespace io {
namespace {

TEST(AlignedBuffer, AllocatesAlignedZeroedMemory) {
  AlignedBuffer b;
  ASSERT_TRUE(AlignedBuffer::Allocate(3 * 4096, &b).ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 4096, 0u);
  EXPECT_EQ(b.size(), 3u * 4096);
  for (size_t i = 0; i < b.size(); i++) ASSERT_EQ(b.data()[i], 0);
  AlignedBuffer moved = std::move(b);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(moved.size(), 3u * 4096);
}

TEST(AlignedBuffer, RejectsSizesThatAreNotWholeBlocks) {
  AlignedBuffer b;
  const Status s = AlignedBuffer::Allocate(4097, &b);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "aligned buffer size must be a positive multiple of 4096, got "
            "4097");
  EXPECT_EQ(AlignedBuffer::Allocate(0, &b).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(b.empty());
}

TEST(BufferPool, HandsOutDistinctAlignedBuffersUpToCapacity) {
  BufferPool pool;
  ASSERT_TRUE(pool.Init(8192, 4).ok());
  std::set<uint8_t*> seen;
  for (int i = 0; i < 4; i++) {
    uint8_t* b = pool.TryAcquire();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 4096, 0u);
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(pool.TryAcquire(), nullptr);  // bounded: no growth under load
  EXPECT_EQ(pool.available(), 0u);
  pool.Release(*seen.begin());
  EXPECT_EQ(pool.available(), 1u);
  EXPECT_EQ(pool.TryAcquire(), *seen.begin());
}

TEST(BufferPool, AcquireWaitsForARelease) {
  BufferPool pool;
  ASSERT_TRUE(pool.Init(4096, 1).ok());
  uint8_t* only = pool.Acquire();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    uint8_t* b = pool.Acquire();
    got.store(true);
    pool.Release(b);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(got.load());
  pool.Release(only);
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(pool.available(), 1u);
}

TEST(BufferPool, InitRejectsZeroCountAndBadSizes) {
  BufferPool a, b;
  EXPECT_EQ(a.Init(4096, 0).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(b.Init(100, 2).code(), StatusCode::kInvalidArgument);
}

TEST(BufferPoolDeathTest, DoubleReleaseAborts) {
  BufferPool pool;
  ASSERT_TRUE(pool.Init(4096, 2).ok());
  uint8_t* b = pool.Acquire();
  pool.Release(b);
  EXPECT_DEATH(pool.Release(b), "buffer released twice");
}

}  // namespace
}  // namespace io
}  // namespace tessera
