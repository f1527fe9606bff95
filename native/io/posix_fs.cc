#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/ts_assert.h"
#include "io/fs.h"

namespace tessera {
namespace io {

size_t IovBytes(const struct iovec* iov, int iovcnt) {
  TS_ASSERT(iovcnt >= 0);
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
  return total;
}

Status Fs::Pwrite(int fd, const void* data, size_t len, uint64_t offset) {
  struct iovec iov = {const_cast<void*>(data), len};
  return Pwritev(fd, &iov, 1, offset);
}

Status Fs::Pread(int fd, void* data, size_t len, uint64_t offset,
                 size_t* bytes_read) {
  struct iovec iov = {data, len};
  return Preadv(fd, &iov, 1, offset, bytes_read);
}

namespace {

// Advances an iovec array past `done` bytes (after a short transfer).
void AdvanceIov(std::vector<struct iovec>* iov, size_t* first, size_t done) {
  while (done > 0) {
    TS_ASSERT(*first < iov->size());
    struct iovec& v = (*iov)[*first];
    const size_t step = std::min(done, v.iov_len);
    v.iov_base = static_cast<char*>(v.iov_base) + step;
    v.iov_len -= step;
    done -= step;
    if (v.iov_len == 0) (*first)++;
  }
}

}  // namespace

Status PosixFs::Open(const std::string& path, int flags, int* fd) {
  TS_ASSERT(fd != nullptr);
  TS_ASSERT((flags & (kOpenRead | kOpenWrite)) != 0);
  int os = O_CLOEXEC | ((flags & kOpenWrite) ? O_RDWR : O_RDONLY);
  if (flags & kOpenCreate) os |= O_CREAT;
  if (flags & kOpenExclusive) os |= O_EXCL;
  if (flags & kOpenDirect) os |= O_DIRECT;
  int r;
  do {
    r = ::open(path.c_str(), os, 0644);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Status::FromErrno(errno, "open " + path);
  *fd = r;
  return Status::Ok();
}

Status PosixFs::Close(int fd) {
  TS_ASSERT(fd >= 0);
  // Linux releases the descriptor even when close reports an error, so
  // retrying on EINTR would risk closing a reused descriptor.
  if (::close(fd) != 0 && errno != EINTR) {
    return Status::FromErrno(errno, "close");
  }
  return Status::Ok();
}

Status PosixFs::Pwritev(int fd, const struct iovec* iov, int iovcnt,
                        uint64_t offset) {
  TS_ASSERT(fd >= 0 && iovcnt >= 0 && iovcnt <= IOV_MAX);
  std::vector<struct iovec> v(iov, iov + iovcnt);
  size_t first = 0;
  size_t left = IovBytes(iov, iovcnt);
  while (left > 0) {
    const ssize_t n =
        ::pwritev(fd, v.data() + first, static_cast<int>(v.size() - first),
                  static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "pwritev");
    }
    TS_ASSERT(n > 0 && static_cast<size_t>(n) <= left);
    AdvanceIov(&v, &first, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    left -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status PosixFs::Preadv(int fd, const struct iovec* iov, int iovcnt,
                       uint64_t offset, size_t* bytes_read) {
  TS_ASSERT(fd >= 0 && iovcnt >= 0 && iovcnt <= IOV_MAX);
  TS_ASSERT(bytes_read != nullptr);
  std::vector<struct iovec> v(iov, iov + iovcnt);
  size_t first = 0;
  size_t left = IovBytes(iov, iovcnt);
  size_t total = 0;
  while (left > 0) {
    const ssize_t n =
        ::preadv(fd, v.data() + first, static_cast<int>(v.size() - first),
                 static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "preadv");
    }
    if (n == 0) break;  // end of file
    AdvanceIov(&v, &first, static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    left -= static_cast<size_t>(n);
    total += static_cast<size_t>(n);
  }
  *bytes_read = total;
  return Status::Ok();
}

Status PosixFs::Fdatasync(int fd) {
  TS_ASSERT(fd >= 0);
  // No EINTR loop: fdatasync is not interrupted by signals on Linux, and a
  // failure must never be retried (see fs.h).
  if (::fdatasync(fd) != 0) return Status::FromErrno(errno, "fdatasync");
  return Status::Ok();
}

Status PosixFs::FsyncDir(const std::string& dir) {
  TS_ASSERT(!dir.empty());
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open directory " + dir);
  const int r = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (r != 0) return Status::FromErrno(saved, "fsync directory " + dir);
  return Status::Ok();
}

Status PosixFs::Fallocate(int fd, uint64_t offset, uint64_t len) {
  TS_ASSERT(fd >= 0 && len > 0);
  int r;
  do {
    r = ::fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
  } while (r != 0 && errno == EINTR);
  if (r != 0) return Status::FromErrno(errno, "fallocate");
  return Status::Ok();
}

Status PosixFs::Ftruncate(int fd, uint64_t size_bytes) {
  TS_ASSERT(fd >= 0);
  int r;
  do {
    r = ::ftruncate(fd, static_cast<off_t>(size_bytes));
  } while (r != 0 && errno == EINTR);
  if (r != 0) return Status::FromErrno(errno, "ftruncate");
  return Status::Ok();
}

Status PosixFs::Rename(const std::string& from, const std::string& to) {
  TS_ASSERT(!from.empty() && !to.empty());
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + from + " -> " + to);
  }
  return Status::Ok();
}

Status PosixFs::Unlink(const std::string& path) {
  TS_ASSERT(!path.empty());
  if (::unlink(path.c_str()) != 0) {
    return Status::FromErrno(errno, "unlink " + path);
  }
  return Status::Ok();
}

Status PosixFs::Mkdir(const std::string& path) {
  TS_ASSERT(!path.empty());
  if (::mkdir(path.c_str(), 0755) != 0) {
    return Status::FromErrno(errno, "mkdir " + path);
  }
  return Status::Ok();
}

namespace {
void FillStat(const struct stat& st, FileStat* out) {
  out->size_bytes = static_cast<uint64_t>(st.st_size);
  out->allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  out->is_directory = S_ISDIR(st.st_mode);
}
}  // namespace

Status PosixFs::Stat(const std::string& path, FileStat* out) {
  TS_ASSERT(out != nullptr && !path.empty());
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::FromErrno(errno, "stat " + path);
  }
  FillStat(st, out);
  return Status::Ok();
}

Status PosixFs::Fstat(int fd, FileStat* out) {
  TS_ASSERT(out != nullptr && fd >= 0);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "fstat");
  FillStat(st, out);
  return Status::Ok();
}

Status PosixFs::Flock(int fd) {
  TS_ASSERT(fd >= 0);
  int r;
  do {
    r = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (r != 0 && errno == EINTR);
  if (r == 0) return Status::Ok();
  if (errno == EWOULDBLOCK) {
    return Status(StatusCode::kLocked,
                  "the file is locked by another open handle or process",
                  errno);
  }
  return Status::FromErrno(errno, "flock");
}

Fs* DefaultFs() {
  static PosixFs fs;
  return &fs;
}

}  // namespace io
}  // namespace tessera
