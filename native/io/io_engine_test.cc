// IoEngine: group commit, durability before completion, failure sealing,
// bounded queues, draining stop, both backends, and a multi-threaded stress
// test (run under TSan: -DTESSERA_SANITIZE=thread).

#include "io/io_engine.h"

#include <errno.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/crash_fs.h"
#include "io/fault_fs.h"
#include "io/test_util.h"

namespace tessera {
namespace io {
namespace {

using testing::ScratchDir;
using testing::TestSeed;

// Waits for a known number of callbacks and keeps their statuses in order.
class Completions {
 public:
  IoEngine::WriteDone Writer() {
    return [this](const Status& s) { Add(s); };
  }
  IoEngine::ReadDone Reader() {
    return [this](const Status& s, size_t bytes) {
      std::lock_guard<std::mutex> lock(mu_);
      bytes_.push_back(bytes);
      statuses_.push_back(s);
      cv_.notify_all();
    };
  }
  void Add(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_.push_back(s);
    cv_.notify_all();
  }
  std::vector<Status> Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return statuses_.size() >= n; });
    return statuses_;
  }
  std::vector<size_t> bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Status> statuses_;
  std::vector<size_t> bytes_;
};

struct ShimDrives {
  CrashFs crash;
  FaultFs fault{&crash};
  std::vector<int> fds;
  std::vector<uint32_t> ids;

  void Open(IoEngine* engine, int n) {
    for (int i = 0; i < n; i++) {
      const std::string dir = "drive-" + std::to_string(i);
      ASSERT_TRUE(fault.Mkdir(dir).ok());
      int fd = -1;
      ASSERT_TRUE(
          fault.Open(dir + "/seg", kOpenWrite | kOpenCreate | kOpenDirect, &fd)
              .ok());
      ASSERT_TRUE(fault.FsyncDir(dir).ok());
      uint32_t id = 0;
      ASSERT_TRUE(engine->AddFile(fd, dir + "/seg", &id).ok());
      fds.push_back(fd);
      ids.push_back(id);
    }
  }
};

IoEngineOptions ShimOptions(Fs* fs) {
  IoEngineOptions o;
  o.fs = fs;
  o.backend = IoBackend::kPwrite;
  return o;
}

TEST(IoEngine, WriteCompletesOnlyOnceDurable) {
  ShimDrives d;
  IoEngine engine;
  ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
  EXPECT_STREQ(engine.backend_name(), "pwrite");
  d.Open(&engine, 2);
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(8192, &buf).ok());
  std::memset(buf.data(), 0xAB, 8192);
  Completions done;
  ASSERT_TRUE(engine
                  .SubmitWrite({{d.ids[0], 0, buf.data(), 8192},
                                {d.ids[1], 4096, buf.data(), 4096}},
                               done.Writer())
                  .ok());
  const auto st = done.Wait(1);
  ASSERT_TRUE(st[0].ok()) << st[0].message();
  engine.Stop();
  // Whatever the crash does to unsynced data, acknowledged data is there.
  d.crash.Reboot(TestSeed());
  std::vector<uint8_t> f0, f1;
  ASSERT_TRUE(d.crash.ReadFile("drive-0/seg", &f0).ok());
  ASSERT_TRUE(d.crash.ReadFile("drive-1/seg", &f1).ok());
  EXPECT_EQ(f0, std::vector<uint8_t>(8192, 0xAB));
  ASSERT_EQ(f1.size(), 8192u);
  EXPECT_EQ(std::vector<uint8_t>(f1.begin() + 4096, f1.end()),
            std::vector<uint8_t>(4096, 0xAB));
}

TEST(IoEngine, WritesArrivingTogetherShareOneFdatasyncPerFile) {
  ShimDrives d;
  IoEngine engine;
  IoEngineOptions o = ShimOptions(&d.fault);
  o.group_commit_delay_us = 200000;  // everything below arrives within it
  ASSERT_TRUE(engine.Start(o).ok());
  d.Open(&engine, 3);
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(64 * 4096, &buf).ok());
  Completions done;
  for (int i = 0; i < 64; i++) {
    ASSERT_TRUE(engine
                    .SubmitWrite({{d.ids[i % 3], uint64_t(i) * 4096,
                                   buf.data() + i * 4096, 4096}},
                                 done.Writer())
                    .ok());
  }
  for (const Status& s : done.Wait(64)) ASSERT_TRUE(s.ok());
  const IoEngineStats stats = engine.stats();
  EXPECT_EQ(stats.groups, 1u);
  EXPECT_EQ(stats.fdatasyncs, 3u);
  EXPECT_EQ(d.fault.calls(FaultOp::kFdatasync), 3u + 0u);
  EXPECT_EQ(stats.write_requests, 64u);
  EXPECT_EQ(stats.bytes_written, 64u * 4096);
}

