// PosixFs and the probes, on a real directory.

#include <errno.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/fault_fs.h"
#include "io/fs.h"
#include "io/probe.h"
#include "io/test_util.h"
#include "io/uring.h"

namespace tessera {
namespace io {
namespace {

using testing::ScratchDir;

TEST(PosixFs, WritesAndReadsWithIovecsAndReportsEndOfFile) {
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  Fs* fs = DefaultFs();
  int fd = -1;
  const std::string path = dir.path() + "/f";
  ASSERT_TRUE(fs->Open(path, kOpenWrite | kOpenCreate, &fd).ok());
  char a[] = "hello ", b[] = "world";
  struct iovec iov[2] = {{a, 6}, {b, 5}};
  ASSERT_TRUE(fs->Pwritev(fd, iov, 2, 100).ok());
  std::vector<char> out(64, 'x');
  size_t got = 0;
  ASSERT_TRUE(fs->Pread(fd, out.data(), out.size(), 100, &got).ok());
  EXPECT_EQ(got, 11u);  // stopped at end of file
  EXPECT_EQ(std::string(out.data(), got), "hello world");
  FileStat st;
  ASSERT_TRUE(fs->Fstat(fd, &st).ok());
  EXPECT_EQ(st.size_bytes, 111u);
  ASSERT_TRUE(fs->Fdatasync(fd).ok());
  ASSERT_TRUE(fs->Fallocate(fd, 0, 1 << 20).ok());
  ASSERT_TRUE(fs->Fstat(fd, &st).ok());
  EXPECT_EQ(st.size_bytes, 1u << 20);
  EXPECT_GE(st.allocated_bytes, 1u << 20);
  ASSERT_TRUE(fs->Ftruncate(fd, 5).ok());
  ASSERT_TRUE(fs->Stat(path, &st).ok());
  EXPECT_EQ(st.size_bytes, 5u);
  ASSERT_TRUE(fs->Close(fd).ok());
  ASSERT_TRUE(fs->Rename(path, dir.path() + "/g").ok());
  ASSERT_TRUE(fs->FsyncDir(dir.path()).ok());
  EXPECT_EQ(fs->Stat(path, &st).sys_errno(), ENOENT);
  ASSERT_TRUE(fs->Unlink(dir.path() + "/g").ok());
}

TEST(PosixFs, ErrorsCarryCodeErrnoAndPath) {
  ScratchDir dir;
  int fd = -1;
  const Status s = DefaultFs()->Open(dir.path() + "/missing", kOpenRead, &fd);
  EXPECT_EQ(s.code(), StatusCode::kIo);
  EXPECT_EQ(s.sys_errno(), ENOENT);
  EXPECT_EQ(s.message(),
            "open " + dir.path() + "/missing: No such file or directory");
}

TEST(PosixFs, FlockIsExclusiveAcrossHandles) {
  ScratchDir dir;
  Fs* fs = DefaultFs();
  int a = -1, b = -1;
  const std::string path = dir.path() + "/lock";
  ASSERT_TRUE(fs->Open(path, kOpenWrite | kOpenCreate, &a).ok());
  ASSERT_TRUE(fs->Open(path, kOpenWrite, &b).ok());
  ASSERT_TRUE(fs->Flock(a).ok());
  const Status s = fs->Flock(b);
  EXPECT_EQ(s.code(), StatusCode::kLocked);
  ASSERT_TRUE(fs->Close(a).ok());
  EXPECT_TRUE(fs->Flock(b).ok());
  ASSERT_TRUE(fs->Close(b).ok());
}

TEST(Probe, DirectIoModesParseWithExactErrors) {
  DirectIoMode m;
  ASSERT_TRUE(ParseDirectIoMode("required", &m).ok());
  EXPECT_EQ(m, DirectIoMode::kRequired);
  ASSERT_TRUE(ParseDirectIoMode("disabled", &m).ok());
  EXPECT_STREQ(DirectIoModeName(m), "disabled");
  const Status s = ParseDirectIoMode("on", &m);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "directIO must be 'required', 'optional' or 'disabled', got 'on'");
}

TEST(Probe, DirectIoOnTheTestDiskAndResolution) {
  ScratchDir dir;
  DirectIoProbe probe;
  ASSERT_TRUE(ProbeDirectIo(DefaultFs(), dir.path(), &probe).ok());
  // ext4, xfs and btrfs support O_DIRECT; so does tmpfs since Linux 6.6.
  EXPECT_TRUE(probe.supported) << probe.detail;
  bool use = true;
  ASSERT_TRUE(
      ResolveDirectIo(DirectIoMode::kDisabled, dir.path(), probe, &use).ok());
  EXPECT_FALSE(use);
  ASSERT_TRUE(
      ResolveDirectIo(DirectIoMode::kOptional, dir.path(), probe, &use).ok());
  EXPECT_EQ(use, probe.supported);
  FileStat st;
  EXPECT_EQ(DefaultFs()
                ->Stat(dir.path() + "/.tessera-direct-probe-" +
                           std::to_string(::getpid()),
                       &st)
                .sys_errno(),
            ENOENT);  // the scratch file is gone
}

// tmpfs refused O_DIRECT before Linux 6.6 and accepts it since, so the
// refusal is injected: the probe's second open (the O_DIRECT one) fails with
// EINVAL, exactly what a refusing file system returns.
TEST(Probe, RequiredDirectIoFailsWhereODirectIsRefused) {
  ScratchDir dir;
  FaultFs fs(DefaultFs());
  fs.AddRule({FaultOp::kOpen, 2, false, EINVAL, ""});
  DirectIoProbe probe;
  ASSERT_TRUE(ProbeDirectIo(&fs, dir.path(), &probe).ok());
  EXPECT_FALSE(probe.supported);
  const std::string scratch =
      dir.path() + "/.tessera-direct-probe-" + std::to_string(::getpid());
  EXPECT_EQ(probe.detail,
            "injected open failure on " + scratch + ": Invalid argument");
  bool use = true;
  const Status s =
      ResolveDirectIo(DirectIoMode::kRequired, dir.path(), probe, &use);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_EQ(s.message(), "directIO is 'required' but " + dir.path() +
                             " does not support O_DIRECT (" + probe.detail +
                             ")");
  ASSERT_TRUE(
      ResolveDirectIo(DirectIoMode::kOptional, dir.path(), probe, &use).ok());
  EXPECT_FALSE(use);
  FileStat st;
  EXPECT_EQ(fs.Stat(scratch, &st).sys_errno(), ENOENT);  // cleaned up
}

TEST(Probe, MissingDirectoryIsAnError) {
  DirectIoProbe probe;
  const Status s = ProbeDirectIo(DefaultFs(), "/nonexistent-tessera", &probe);
  EXPECT_EQ(s.sys_errno(), ENOENT);
}

TEST(IoUringProbe, ReportsAReason) {
  std::string detail;
  const bool ok = IoUring::Available(&detail);
  EXPECT_FALSE(detail.empty());
  if (ok) {
    EXPECT_EQ(detail, "io_uring available");
  }
}

TEST(IoUring, WritesSyncsAndReadsBack) {
  std::string detail;
  if (!IoUring::Available(&detail)) GTEST_SKIP() << detail;
  ScratchDir dir;
  int fd = -1;
  ASSERT_TRUE(DefaultFs()
                  ->Open(dir.path() + "/ring",
                         kOpenWrite | kOpenCreate | kOpenDirect, &fd)
                  .ok());
  IoUring ring;
  ASSERT_TRUE(ring.Init(4).ok());  // fewer entries than ops: must cycle
  constexpr int kOps = 10;
  AlignedBuffer buf;
  ASSERT_TRUE(AlignedBuffer::Allocate(kOps * 4096, &buf).ok());
  for (size_t i = 0; i < buf.size(); i++) buf.data()[i] = uint8_t(i * 7 + 1);
  std::vector<struct iovec> iov(kOps);
  std::vector<UringOp> ops(kOps + 1);
  std::vector<UringOp*> ptrs;
  for (int i = 0; i < kOps; i++) {
    iov[i] = {buf.data() + i * 4096, 4096};
    ops[i].kind = UringOp::kWritev;
    ops[i].fd = fd;
    ops[i].offset = uint64_t(i) * 4096;
    ops[i].iov = &iov[i];
    ops[i].iovcnt = 1;
    ptrs.push_back(&ops[i]);
  }
  ASSERT_TRUE(ring.Run(&ptrs).ok());
  for (int i = 0; i < kOps; i++) {
    ASSERT_TRUE(ops[i].status.ok()) << ops[i].status.message();
    EXPECT_EQ(ops[i].bytes, 4096u);
  }
  ops[kOps].kind = UringOp::kFdatasync;
  ops[kOps].fd = fd;
  std::vector<UringOp*> sync = {&ops[kOps]};
  ASSERT_TRUE(ring.Run(&sync).ok());
  EXPECT_TRUE(ops[kOps].status.ok());
  AlignedBuffer back;
  ASSERT_TRUE(AlignedBuffer::Allocate(kOps * 4096, &back).ok());
  struct iovec riov = {back.data(), back.size()};
  UringOp read;
  read.kind = UringOp::kReadv;
  read.fd = fd;
  read.iov = &riov;
  read.iovcnt = 1;
  std::vector<UringOp*> reads = {&read};
  ASSERT_TRUE(ring.Run(&reads).ok());
  ASSERT_TRUE(read.status.ok());
  EXPECT_EQ(read.bytes, back.size());
  EXPECT_EQ(std::memcmp(back.data(), buf.data(), back.size()), 0);
  // A misaligned O_DIRECT write fails with EINVAL through the ring.
  UringOp bad = ops[0];
  struct iovec biov = {buf.data() + 1, 4096};
  bad.iov = &biov;
  std::vector<UringOp*> bads = {&bad};
  ASSERT_TRUE(ring.Run(&bads).ok());
  EXPECT_EQ(bad.status.sys_errno(), EINVAL);
  ASSERT_TRUE(DefaultFs()->Close(fd).ok());
}

}  // namespace
}  // namespace io
}  // namespace tessera
