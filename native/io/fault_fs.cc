#include "io/fault_fs.h"

#include "core/ts_assert.h"

namespace tessera {
namespace io {

const char* FaultOpName(FaultOp op) {
  switch (op) {
    case FaultOp::kOpen:
      return "open";
    case FaultOp::kPwrite:
      return "pwrite";
    case FaultOp::kPread:
      return "pread";
    case FaultOp::kFdatasync:
      return "fdatasync";
    case FaultOp::kFsyncDir:
      return "fsync-dir";
    case FaultOp::kFallocate:
      return "fallocate";
    case FaultOp::kFtruncate:
      return "ftruncate";
    case FaultOp::kRename:
      return "rename";
    case FaultOp::kUnlink:
      return "unlink";
  }
  return "unknown";
}

FaultFs::FaultFs(Fs* base) : base_(base) { TS_ASSERT(base != nullptr); }

void FaultFs::AddRule(const FaultRule& rule) {
  TS_ASSERT(rule.nth >= 1);
  TS_ASSERT(rule.error > 0);
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back(ActiveRule{rule, 0});
}

void FaultFs::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

uint64_t FaultFs::injected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_;
}

uint64_t FaultFs::calls(FaultOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[static_cast<int>(op)];
}

std::string FaultFs::PathOf(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = paths_.find(fd);
  return it == paths_.end() ? std::string() : it->second;
}

Status FaultFs::Check(FaultOp op, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_[static_cast<int>(op)]++;
  int error = 0;
  for (ActiveRule& r : rules_) {
    if (r.rule.op != op) continue;
    if (!r.rule.path_substring.empty() &&
        path.find(r.rule.path_substring) == std::string::npos) {
      continue;
    }
    r.matched++;
    const bool fire =
        r.rule.persistent ? r.matched >= r.rule.nth : r.matched == r.rule.nth;
    if (fire && error == 0) error = r.rule.error;
  }
  if (error == 0) return Status::Ok();
  injected_++;
  return Status::FromErrno(error, std::string("injected ") + FaultOpName(op) +
                                      " failure on " + path);
}

Status FaultFs::Open(const std::string& path, int flags, int* fd) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kOpen, path));
  TS_RETURN_IF_ERROR(base_->Open(path, flags, fd));
  std::lock_guard<std::mutex> lock(mu_);
  paths_[*fd] = path;
  return Status::Ok();
}

Status FaultFs::Close(int fd) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.erase(fd);
  }
  return base_->Close(fd);
}

Status FaultFs::Pwritev(int fd, const struct iovec* iov, int iovcnt,
                        uint64_t offset) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kPwrite, PathOf(fd)));
  return base_->Pwritev(fd, iov, iovcnt, offset);
}

Status FaultFs::Preadv(int fd, const struct iovec* iov, int iovcnt,
                       uint64_t offset, size_t* bytes_read) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kPread, PathOf(fd)));
  return base_->Preadv(fd, iov, iovcnt, offset, bytes_read);
}

Status FaultFs::Fdatasync(int fd) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kFdatasync, PathOf(fd)));
  return base_->Fdatasync(fd);
}

Status FaultFs::FsyncDir(const std::string& dir) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kFsyncDir, dir));
  return base_->FsyncDir(dir);
}

Status FaultFs::Fallocate(int fd, uint64_t offset, uint64_t len) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kFallocate, PathOf(fd)));
  return base_->Fallocate(fd, offset, len);
}

Status FaultFs::Ftruncate(int fd, uint64_t size_bytes) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kFtruncate, PathOf(fd)));
  return base_->Ftruncate(fd, size_bytes);
}

Status FaultFs::Rename(const std::string& from, const std::string& to) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kRename, from));
  return base_->Rename(from, to);
}

Status FaultFs::Unlink(const std::string& path) {
  TS_RETURN_IF_ERROR(Check(FaultOp::kUnlink, path));
  return base_->Unlink(path);
}

Status FaultFs::Mkdir(const std::string& path) { return base_->Mkdir(path); }

Status FaultFs::Stat(const std::string& path, FileStat* out) {
  return base_->Stat(path, out);
}

Status FaultFs::Fstat(int fd, FileStat* out) { return base_->Fstat(fd, out); }

Status FaultFs::Flock(int fd) { return base_->Flock(fd); }

}  // namespace io
}  // namespace tessera