TEST(IoEngine, GroupIsBoundedByBytes) {
  ShimDrives d;
  IoEngine engine;
  IoEngineOptions o = ShimOptions(&d.fault);
  o.group_commit_delay_us = 200000;
  o.group_commit_bytes_max = 8192;
  ASSERT_TRUE(engine.Start(o).ok());
  d.Open(&engine, 1);
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &buf).ok());
  Completions done;
  for (int i = 0; i < 4; i++) {
    ASSERT_TRUE(
        engine
            .SubmitWrite({{d.ids[0], uint64_t(i) * 4096, buf.data(), 4096}},
                         done.Writer())
            .ok());
  }
  for (const Status& s : done.Wait(4)) ASSERT_TRUE(s.ok());
  EXPECT_EQ(engine.stats().groups, 2u);
  EXPECT_EQ(engine.stats().fdatasyncs, 2u);
}

TEST(IoEngine, FailedFdatasyncIsReportedSealsTheFileAndIsNeverRetried) {
  ShimDrives d;
  IoEngine engine;
  ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
  d.Open(&engine, 2);
  const uint64_t syncs_before = d.fault.calls(FaultOp::kFdatasync);
  d.fault.AddRule({FaultOp::kFdatasync, 1, false, EIO, "drive-1/"});
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &buf).ok());
  std::memset(buf.data(), 0x5C, 4096);
  Completions done;
  ASSERT_TRUE(engine
                  .SubmitWrite({{d.ids[0], 0, buf.data(), 4096},
                                {d.ids[1], 0, buf.data(), 4096}},
                               done.Writer())
                  .ok());
  auto st = done.Wait(1);
  EXPECT_EQ(st[0].code(), StatusCode::kIo);
  EXPECT_EQ(st[0].sys_errno(), EIO);
  EXPECT_EQ(st[0].message(),
            "drive-1/seg sealed after a failed write or fdatasync: injected "
            "fdatasync failure on drive-1/seg: Input/output error");
  EXPECT_EQ(engine.FileError(d.ids[1]).sys_errno(), EIO);
  EXPECT_TRUE(engine.FileError(d.ids[0]).ok());
  // The injected failure was transient, but the file stays sealed: the next
  // write fails at once and no fdatasync is issued for drive-1 again.
  ASSERT_TRUE(
      engine.SubmitWrite({{d.ids[1], 4096, buf.data(), 4096}}, done.Writer())
          .ok());
  ASSERT_TRUE(
      engine.SubmitWrite({{d.ids[0], 4096, buf.data(), 4096}}, done.Writer())
          .ok());
  st = done.Wait(3);
  EXPECT_EQ(st[1].message(), st[0].message());
  EXPECT_TRUE(st[2].ok());
  EXPECT_EQ(d.fault.calls(FaultOp::kFdatasync) - syncs_before, 3u);
  // Reads of the sealed file still run.
  AlignedBuffer back;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &back).ok());
  ASSERT_TRUE(
      engine.SubmitRead({{d.ids[1], 0, back.data(), 4096}}, done.Reader())
          .ok());
  st = done.Wait(4);
  ASSERT_TRUE(st[3].ok());
  EXPECT_EQ(done.bytes().back(), 4096u);
  EXPECT_EQ(std::memcmp(back.data(), buf.data(), 4096), 0);
}

