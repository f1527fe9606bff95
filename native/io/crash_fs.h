// CrashFs: an in-memory file system that simulates power loss, for tests.
//
// It keeps, for every file, the bytes a reader sees now (the page cache) and
// the bytes that are certainly on the platter, plus the list of writes and
// size changes made since the file's last Fdatasync. Names work the same
// way: a create, rename or unlink is durable only after FsyncDir of its
// directory (directories themselves are durable once made).
//
// A crash point is reached by PowerOff() or by ArmCrashAtSync(n): the n-th
// Fdatasync/FsyncDir call powers off *before* syncing. While powered off every
// call fails with EIO. Reboot(seed) then decides, from the seed alone, the
// fate of each unsynced write, independently (SQLite test6.c, LevelDB's
// fault-injection env, ShardStore's DirtyReboot):
//   persisted | dropped | torn (each 512 B or 4 KiB sector of it kept or not)
//   | garbage (its sectors overwritten with random bytes)
// Size changes are persisted or dropped. Files whose names were not made
// durable are forgotten. Every handle becomes invalid. The same operation
// history and seed always give the same result, so a failure replays.
//
// O_DIRECT handles check alignment like the kernel does (EINVAL for an
// offset, length or buffer address that is not a multiple of 4096), so
// alignment bugs surface in tests that never touch a disk.
//
// Thread-safe: one mutex serializes every call.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "io/fs.h"

namespace tessera {
namespace io {

class CrashFs final : public Fs {
 public:
  struct CrashReport {
    uint64_t writes_persisted = 0;
    uint64_t writes_dropped = 0;
    uint64_t writes_torn = 0;
    uint64_t writes_garbage = 0;
    uint64_t resizes_dropped = 0;
    uint64_t files_forgotten = 0;
    std::string log;  // one line per decision, for replay and diagnosis
  };

  CrashFs();

  Status Open(const std::string& path, int flags, int* fd) override;
  Status Close(int fd) override;
  Status Pwritev(int fd, const struct iovec* iov, int iovcnt,
                 uint64_t offset) override;
  Status Preadv(int fd, const struct iovec* iov, int iovcnt, uint64_t offset,
                size_t* bytes_read) override;
  Status Fdatasync(int fd) override;
  Status FsyncDir(const std::string& dir) override;
  Status Fallocate(int fd, uint64_t offset, uint64_t len) override;
  Status Ftruncate(int fd, uint64_t size_bytes) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Unlink(const std::string& path) override;
  Status Mkdir(const std::string& path) override;
  Status Stat(const std::string& path, FileStat* out) override;
  Status Fstat(int fd, FileStat* out) override;
  Status Flock(int fd) override;

  // The n-th sync call from now (1-based) becomes the crash point.
  void ArmCrashAtSync(uint64_t n);
  // Crash point now.
  void PowerOff();
  bool powered_off() const;
  // Power back on after a crash point (or without one: a crash right now),
  // deciding the fate of everything unsynced from `seed`.
  CrashReport Reboot(uint64_t seed);

  uint64_t sync_calls() const;       // Fdatasync + FsyncDir since creation
  uint64_t unsynced_writes() const;  // pending writes over all files
  // Current contents of a file by name (what a reader would see).
  Status ReadFile(const std::string& path, std::vector<uint8_t>* out) const;

 private:
  struct Pending {
    bool is_resize = false;
    uint64_t offset = 0;         // writes
    std::vector<uint8_t> bytes;  // writes
    uint64_t new_size = 0;       // resizes
  };
  struct Inode {
    std::vector<uint8_t> current;
    std::vector<uint8_t> durable;
    std::vector<Pending> pending;
    int lock_holder = -1;
  };
  struct Handle {
    uint64_t inode = 0;
    int flags = 0;
  };

  Status CheckPower(const char* what) const;
  Status HandleOf(int fd, Handle* out) const;
  Status CheckDirect(const Handle& h, const struct iovec* iov, int iovcnt,
                     uint64_t offset) const;
  bool CountSyncAndMaybeCrash();
  void ApplyFate(uint64_t inode_id, const Pending& p, uint64_t* rng,
                 std::vector<uint8_t>* image, CrashReport* report);

  mutable std::mutex mu_;
  std::map<std::string, uint64_t> names_;          // path -> inode, now
  std::map<std::string, uint64_t> durable_names_;  // as of last FsyncDir
  std::set<std::string> dirs_;
  std::map<uint64_t, Inode> inodes_;
  std::map<int, Handle> handles_;
  uint64_t next_inode_ = 1;
  int next_fd_ = 3;
  uint64_t sync_calls_ = 0;
  uint64_t crash_at_sync_ = 0;  // 0: not armed
  bool powered_off_ = false;
};

}  // namespace io
}  // namespace tessera
