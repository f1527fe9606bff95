// The file-system interface under the I/O engine.
//
// Everything the engine does to a disk goes through a Fs, so tests can put a
// fault-injecting implementation underneath (crash_fs.h: power loss;
// fault_fs.h: I/O errors) and run the same engine code. PosixFs is the real
// one. File handles are small integers owned by the Fs that returned them.
//
// Contract for every implementation:
// - Pwritev writes everything or fails; it never reports a short write.
//   Preadv stops early only at end of file and reports the bytes read.
// - Fdatasync makes the data (and the size) of that file durable, not its
//   directory entry: a file created or renamed is durable only after
//   FsyncDir of its directory (../shared/TESTING.md rule 3).
// - A failed Fdatasync means the data written since the last successful one
//   may be lost, even if a later Fdatasync succeeds (rule 2): callers must
//   not retry it and then trust the data.
// - Methods are thread-safe; calls on different handles may run in parallel.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>

#include "core/status.h"

namespace tessera {
namespace io {

enum OpenFlags : int {
  kOpenRead = 1 << 0,
  kOpenWrite = 1 << 1,  // read-write
  kOpenCreate = 1 << 2,
  kOpenExclusive = 1 << 3,  // with kOpenCreate: fail if it exists
  kOpenDirect = 1 << 4,     // O_DIRECT: 4096-aligned buffers/offsets/lengths
};

struct FileStat {
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;  // st_blocks * 512
  bool is_directory = false;
};

class Fs {
 public:
  virtual ~Fs() = default;

  virtual Status Open(const std::string& path, int flags, int* fd) = 0;
  virtual Status Close(int fd) = 0;
  virtual Status Pwritev(int fd, const struct iovec* iov, int iovcnt,
                         uint64_t offset) = 0;
  virtual Status Preadv(int fd, const struct iovec* iov, int iovcnt,
                        uint64_t offset, size_t* bytes_read) = 0;
  virtual Status Fdatasync(int fd) = 0;
  // Opens the directory, fsyncs it and closes it.
  virtual Status FsyncDir(const std::string& dir) = 0;
  // Reserves [offset, offset+len) and extends the size to cover it.
  virtual Status Fallocate(int fd, uint64_t offset, uint64_t len) = 0;
  virtual Status Ftruncate(int fd, uint64_t size_bytes) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  virtual Status Mkdir(const std::string& path) = 0;
  virtual Status Stat(const std::string& path, FileStat* out) = 0;
  virtual Status Fstat(int fd, FileStat* out) = 0;
  // Exclusive, non-blocking advisory lock held until Close; kLocked when
  // another open file description holds it.
  virtual Status Flock(int fd) = 0;

  // Convenience wrappers over one contiguous buffer.
  Status Pwrite(int fd, const void* data, size_t len, uint64_t offset);
  Status Pread(int fd, void* data, size_t len, uint64_t offset,
               size_t* bytes_read);
};

// The real file system through POSIX calls. Retries EINTR and short
// transfers; translates errno with Status::FromErrno.
class PosixFs final : public Fs {
 public:
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
};

// The process-wide PosixFs.
Fs* DefaultFs();

// Sum of iov_len over iov[0..iovcnt).
size_t IovBytes(const struct iovec* iov, int iovcnt);

}  // namespace io
}  // namespace tessera