TEST(IoEngine, PowerLossAtTheSyncFailsTheWriteAndItIsNotDurable) {
  for (uint64_t i = 0; i < 20; i++) {
    ShimDrives d;
    IoEngine engine;
    ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
    d.Open(&engine, 1);
    d.crash.ArmCrashAtSync(2);
    AlignedBuffer buf;
    ASSERT_TRUE(AlignedBuffer::Allocate(8192, &buf).ok());
    std::memset(buf.data(), 0x77, 8192);
    Completions done;
    ASSERT_TRUE(
        engine.SubmitWrite({{d.ids[0], 0, buf.data(), 4096}}, done.Writer())
            .ok());
    ASSERT_TRUE(done.Wait(1)[0].ok());
    ASSERT_TRUE(engine
                    .SubmitWrite({{d.ids[0], 4096, buf.data() + 4096, 4096}},
                                 done.Writer())
                    .ok());
    const Status lost = done.Wait(2)[1];
    EXPECT_EQ(lost.sys_errno(), EIO);
    engine.Stop();
    const uint64_t seed = TestSeed() + i;
    d.crash.Reboot(seed);
    std::vector<uint8_t> f;
    ASSERT_TRUE(d.crash.ReadFile("drive-0/seg", &f).ok());
    ASSERT_GE(f.size(), 4096u);  // the acknowledged block survived
    EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 4096),
              std::vector<uint8_t>(4096, 0x77))
        << "seed " << seed;
  }
}

TEST(IoEngine, FailedWriteWithEnospcSealsAndReportsNoSpace) {
  ShimDrives d;
  IoEngine engine;
  ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
  d.Open(&engine, 1);
  d.fault.AddRule({FaultOp::kPwrite, 1, false, ENOSPC, ""});
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &buf).ok());
  Completions done;
  ASSERT_TRUE(
      engine.SubmitWrite({{d.ids[0], 0, buf.data(), 4096}}, done.Writer())
          .ok());
  const Status s = done.Wait(1)[0];
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_EQ(engine.FileError(d.ids[0]).code(), StatusCode::kNoSpace);
  EXPECT_EQ(engine.stats().fdatasyncs, 0u);
}

TEST(IoEngine, RejectsBadRequestsWithExactErrors) {
  ShimDrives d;
  IoEngine engine;
  ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
  d.Open(&engine, 1);
  Completions done;
  Status s = engine.SubmitWrite({}, done.Writer());
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(s.message(), "a request must have 1..1024 ops, got 0");
  char byte = 0;
  s = engine.SubmitWrite({{7, 0, &byte, 1}}, done.Writer());
  EXPECT_EQ(s.message(), "unknown file id 7");
  s = engine.SubmitRead({{0, 0, nullptr, 1}}, done.Reader());
  EXPECT_EQ(s.message(), "an op needs a buffer and a positive length");
  engine.Stop();
  s = engine.SubmitWrite({{0, 0, &byte, 1}}, done.Writer());
  EXPECT_EQ(s.code(), StatusCode::kClosed);
  IoEngine other;
  IoEngineOptions o;
  o.group_commit_bytes_max = 100;
  EXPECT_EQ(other.Start(o).message(),
            "group_commit_bytes_max must be at least 4096, got 100");
}

TEST(IoEngine, TrySubmitRefusesWhenTheQueueIsFullAndStopDrains) {
  ShimDrives d;
  IoEngine engine;
  IoEngineOptions o = ShimOptions(&d.fault);
  o.queue_depth_max = 2;
  ASSERT_TRUE(engine.Start(o).ok());
  d.Open(&engine, 1);
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &buf).ok());
  // The first callback blocks the engine thread until released.
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  Completions done;
  ASSERT_TRUE(engine
                  .SubmitWrite({{0, 0, buf.data(), 4096}},
                               [&](const Status& s) {
                                 gate.wait();
                                 done.Add(s);
                               })
                  .ok());
  // Wait until the engine has taken the first request off the queue.
  while (engine.stats().fdatasyncs == 0) std::this_thread::yield();
  bool accepted = false;
  ASSERT_TRUE(
      engine
          .TrySubmitWrite({{0, 0, buf.data(), 4096}}, done.Writer(), &accepted)
          .ok());
  EXPECT_TRUE(accepted);
  ASSERT_TRUE(
      engine
          .TrySubmitWrite({{0, 0, buf.data(), 4096}}, done.Writer(), &accepted)
          .ok());
  EXPECT_TRUE(accepted);
  ASSERT_TRUE(
      engine
          .TrySubmitWrite({{0, 0, buf.data(), 4096}}, done.Writer(), &accepted)
          .ok());
  EXPECT_FALSE(accepted);  // bounded: 2 queued
  release.set_value();
  engine.Stop();  // drains the two queued writes
  const auto st = done.Wait(3);
  EXPECT_EQ(st.size(), 3u);
  for (const Status& s : st) EXPECT_TRUE(s.ok());
}

