// The power-loss shim (CrashFs) and the error injector (FaultFs).

#include "io/crash_fs.h"

#include <errno.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "io/aligned_buffer.h"
#include "io/fault_fs.h"
#include "io/test_util.h"

namespace tessera {
namespace io {
namespace {

using testing::TestSeed;

std::vector<uint8_t> Fill(size_t n, uint8_t v) {
  return std::vector<uint8_t>(n, v);
}

// A file "d/f" with 16 KiB of 0x11 made durable (data and name).
int MakeDurableFile(CrashFs* fs) {
  EXPECT_TRUE(fs->Mkdir("d").ok());
  int fd = -1;
  EXPECT_TRUE(fs->Open("d/f", kOpenWrite | kOpenCreate, &fd).ok());
  const auto base = Fill(16384, 0x11);
  EXPECT_TRUE(fs->Pwrite(fd, base.data(), base.size(), 0).ok());
  EXPECT_TRUE(fs->Fdatasync(fd).ok());
  EXPECT_TRUE(fs->FsyncDir("d").ok());
  return fd;
}

TEST(CrashFs, SyncedDataSurvivesEveryCrash) {
  for (uint64_t seed = 0; seed < 50; seed++) {
    CrashFs fs;
    MakeDurableFile(&fs);
    fs.Reboot(TestSeed() + seed);
    std::vector<uint8_t> got;
    ASSERT_TRUE(fs.ReadFile("d/f", &got).ok());
    EXPECT_EQ(got, Fill(16384, 0x11)) << "seed " << TestSeed() + seed;
  }
}

TEST(CrashFs, UnsyncedWritesArePersistedDroppedTornOrGarbage) {
  uint64_t persisted = 0, dropped = 0, torn = 0, garbage = 0;
  for (uint64_t i = 0; i < 200; i++) {
    const uint64_t seed = TestSeed() + i;
    CrashFs fs;
    const int fd = MakeDurableFile(&fs);
    const auto update = Fill(8192, 0x22);
    ASSERT_TRUE(fs.Pwrite(fd, update.data(), update.size(), 4096).ok());
    EXPECT_EQ(fs.unsynced_writes(), 1u);
    const CrashFs::CrashReport r = fs.Reboot(seed);
    persisted += r.writes_persisted;
    dropped += r.writes_dropped;
    torn += r.writes_torn;
    garbage += r.writes_garbage;
    std::vector<uint8_t> got;
    ASSERT_TRUE(fs.ReadFile("d/f", &got).ok());
    ASSERT_EQ(got.size(), 16384u);
    // Bytes outside the write never change; inside, each 512-byte sector is
    // wholly old, wholly new, or (garbage) neither.
    for (size_t s = 0; s < 16384; s += 512) {
      const bool inside = s >= 4096 && s < 12288;
      const bool old_sector =
          std::memcmp(got.data() + s, Fill(512, 0x11).data(), 512) == 0;
      const bool new_sector =
          std::memcmp(got.data() + s, Fill(512, 0x22).data(), 512) == 0;
      if (!inside) {
        ASSERT_TRUE(old_sector) << "seed " << seed << " sector " << s;
      } else if (r.writes_garbage == 0) {
        ASSERT_TRUE(old_sector || new_sector)
            << "seed " << seed << " " << r.log;
      }
    }
    if (r.writes_persisted == 1) {
      auto expected = Fill(16384, 0x11);
      std::memset(expected.data() + 4096, 0x22, 8192);
      EXPECT_EQ(got, expected);
    }
    if (r.writes_dropped == 1) {
      EXPECT_EQ(got, Fill(16384, 0x11));
    }
  }
  EXPECT_GT(persisted, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_GT(torn, 0u);
  EXPECT_GT(garbage, 0u);
}

TEST(CrashFs, SameHistoryAndSeedReplayExactly) {
  auto run = [](uint64_t seed, std::vector<uint8_t>* image, std::string* log) {
    CrashFs fs;
    const int fd = MakeDurableFile(&fs);
    for (int i = 0; i < 20; i++) {
      const auto data = Fill(1000 + 37 * i, static_cast<uint8_t>(i));
      ASSERT_TRUE(fs.Pwrite(fd, data.data(), data.size(), 777u * i).ok());
    }
    ASSERT_TRUE(fs.Ftruncate(fd, 20000).ok());
    const CrashFs::CrashReport r = fs.Reboot(seed);
    *log = r.log;
    ASSERT_TRUE(fs.ReadFile("d/f", image).ok());
  };
  std::vector<uint8_t> a, b, c;
  std::string la, lb, lc;
  run(TestSeed(), &a, &la);
  run(TestSeed(), &b, &lb);
  run(TestSeed() + 1, &c, &lc);
  EXPECT_EQ(a, b);
  EXPECT_EQ(la, lb);
  EXPECT_NE(la, lc);  // 21 decisions: another seed decides differently
}

TEST(CrashFs, FilesCreatedOrRenamedWithoutDirFsyncAreForgotten) {
  CrashFs fs;
  const int fd = MakeDurableFile(&fs);
  ASSERT_TRUE(fs.Close(fd).ok());
  int g = -1;
  ASSERT_TRUE(fs.Open("d/new", kOpenWrite | kOpenCreate, &g).ok());
  ASSERT_TRUE(fs.Pwrite(g, "x", 1, 0).ok());
  ASSERT_TRUE(fs.Fdatasync(g).ok());  // data durable, name not
  ASSERT_TRUE(fs.Rename("d/f", "d/renamed").ok());
  const CrashFs::CrashReport r = fs.Reboot(TestSeed());
  EXPECT_EQ(r.files_forgotten, 1u);
  FileStat st;
  EXPECT_EQ(fs.Stat("d/new", &st).sys_errno(), ENOENT);
  EXPECT_EQ(fs.Stat("d/renamed", &st).sys_errno(), ENOENT);
  ASSERT_TRUE(fs.Stat("d/f", &st).ok());  // the rename was undone
  EXPECT_EQ(st.size_bytes, 16384u);
}

TEST(CrashFs, DirFsyncMakesCreatesRenamesAndUnlinksDurable) {
  CrashFs fs;
  const int fd = MakeDurableFile(&fs);
  ASSERT_TRUE(fs.Close(fd).ok());
  int g = -1;
  ASSERT_TRUE(fs.Open("d/tmp", kOpenWrite | kOpenCreate, &g).ok());
  ASSERT_TRUE(fs.Pwrite(g, "snapshot", 8, 0).ok());
  ASSERT_TRUE(fs.Fdatasync(g).ok());
  ASSERT_TRUE(fs.Rename("d/tmp", "d/snap").ok());
  ASSERT_TRUE(fs.Unlink("d/f").ok());
  ASSERT_TRUE(fs.FsyncDir("d").ok());
  fs.Reboot(TestSeed());
  std::vector<uint8_t> got;
  ASSERT_TRUE(fs.ReadFile("d/snap", &got).ok());
  EXPECT_EQ(std::string(got.begin(), got.end()), "snapshot");
  FileStat st;
  EXPECT_EQ(fs.Stat("d/f", &st).sys_errno(), ENOENT);
  EXPECT_EQ(fs.Stat("d/tmp", &st).sys_errno(), ENOENT);
}

TEST(CrashFs, CrashAtTheNthSyncFreezesTheDiskUntilReboot) {
  CrashFs fs;
  const int fd = MakeDurableFile(&fs);
  EXPECT_EQ(fs.sync_calls(), 2u);
  fs.ArmCrashAtSync(2);
  const auto a = Fill(4096, 0x33);
  ASSERT_TRUE(fs.Pwrite(fd, a.data(), a.size(), 0).ok());
  ASSERT_TRUE(fs.Fdatasync(fd).ok());  // first sync after arming: fine
  ASSERT_TRUE(fs.Pwrite(fd, a.data(), a.size(), 4096).ok());
  const Status s = fs.Fdatasync(fd);  // the crash point: never synced
  EXPECT_EQ(s.sys_errno(), EIO);
  EXPECT_EQ(s.message(), "fdatasync: simulated power loss");
  EXPECT_TRUE(fs.powered_off());
  EXPECT_EQ(fs.Pwrite(fd, a.data(), 1, 0).sys_errno(), EIO);
  fs.Reboot(TestSeed());
  EXPECT_FALSE(fs.powered_off());
  EXPECT_EQ(fs.Pwrite(fd, a.data(), 1, 0).sys_errno(), EBADF);  // old handle
  std::vector<uint8_t> got;
  ASSERT_TRUE(fs.ReadFile("d/f", &got).ok());
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + 4096), a);
}

TEST(CrashFs, DirectHandlesRejectMisalignedTransfers) {
  CrashFs fs;
  ASSERT_TRUE(fs.Mkdir("d").ok());
  int fd = -1;
  ASSERT_TRUE(fs.Open("d/x", kOpenWrite | kOpenCreate | kOpenDirect, &fd).ok());
  AlignedBuffer b;
  ASSERT_TRUE(AlignedBuffer::Allocate(8192, &b).ok());
  EXPECT_TRUE(fs.Pwrite(fd, b.data(), 4096, 4096).ok());
  EXPECT_EQ(fs.Pwrite(fd, b.data(), 4096, 512).sys_errno(), EINVAL);
  EXPECT_EQ(fs.Pwrite(fd, b.data(), 100, 0).sys_errno(), EINVAL);
  EXPECT_EQ(fs.Pwrite(fd, b.data() + 8, 4096, 0).sys_errno(), EINVAL);
  size_t got = 0;
  EXPECT_EQ(fs.Pread(fd, b.data(), 4095, 0, &got).sys_errno(), EINVAL);
}

TEST(CrashFs, FlockExcludesOtherHandlesUntilClose) {
  CrashFs fs;
  const int a = MakeDurableFile(&fs);
  int b = -1;
  ASSERT_TRUE(fs.Open("d/f", kOpenWrite, &b).ok());
  ASSERT_TRUE(fs.Flock(a).ok());
  EXPECT_EQ(fs.Flock(b).code(), StatusCode::kLocked);
  ASSERT_TRUE(fs.Close(a).ok());
  EXPECT_TRUE(fs.Flock(b).ok());
}

TEST(FaultFs, TransientFailureHitsOnlyTheNthCall) {
  CrashFs base;
  FaultFs fs(&base);
  ASSERT_TRUE(fs.Mkdir("d").ok());
  int fd = -1;
  ASSERT_TRUE(fs.Open("d/f", kOpenWrite | kOpenCreate, &fd).ok());
  fs.AddRule({FaultOp::kPwrite, 2, false, EIO, ""});
  EXPECT_TRUE(fs.Pwrite(fd, "a", 1, 0).ok());
  const Status s = fs.Pwrite(fd, "b", 1, 1);
  EXPECT_EQ(s.code(), StatusCode::kIo);
  EXPECT_EQ(s.message(), "injected pwrite failure on d/f: Input/output error");
  EXPECT_TRUE(fs.Pwrite(fd, "c", 1, 2).ok());
  std::vector<uint8_t> got;
  ASSERT_TRUE(base.ReadFile("d/f", &got).ok());
  EXPECT_EQ(std::string(got.begin(), got.end()), std::string("a\0c", 3));
  EXPECT_EQ(fs.injected(), 1u);
  EXPECT_EQ(fs.calls(FaultOp::kPwrite), 3u);
}

TEST(FaultFs, PersistentFailureWithEnospcOnOneDriveOnly) {
  CrashFs base;
  FaultFs fs(&base);
  ASSERT_TRUE(fs.Mkdir("drive-0").ok());
  ASSERT_TRUE(fs.Mkdir("drive-1").ok());
  int d0 = -1, d1 = -1;
  ASSERT_TRUE(fs.Open("drive-0/seg", kOpenWrite | kOpenCreate, &d0).ok());
  ASSERT_TRUE(fs.Open("drive-1/seg", kOpenWrite | kOpenCreate, &d1).ok());
  fs.AddRule({FaultOp::kFallocate, 1, true, ENOSPC, "drive-1/"});
  EXPECT_TRUE(fs.Fallocate(d0, 0, 4096).ok());
  for (int i = 0; i < 3; i++) {
    const Status s = fs.Fallocate(d1, 0, 4096);
    EXPECT_EQ(s.code(), StatusCode::kNoSpace);
    EXPECT_EQ(s.sys_errno(), ENOSPC);
  }
  EXPECT_TRUE(fs.Fallocate(d0, 4096, 4096).ok());
  EXPECT_EQ(fs.injected(), 3u);
}

TEST(FaultFs, FailedFdatasyncLeavesDataUnsyncedUnderTheShim) {
  CrashFs base;
  FaultFs fs(&base);
  ASSERT_TRUE(fs.Mkdir("d").ok());
  int fd = -1;
  ASSERT_TRUE(fs.Open("d/f", kOpenWrite | kOpenCreate, &fd).ok());
  ASSERT_TRUE(fs.FsyncDir("d").ok());
  fs.AddRule({FaultOp::kFdatasync, 1, false, EIO, ""});
  ASSERT_TRUE(fs.Pwrite(fd, "data", 4, 0).ok());
  EXPECT_EQ(fs.Fdatasync(fd).sys_errno(), EIO);
  EXPECT_EQ(base.unsynced_writes(), 1u);  // nothing became durable
  fs.AddRule({FaultOp::kRename, 1, false, EIO, ""});
  EXPECT_EQ(fs.Rename("d/f", "d/g").code(), StatusCode::kIo);
  FileStat st;
  EXPECT_TRUE(fs.Stat("d/f", &st).ok());  // a failed rename did nothing
}

}  // namespace
}  // namespace io
}  // namespace tessera
