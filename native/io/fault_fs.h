// FaultFs: forwards to another Fs and makes chosen calls fail, for tests of
// how the engine handles I/O errors (SQLite's ioerr tests; ../shared/
// TESTING.md C5): fail the N-th pwrite / fdatasync / read / fallocate /
// rename (counted per rule from when the rule was added), once (transient)
// or from then on (persistent), with EIO, ENOSPC or any errno, optionally
// only for paths containing a substring (one drive).
//
// A failed call is not forwarded: the write did not happen, the sync did not
// make anything durable. Over a CrashFs that means unsynced data stays at
// the mercy of the next crash, which is what a real failed fdatasync means.
//
// Thread-safe: one mutex guards the rules and the handle-to-path map.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "io/fs.h"

namespace tessera {
namespace io {

enum class FaultOp {
  kOpen,
  kPwrite,
  kPread,
  kFdatasync,
  kFsyncDir,
  kFallocate,
  kFtruncate,
  kRename,
  kUnlink,
};

const char* FaultOpName(FaultOp op);

struct FaultRule {
  FaultOp op = FaultOp::kPwrite;
  uint64_t nth = 1;            // 1-based among the calls this rule matches
  bool persistent = false;     // false: only the nth call fails
  int error = 5;               // errno: EIO by default
  std::string path_substring;  // empty: every path
};

class FaultFs final : public Fs {
 public:
  explicit FaultFs(Fs* base);

  void AddRule(const FaultRule& rule);
  void ClearRules();
  uint64_t injected() const;  // failures injected so far
  uint64_t calls(FaultOp op) const;

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

 private:
  struct ActiveRule {
    FaultRule rule;
    uint64_t matched = 0;
  };
  // Counts the call against every matching rule; returns the injected error
  // or OK to forward.
  Status Check(FaultOp op, const std::string& path);
  std::string PathOf(int fd);

  Fs* const base_;
  mutable std::mutex mu_;
  std::vector<ActiveRule> rules_;
  std::map<int, std::string> paths_;
  uint64_t injected_ = 0;
  uint64_t calls_[9] = {};
};

}  // namespace io
}  // namespace tessera