TEST(IoEngine, ReadsReportEndOfFile) {
  ShimDrives d;
  IoEngine engine;
  ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
  d.Open(&engine, 1);
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(8192, &buf).ok());
  Completions done;
  ASSERT_TRUE(
      engine.SubmitWrite({{0, 0, buf.data(), 4096}}, done.Writer()).ok());
  ASSERT_TRUE(done.Wait(1)[0].ok());
  ASSERT_TRUE(
      engine.SubmitRead({{0, 0, buf.data(), 8192}}, done.Reader()).ok());
  ASSERT_TRUE(done.Wait(2)[1].ok());
  EXPECT_EQ(done.bytes()[0], 4096u);
}

TEST(IoEngine, UringBackendOnRealDirectFiles) {
  std::string detail;
  if (!IoUring::Available(&detail)) GTEST_SKIP() << detail;
  ScratchDir dir;
  IoEngine engine;
  IoEngineOptions o;
  o.backend = IoBackend::kUring;
  o.uring_entries = 8;
  ASSERT_TRUE(engine.Start(o).ok());
  EXPECT_STREQ(engine.backend_name(), "io_uring");
  std::vector<int> fds;
  for (int i = 0; i < 3; i++) {
    int fd = -1;
    ASSERT_TRUE(DefaultFs()
                    ->Open(dir.path() + "/d" + std::to_string(i),
                           kOpenWrite | kOpenCreate | kOpenDirect, &fd)
                    .ok());
    uint32_t id;
    ASSERT_TRUE(engine.AddFile(fd, "d" + std::to_string(i), &id).ok());
    fds.push_back(fd);
  }
  constexpr int kBlocks = 40;
  AlignedBuffer buf, back;
  ASSERT_TRUE(AlignedBuffer::Allocate(kBlocks * 4096, &buf).ok());
  ASSERT_TRUE(AlignedBuffer::Allocate(kBlocks * 4096, &back).ok());
  for (size_t i = 0; i < buf.size(); i++) buf.data()[i] = uint8_t(i * 13 + 5);
  Completions done;
  for (int i = 0; i < kBlocks; i++) {
    ASSERT_TRUE(engine
                    .SubmitWrite({{uint32_t(i % 3), uint64_t(i / 3) * 4096,
                                   buf.data() + i * 4096, 4096}},
                                 done.Writer())
                    .ok());
  }
  for (const Status& s : done.Wait(kBlocks)) ASSERT_TRUE(s.ok()) << s.message();
  Completions reads;
  for (int i = 0; i < kBlocks; i++) {
    ASSERT_TRUE(engine
                    .SubmitRead({{uint32_t(i % 3), uint64_t(i / 3) * 4096,
                                  back.data() + i * 4096, 4096}},
                                reads.Reader())
                    .ok());
  }
  for (const Status& s : reads.Wait(kBlocks)) ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::memcmp(buf.data(), back.data(), buf.size()), 0);
  // A misaligned O_DIRECT write fails and seals that file only.
  ASSERT_TRUE(
      engine.SubmitWrite({{1, 1, buf.data(), 4096}}, done.Writer()).ok());
  EXPECT_EQ(done.Wait(kBlocks + 1)[kBlocks].sys_errno(), EINVAL);
  EXPECT_EQ(engine.FileError(1).sys_errno(), EINVAL);
  EXPECT_TRUE(engine.FileError(0).ok());
  engine.Stop();
  for (int fd : fds) ASSERT_TRUE(DefaultFs()->Close(fd).ok());
}

