#include "io/crash_fs.h"

#include <errno.h>

#include <algorithm>
#include <cstring>

#include "core/ts_assert.h"
#include "io/aligned_buffer.h"

namespace tessera {
namespace io {
namespace {

// splitmix64: fully specified, so a seed means the same thing everywhere
// (std:: distributions are implementation-defined).
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status Errno(int e, const std::string& what) {
  return Status::FromErrno(e, what);
}

void WriteInto(std::vector<uint8_t>* image, uint64_t offset,
               const uint8_t* data, size_t len) {
  if (len == 0) return;
  if (image->size() < offset + len) image->resize(offset + len, 0);
  std::memcpy(image->data() + offset, data, len);
}

}  // namespace

CrashFs::CrashFs() {
  dirs_.insert(".");
  dirs_.insert("/");
}

Status CrashFs::CheckPower(const char* what) const {
  if (!powered_off_) return Status::Ok();
  return Status(StatusCode::kIo, std::string(what) + ": simulated power loss",
                EIO);
}

Status CrashFs::HandleOf(int fd, Handle* out) const {
  const auto it = handles_.find(fd);
  if (it == handles_.end()) return Errno(EBADF, "handle");
  *out = it->second;
  TS_ASSERT(inodes_.count(out->inode) == 1);
  return Status::Ok();
}

Status CrashFs::CheckDirect(const Handle& h, const struct iovec* iov,
                            int iovcnt, uint64_t offset) const {
  if ((h.flags & kOpenDirect) == 0) return Status::Ok();
  bool ok = IsAligned(offset);
  for (int i = 0; i < iovcnt; i++) {
    ok = ok && IsAligned(reinterpret_cast<uintptr_t>(iov[i].iov_base)) &&
         IsAligned(iov[i].iov_len);
  }
  if (ok) return Status::Ok();
  return Errno(EINVAL, "O_DIRECT transfer not aligned to 4096");
}

bool CrashFs::CountSyncAndMaybeCrash() {
  sync_calls_++;
  if (crash_at_sync_ != 0 && sync_calls_ == crash_at_sync_) {
    powered_off_ = true;
    crash_at_sync_ = 0;
    return true;
  }
  return false;
}

Status CrashFs::Open(const std::string& path, int flags, int* fd) {
  TS_ASSERT(fd != nullptr && !path.empty());
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("open"));
  if (dirs_.count(path) != 0) return Errno(EISDIR, "open " + path);
  auto it = names_.find(path);
  if (it == names_.end()) {
    if ((flags & kOpenCreate) == 0) return Errno(ENOENT, "open " + path);
    if (dirs_.count(ParentOf(path)) == 0) return Errno(ENOENT, "open " + path);
    const uint64_t id = next_inode_++;
    inodes_[id] = Inode();
    it = names_.emplace(path, id).first;
  } else if ((flags & kOpenCreate) && (flags & kOpenExclusive)) {
    return Errno(EEXIST, "open " + path);
  }
  *fd = next_fd_++;
  handles_[*fd] = Handle{it->second, flags};
  TS_ASSERT(handles_.size() < 1u << 20);  // a leak, not a workload
  return Status::Ok();
}

Status CrashFs::Close(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = handles_.find(fd);
  if (it == handles_.end()) return Errno(EBADF, "close");
  Inode& inode = inodes_.at(it->second.inode);
  if (inode.lock_holder == fd) inode.lock_holder = -1;
  handles_.erase(it);
  return Status::Ok();
}

Status CrashFs::Pwritev(int fd, const struct iovec* iov, int iovcnt,
                        uint64_t offset) {
  TS_ASSERT(iovcnt >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("pwritev"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  if ((h.flags & kOpenWrite) == 0) return Errno(EBADF, "pwritev");
  TS_RETURN_IF_ERROR(CheckDirect(h, iov, iovcnt, offset));
  Pending p;
  p.offset = offset;
  p.bytes.reserve(IovBytes(iov, iovcnt));
  for (int i = 0; i < iovcnt; i++) {
    const uint8_t* b = static_cast<const uint8_t*>(iov[i].iov_base);
    p.bytes.insert(p.bytes.end(), b, b + iov[i].iov_len);
  }
  Inode& inode = inodes_.at(h.inode);
  WriteInto(&inode.current, offset, p.bytes.data(), p.bytes.size());
  if (!p.bytes.empty()) inode.pending.push_back(std::move(p));
  return Status::Ok();
}

Status CrashFs::Preadv(int fd, const struct iovec* iov, int iovcnt,
                       uint64_t offset, size_t* bytes_read) {
  TS_ASSERT(bytes_read != nullptr && iovcnt >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("preadv"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  TS_RETURN_IF_ERROR(CheckDirect(h, iov, iovcnt, offset));
  const std::vector<uint8_t>& data = inodes_.at(h.inode).current;
  size_t total = 0;
  for (int i = 0; i < iovcnt && offset < data.size(); i++) {
    const size_t n = std::min<uint64_t>(iov[i].iov_len, data.size() - offset);
    std::memcpy(iov[i].iov_base, data.data() + offset, n);
    offset += n;
    total += n;
  }
  *bytes_read = total;
  return Status::Ok();
}

Status CrashFs::Fdatasync(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("fdatasync"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  if (CountSyncAndMaybeCrash()) return CheckPower("fdatasync");
  Inode& inode = inodes_.at(h.inode);
  inode.durable = inode.current;
  inode.pending.clear();
  return Status::Ok();
}

Status CrashFs::FsyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("fsync directory"));
  if (dirs_.count(dir) == 0) return Errno(ENOENT, "open directory " + dir);
  if (CountSyncAndMaybeCrash()) return CheckPower("fsync directory");
  for (auto it = durable_names_.begin(); it != durable_names_.end();) {
    it = ParentOf(it->first) == dir ? durable_names_.erase(it) : std::next(it);
  }
  for (const auto& [path, id] : names_) {
    if (ParentOf(path) == dir) durable_names_[path] = id;
  }
  return Status::Ok();
}

Status CrashFs::Fallocate(int fd, uint64_t offset, uint64_t len) {
  TS_ASSERT(len > 0);
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("fallocate"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  Inode& inode = inodes_.at(h.inode);
  if (inode.current.size() >= offset + len) return Status::Ok();
  Pending p;
  p.is_resize = true;
  p.new_size = offset + len;
  inode.current.resize(p.new_size, 0);
  inode.pending.push_back(std::move(p));
  return Status::Ok();
}

Status CrashFs::Ftruncate(int fd, uint64_t size_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("ftruncate"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  if ((h.flags & kOpenWrite) == 0) return Errno(EINVAL, "ftruncate");
  Inode& inode = inodes_.at(h.inode);
  Pending p;
  p.is_resize = true;
  p.new_size = size_bytes;
  inode.current.resize(size_bytes, 0);
  inode.pending.push_back(std::move(p));
  return Status::Ok();
}

Status CrashFs::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("rename"));
  const auto it = names_.find(from);
  if (it == names_.end()) return Errno(ENOENT, "rename " + from);
  if (dirs_.count(ParentOf(to)) == 0) return Errno(ENOENT, "rename " + to);
  const uint64_t id = it->second;
  names_.erase(it);
  names_[to] = id;
  return Status::Ok();
}

Status CrashFs::Unlink(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("unlink"));
  if (names_.erase(path) == 0) return Errno(ENOENT, "unlink " + path);
  return Status::Ok();
}

Status CrashFs::Mkdir(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("mkdir"));
  if (dirs_.count(path) != 0 || names_.count(path) != 0) {
    return Errno(EEXIST, "mkdir " + path);
  }
  if (dirs_.count(ParentOf(path)) == 0) return Errno(ENOENT, "mkdir " + path);
  dirs_.insert(path);
  return Status::Ok();
}

Status CrashFs::Stat(const std::string& path, FileStat* out) {
  TS_ASSERT(out != nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("stat"));
  if (dirs_.count(path) != 0) {
    *out = FileStat();
    out->is_directory = true;
    return Status::Ok();
  }
  const auto it = names_.find(path);
  if (it == names_.end()) return Errno(ENOENT, "stat " + path);
  const uint64_t size = inodes_.at(it->second).current.size();
  *out = FileStat{size, AlignUp(size), false};
  return Status::Ok();
}

Status CrashFs::Fstat(int fd, FileStat* out) {
  TS_ASSERT(out != nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("fstat"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  const uint64_t size = inodes_.at(h.inode).current.size();
  *out = FileStat{size, AlignUp(size), false};
  return Status::Ok();
}

Status CrashFs::Flock(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_RETURN_IF_ERROR(CheckPower("flock"));
  Handle h;
  TS_RETURN_IF_ERROR(HandleOf(fd, &h));
  Inode& inode = inodes_.at(h.inode);
  if (inode.lock_holder != -1 && inode.lock_holder != fd) {
    return Status(StatusCode::kLocked,
                  "the file is locked by another open handle or process",
                  EWOULDBLOCK);
  }
  inode.lock_holder = fd;
  return Status::Ok();
}

void CrashFs::ArmCrashAtSync(uint64_t n) {
  TS_ASSERT(n >= 1);
  std::lock_guard<std::mutex> lock(mu_);
  TS_ASSERT(!powered_off_);
  crash_at_sync_ = sync_calls_ + n;
}

void CrashFs::PowerOff() {
  std::lock_guard<std::mutex> lock(mu_);
  powered_off_ = true;
}

bool CrashFs::powered_off() const {
  std::lock_guard<std::mutex> lock(mu_);
  return powered_off_;
}

uint64_t CrashFs::sync_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sync_calls_;
}

uint64_t CrashFs::unsynced_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& [id, inode] : inodes_) {
    for (const Pending& p : inode.pending) n += p.is_resize ? 0 : 1;
  }
  return n;
}

Status CrashFs::ReadFile(const std::string& path,
                         std::vector<uint8_t>* out) const {
  TS_ASSERT(out != nullptr);
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = names_.find(path);
  if (it == names_.end()) return Errno(ENOENT, "read " + path);
  *out = inodes_.at(it->second).current;
  return Status::Ok();
}

void CrashFs::ApplyFate(uint64_t inode_id, const Pending& p, uint64_t* rng,
                        std::vector<uint8_t>* image, CrashReport* report) {
  const std::string who = "inode " + std::to_string(inode_id);
  if (p.is_resize) {
    if (NextRandom(rng) % 2 == 0) {
      image->resize(p.new_size, 0);
      report->log += who + " resize " + std::to_string(p.new_size) + " kept\n";
    } else {
      report->resizes_dropped++;
      report->log +=
          who + " resize " + std::to_string(p.new_size) + " dropped\n";
    }
    return;
  }
  const std::string where = " write @" + std::to_string(p.offset) + "+" +
                            std::to_string(p.bytes.size());
  const uint64_t roll = NextRandom(rng) % 100;
  if (roll < 35) {
    WriteInto(image, p.offset, p.bytes.data(), p.bytes.size());
    report->writes_persisted++;
    report->log += who + where + " persisted\n";
  } else if (roll < 60) {
    report->writes_dropped++;
    report->log += who + where + " dropped\n";
  } else if (roll < 90) {
    // Torn: every sector (aligned to the file, not to the write) is kept or
    // lost on its own, as a disk without atomic multi-sector writes does.
    const uint64_t sector = (NextRandom(rng) % 2 == 0) ? 512 : 4096;
    const uint64_t end = p.offset + p.bytes.size();
    std::string kept;
    for (uint64_t s = p.offset; s < end;) {
      const uint64_t next = std::min(end, (s / sector + 1) * sector);
      const bool keep = NextRandom(rng) % 2 == 0;
      if (keep) WriteInto(image, s, p.bytes.data() + (s - p.offset), next - s);
      kept += keep ? '1' : '0';
      s = next;
    }
    report->writes_torn++;
    report->log +=
        who + where + " torn/" + std::to_string(sector) + " " + kept + "\n";
  } else {
    std::vector<uint8_t> junk(p.bytes.size());
    for (auto& b : junk) b = static_cast<uint8_t>(NextRandom(rng));
    WriteInto(image, p.offset, junk.data(), junk.size());
    report->writes_garbage++;
    report->log += who + where + " garbage\n";
  }
}

CrashFs::CrashReport CrashFs::Reboot(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  CrashReport report;
  uint64_t rng = seed;
  std::set<uint64_t> surviving;
  for (const auto& [path, id] : durable_names_) surviving.insert(id);
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    if (surviving.count(it->first) == 0) {
      report.files_forgotten++;
      report.log += "inode " + std::to_string(it->first) + " forgotten\n";
      it = inodes_.erase(it);
      continue;
    }
    Inode& inode = it->second;
    std::vector<uint8_t> image = inode.durable;
    for (const Pending& p : inode.pending) {
      ApplyFate(it->first, p, &rng, &image, &report);
    }
    inode.durable = image;
    inode.current = std::move(image);
    inode.pending.clear();
    inode.lock_holder = -1;
    ++it;
  }
  names_ = durable_names_;
  handles_.clear();
  powered_off_ = false;
  crash_at_sync_ = 0;
  TS_ASSERT(names_.size() == durable_names_.size());
  return report;
}

}  // namespace io
}  // namespace tessera