// Several submitting threads, reads and writes interleaved, over the shim.
// Every callback fires exactly once, every acknowledged block is durable.
TEST(IoEngineStress, ManyThreadsManyGroups) {
  ShimDrives d;
  IoEngine engine;
  IoEngineOptions o = ShimOptions(&d.fault);
  o.queue_depth_max = 64;
  o.group_commit_bytes_max = 256 * 1024;
  ASSERT_TRUE(engine.Start(o).ok());
  d.Open(&engine, 4);
  constexpr int kThreads = 4, kWritesPerThread = 1500;
  AlignedBuffer buf;
  ASSERT_TRUE(
      AlignedBuffer::Allocate(kThreads * kWritesPerThread * 4096ull, &buf)
          .ok());
  std::atomic<int> ok_writes{0}, ok_reads{0}, bad{0};
  // Read targets outlive the threads: reads may complete after they exit.
  std::vector<AlignedBuffer> scratches(kThreads);
  for (auto& b : scratches) ASSERT_TRUE(AlignedBuffer::Allocate(4096, &b).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      AlignedBuffer& scratch = scratches[t];
      for (int i = 0; i < kWritesPerThread; i++) {
        const int block = t * kWritesPerThread + i;
        uint8_t* p = buf.data() + uint64_t(block) * 4096;
        std::memset(p, block & 0xff, 4096);
        const uint32_t file = uint32_t(block % 4);
        const uint64_t off = uint64_t(block / 4) * 4096;
        Status s = engine.SubmitWrite(
            {{file, off, p, 4096}},
            [&](const Status& st) { (st.ok() ? ok_writes : bad)++; });
        if (!s.ok()) bad++;
        if (i % 10 == 0) {
          s = engine.SubmitRead(
              {{file, 0, scratch.data(), 4096}},
              [&](const Status& st, size_t) { (st.ok() ? ok_reads : bad)++; });
          if (!s.ok()) bad++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  engine.Stop();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok_writes.load(), kThreads * kWritesPerThread);
  EXPECT_EQ(ok_reads.load(), kThreads * kWritesPerThread / 10);
  const IoEngineStats stats = engine.stats();
  EXPECT_LT(stats.groups, uint64_t(kThreads * kWritesPerThread));
  d.crash.Reboot(TestSeed());
  for (int f = 0; f < 4; f++) {
    std::vector<uint8_t> got;
    ASSERT_TRUE(
        d.crash.ReadFile("drive-" + std::to_string(f) + "/seg", &got).ok());
    for (int block = f; block < kThreads * kWritesPerThread; block += 4) {
      ASSERT_EQ(got[uint64_t(block / 4) * 4096], block & 0xff)
          << "block " << block;
    }
  }
}

}  // namespace
}  // namespace io
}  // namespace tessera

namespace tessera {
namespace io {
namespace {

TEST(TaskPool, RunsEveryIterationExactlyOnce) {
  TaskPool pool;
  ASSERT_TRUE(pool.Start(3).ok());
  for (size_t count : {0, 1, 2, 7, 100}) {
    std::vector<std::atomic<int>> hits(count);
    pool.Run(count, [&](size_t i) { hits[i]++; });
    for (size_t i = 0; i < count; i++) EXPECT_EQ(hits[i].load(), 1) << i;
  }
  pool.Stop();
  TaskPool inline_pool;  // no threads: the caller runs everything
  ASSERT_TRUE(inline_pool.Start(0).ok());
  int sum = 0;
  inline_pool.Run(10, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum, 45);
}

// Forwards to CrashFs; Fdatasync waits (up to 10 s) until `expected` syncs
// are in progress at once, and records whether they were.
class SyncBarrierFs final : public Fs {
 public:
  explicit SyncBarrierFs(int expected) : expected_(expected) {}
  CrashFs base;
  bool all_met = true;

  Status Fdatasync(int fd) override {
    std::unique_lock<std::mutex> lock(mu_);
    arrived_++;
    cv_.notify_all();
    if (!cv_.wait_for(lock, std::chrono::seconds(10),
                      [&] { return arrived_ >= expected_; })) {
      all_met = false;
    }
    lock.unlock();
    return base.Fdatasync(fd);
  }
  Status Open(const std::string& p, int f, int* fd) override {
    return base.Open(p, f, fd);
  }
  Status Close(int fd) override { return base.Close(fd); }
  Status Pwritev(int fd, const struct iovec* v, int n, uint64_t o) override {
    return base.Pwritev(fd, v, n, o);
  }
  Status Preadv(int fd, const struct iovec* v, int n, uint64_t o,
                size_t* r) override {
    return base.Preadv(fd, v, n, o, r);
  }
  Status FsyncDir(const std::string& d) override { return base.FsyncDir(d); }
  Status Fallocate(int fd, uint64_t o, uint64_t l) override {
    return base.Fallocate(fd, o, l);
  }
  Status Ftruncate(int fd, uint64_t s) override {
    return base.Ftruncate(fd, s);
  }
  Status Rename(const std::string& a, const std::string& b) override {
    return base.Rename(a, b);
  }
  Status Unlink(const std::string& p) override { return base.Unlink(p); }
  Status Mkdir(const std::string& p) override { return base.Mkdir(p); }
  Status Stat(const std::string& p, FileStat* o) override {
    return base.Stat(p, o);
  }
  Status Fstat(int fd, FileStat* o) override { return base.Fstat(fd, o); }
  Status Flock(int fd) override { return base.Flock(fd); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int expected_;
  int arrived_ = 0;
};

TEST(IoEngine, PwriteBackendSyncsEveryFileOfAGroupAtOnce) {
  constexpr int kDrives = 6;  // e.g. 4+2
  SyncBarrierFs fs(kDrives);
  IoEngine engine;
  IoEngineOptions o;
  o.fs = &fs;
  o.backend = IoBackend::kPwrite;
  o.pwrite_threads = kDrives - 1;
  o.group_commit_delay_us = 200000;
  ASSERT_TRUE(engine.Start(o).ok());
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &buf).ok());
  std::vector<IoOp> stripe;
  for (int i = 0; i < kDrives; i++) {
    const std::string dir = "drive-" + std::to_string(i);
    ASSERT_TRUE(fs.Mkdir(dir).ok());
    int fd = -1;
    ASSERT_TRUE(fs.Open(dir + "/seg", kOpenWrite | kOpenCreate, &fd).ok());
    uint32_t id;
    ASSERT_TRUE(engine.AddFile(fd, dir, &id).ok());
    stripe.push_back({id, 0, buf.data(), 4096});
  }
  Completions done;
  ASSERT_TRUE(engine.SubmitWrite(stripe, done.Writer()).ok());
  EXPECT_TRUE(done.Wait(1)[0].ok());
  EXPECT_TRUE(fs.all_met) << "fdatasyncs of one group ran one at a time";
  EXPECT_EQ(engine.stats().fdatasyncs, uint64_t(kDrives));
}

}  // namespace
}  // namespace io
}  // namespace tessera

namespace tessera {
namespace io {
namespace {

// ../shared/TESTING.md C3 at this layer: random multi-file write requests,
// power lost at a random sync, a seeded fate for everything unsynced. Every
// request whose callback reported success must read back byte for byte.
TEST(IoEngineCrash, AcknowledgedWritesSurviveAPowerLossAtAnySync) {
  constexpr int kSeeds = 300, kRequests = 40, kFiles = 3;
  uint64_t acked_total = 0, failed_total = 0;
  for (int i = 0; i < kSeeds; i++) {
    const uint64_t seed = TestSeed() + uint64_t(i);
    std::mt19937_64 rng(seed);
    ShimDrives d;
    IoEngine engine;
    IoEngineOptions o = ShimOptions(&d.fault);
    o.pwrite_threads = 2;
    ASSERT_TRUE(engine.Start(o).ok());
    d.Open(&engine, kFiles);
    d.crash.ArmCrashAtSync(1 + rng() % 12);
    AlignedBuffer buf;
    ASSERT_TRUE(AlignedBuffer::Allocate(2 * kRequests * 4096, &buf).ok());
    struct Sent {
      std::vector<IoOp> ops;
    };
    std::vector<Sent> sent(kRequests);
    std::vector<uint64_t> next_offset(kFiles, 0);
    std::mutex mu;
    std::vector<int> outcome(kRequests, -1);  // 1 ok, 0 failed
    Completions done;
    for (int r = 0; r < kRequests; r++) {
      const int nops = 1 + int(rng() % 2);
      for (int k = 0; k < nops; k++) {
        const uint32_t file = d.ids[rng() % kFiles];
        uint8_t* block = buf.data() + (2 * r + k) * 4096;
        for (int b = 0; b < 4096; b++) block[b] = uint8_t(rng());
        sent[r].ops.push_back({file, next_offset[file], block, 4096});
        next_offset[file] += 4096;
      }
      ASSERT_TRUE(engine
                      .SubmitWrite(sent[r].ops,
                                   [&, r](const Status& s) {
                                     {
                                       std::lock_guard<std::mutex> l(mu);
                                       outcome[r] = s.ok() ? 1 : 0;
                                     }
                                     done.Add(s);
                                   })
                      .ok());
    }
    done.Wait(kRequests);
    engine.Stop();
    const CrashFs::CrashReport report = d.crash.Reboot(seed);
    std::vector<std::vector<uint8_t>> files(kFiles);
    for (int f = 0; f < kFiles; f++) {
      ASSERT_TRUE(
          d.crash.ReadFile("drive-" + std::to_string(f) + "/seg", &files[f])
              .ok());
    }
    for (int r = 0; r < kRequests; r++) {
      ASSERT_NE(outcome[r], -1);
      if (outcome[r] == 0) {
        failed_total++;
        continue;
      }
      acked_total++;
      for (const IoOp& op : sent[r].ops) {
        const std::vector<uint8_t>& f = files[op.file];
        ASSERT_GE(f.size(), op.offset + op.len)
            << "seed " << seed << " request " << r << "\n"
            << report.log;
        ASSERT_EQ(std::memcmp(f.data() + op.offset, op.data, op.len), 0)
            << "seed " << seed << " request " << r << "\n"
            << report.log;
      }
    }
  }
  // Both outcomes happened, so the test exercised what it claims.
  EXPECT_GT(acked_total, 0u);
  EXPECT_GT(failed_total, 0u);
}

}  // namespace
}  // namespace io
}  // namespace tessera

namespace tessera {
namespace io {
namespace {

// SubmitWrites (quorum commits): one request per drive, queued together;
// a failed fdatasync on one drive fails only that drive's request and seals
// only its file; the others are written and synced (durable after a crash).
TEST(IoEngine, SubmitWritesFailsOnlyTheFailingDrivesRequest) {
  ShimDrives d;
  IoEngine engine;
  ASSERT_TRUE(engine.Start(ShimOptions(&d.fault)).ok());
  d.Open(&engine, 3);
  d.fault.AddRule({FaultOp::kFdatasync, 1, false, EIO, "drive-1/"});
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(4096, &buf).ok());
  std::memset(buf.data(), 0x6D, 4096);
  Completions done;
  std::vector<std::vector<IoOp>> requests;
  std::vector<IoEngine::WriteDone> dones;
  for (int i = 0; i < 3; i++) {
    requests.push_back({{d.ids[i], 0, buf.data(), 4096}});
    dones.push_back(done.Writer());
  }
  ASSERT_TRUE(engine.SubmitWrites(std::move(requests), std::move(dones)).ok());
  const auto st = done.Wait(3);
  int failed = 0;
  for (const Status& s : st) failed += s.ok() ? 0 : 1;
  EXPECT_EQ(failed, 1);
  EXPECT_TRUE(engine.FileError(d.ids[0]).ok());
  EXPECT_EQ(engine.FileError(d.ids[1]).sys_errno(), EIO);
  EXPECT_TRUE(engine.FileError(d.ids[2]).ok());
  EXPECT_EQ(engine.stats().groups, 1u);  // queued together, one round
  engine.Stop();
  // Power loss: drives 0 and 2 hold the bytes durably.
  d.crash.PowerOff();
  d.crash.Reboot(7);
  for (int i : {0, 2}) {
    int fd = -1;
    ASSERT_TRUE(
        d.crash.Open("drive-" + std::to_string(i) + "/seg", kOpenRead, &fd)
            .ok());
    AlignedBuffer back;
    ASSERT_TRUE(AlignedBuffer::Allocate(4096, &back).ok());
    size_t got = 0;
    ASSERT_TRUE(d.crash.Pread(fd, back.data(), 4096, 0, &got).ok());
    EXPECT_EQ(got, 4096u);
    EXPECT_EQ(std::memcmp(back.data(), buf.data(), 4096), 0);
  }
}

}  // namespace
}  // namespace io
}  // namespace tessera
