#include "io/io_engine.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <utility>

#include "core/ts_assert.h"

namespace tessera {
namespace io {

IoEngine::~IoEngine() { Stop(); }

Status IoEngine::Start(const IoEngineOptions& options) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    TS_ASSERT_MSG(!running_ && !stopping_, "IoEngine::Start called twice");
  }
  if (options.files_max == 0 || options.queue_depth_max == 0 ||
      options.ops_per_request_max == 0 || options.uring_entries == 0 ||
      options.uring_entries > 4096) {
    return Status(StatusCode::kOutOfRange,
                  "files_max, queue_depth_max and ops_per_request_max must be "
                  "positive and uring_entries in 1..4096");
  }
  if (options.pwrite_threads > 64) {
    return Status(StatusCode::kOutOfRange,
                  "pwrite_threads must be in 0..64, got " +
                      std::to_string(options.pwrite_threads));
  }
  if (options.group_commit_bytes_max < 4096) {
    return Status(StatusCode::kOutOfRange,
                  "group_commit_bytes_max must be at least 4096, got " +
                      std::to_string(options.group_commit_bytes_max));
  }
  options_ = options;
  fs_ = options.fs != nullptr ? options.fs : DefaultFs();
  const bool real_fs = fs_ == DefaultFs();
  if (options.backend == IoBackend::kUring && !real_fs) {
    return Status(StatusCode::kInvalidArgument,
                  "the io_uring backend works on the real file system only");
  }
  if (options.backend != IoBackend::kPwrite && real_fs) {
    std::string detail;
    if (IoUring::Available(&detail)) {
      uring_ = std::make_unique<IoUring>();
      TS_RETURN_IF_ERROR(uring_->Init(options.uring_entries));
      use_uring_ = true;
    } else if (options.backend == IoBackend::kUring) {
      return Status(StatusCode::kUnsupported, detail);
    }
  }
  if (!use_uring_) TS_RETURN_IF_ERROR(pool_.Start(options.pwrite_threads));
  files_.resize(options.files_max);
  slot_of_file_.assign(options.files_max, -1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = true;
  }
  try {
    thread_ = std::thread(&IoEngine::Loop, this);
  } catch (const std::system_error& e) {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    return Status(StatusCode::kInternal,
                  std::string("cannot start the I/O thread: ") + e.what());
  }
  return Status::Ok();
}

const char* IoEngine::backend_name() const {
  return use_uring_ ? "io_uring" : "pwrite";
}

Status IoEngine::AddFile(int fd, const std::string& name, uint32_t* file_id) {
  TS_ASSERT(file_id != nullptr);
  TS_ASSERT(fd >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  if (!running_)
    return Status(StatusCode::kClosed, "the I/O engine is stopped");
  if (file_count_ >= files_.size()) {
    return Status(StatusCode::kOutOfRange,
                  "the I/O engine already has files_max = " +
                      std::to_string(files_.size()) + " files");
  }
  // Written before file_count_ grows, under mu_: the engine thread sees the
  // slot through the queue's mutex before any request can name it.
  files_[file_count_].fd = fd;
  files_[file_count_].name = name;
  *file_id = file_count_++;
  return Status::Ok();
}

Status IoEngine::Validate(const std::vector<IoOp>& ops) const {
  if (ops.empty() || ops.size() > options_.ops_per_request_max) {
    return Status(StatusCode::kOutOfRange,
                  "a request must have 1.." +
                      std::to_string(options_.ops_per_request_max) +
                      " ops, got " + std::to_string(ops.size()));
  }
  for (const IoOp& op : ops) {
    if (op.file >= file_count_) {
      return Status(StatusCode::kInvalidArgument,
                    "unknown file id " + std::to_string(op.file));
    }
    if (op.data == nullptr || op.len == 0) {
      return Status(StatusCode::kInvalidArgument,
                    "an op needs a buffer and a positive length");
    }
  }
  return Status::Ok();
}

Status IoEngine::Enqueue(Request request, bool wait, bool* accepted) {
  TS_ASSERT(accepted != nullptr);
  std::unique_lock<std::mutex> lock(mu_);
  *accepted = false;
  if (!running_ || stopping_) {
    return Status(StatusCode::kClosed, "the I/O engine is stopped");
  }
  TS_RETURN_IF_ERROR(Validate(request.ops));
  if (queue_.size() >= options_.queue_depth_max) {
    if (!wait) return Status::Ok();
    if (std::this_thread::get_id() == engine_thread_id_.load()) {
      return Status(StatusCode::kInternal,
                    "Submit from an I/O completion callback on a full queue "
                    "would deadlock; use TrySubmit");
    }
    queue_not_full_.wait(lock, [this] {
      return queue_.size() < options_.queue_depth_max || stopping_;
    });
    if (stopping_) {
      return Status(StatusCode::kClosed, "the I/O engine is stopped");
    }
  }
  queue_.push_back(std::move(request));
  TS_ASSERT(queue_.size() <= options_.queue_depth_max);
  *accepted = true;
  lock.unlock();
  queue_not_empty_.notify_one();
  return Status::Ok();
}

Status IoEngine::SubmitWrite(std::vector<IoOp> ops, WriteDone done) {
  TS_ASSERT(done != nullptr);
  Request r;
  r.is_write = true;
  r.ops = std::move(ops);
  r.write_done = std::move(done);
  bool accepted = false;
  return Enqueue(std::move(r), true, &accepted);
}

Status IoEngine::SubmitWrites(std::vector<std::vector<IoOp>> requests,
                              std::vector<WriteDone> dones) {
  TS_ASSERT(requests.size() == dones.size());
  if (requests.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(mu_);
  if (!running_ || stopping_) {
    return Status(StatusCode::kClosed, "the I/O engine is stopped");
  }
  if (requests.size() > options_.queue_depth_max) {
    return Status(StatusCode::kOutOfRange,
                  "more requests than queue_depth_max in one batch");
  }
  for (const auto& ops : requests) TS_RETURN_IF_ERROR(Validate(ops));
  if (queue_.size() + requests.size() > options_.queue_depth_max) {
    if (std::this_thread::get_id() == engine_thread_id_.load()) {
      return Status(StatusCode::kInternal,
                    "Submit from an I/O completion callback on a full queue "
                    "would deadlock; use TrySubmit");
    }
    queue_not_full_.wait(lock, [&] {
      return queue_.size() + requests.size() <= options_.queue_depth_max ||
             stopping_;
    });
    if (stopping_) {
      return Status(StatusCode::kClosed, "the I/O engine is stopped");
    }
  }
  for (size_t i = 0; i < requests.size(); i++) {
    TS_ASSERT(dones[i] != nullptr);
    Request r;
    r.is_write = true;
    r.ops = std::move(requests[i]);
    r.write_done = std::move(dones[i]);
    queue_.push_back(std::move(r));
  }
  TS_ASSERT(queue_.size() <= options_.queue_depth_max);
  lock.unlock();
  queue_not_empty_.notify_one();
  return Status::Ok();
}

Status IoEngine::SubmitRead(std::vector<IoOp> ops, ReadDone done) {
  TS_ASSERT(done != nullptr);
  Request r;
  r.ops = std::move(ops);
  r.read_done = std::move(done);
  bool accepted = false;
  return Enqueue(std::move(r), true, &accepted);
}

Status IoEngine::TrySubmitWrite(std::vector<IoOp> ops, WriteDone done,
                                bool* accepted) {
  TS_ASSERT(done != nullptr);
  Request r;
  r.is_write = true;
  r.ops = std::move(ops);
  r.write_done = std::move(done);
  return Enqueue(std::move(r), false, accepted);
}

Status IoEngine::TrySubmitRead(std::vector<IoOp> ops, ReadDone done,
                               bool* accepted) {
  TS_ASSERT(done != nullptr);
  Request r;
  r.ops = std::move(ops);
  r.read_done = std::move(done);
  return Enqueue(std::move(r), false, accepted);
}

void IoEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    TS_ASSERT_MSG(std::this_thread::get_id() != engine_thread_id_.load(),
                  "IoEngine::Stop called from a completion callback");
    stopping_ = true;
  }
  queue_not_empty_.notify_all();
  queue_not_full_.notify_all();
  thread_.join();
  pool_.Stop();
  std::lock_guard<std::mutex> lock(mu_);
  TS_ASSERT(queue_.empty());
  running_ = false;
}

Status IoEngine::FileError(uint32_t file_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  TS_ASSERT(file_id < file_count_);
  return files_[file_id].sealed ? files_[file_id].error : Status::Ok();
}

IoEngineStats IoEngine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void IoEngine::Seal(uint32_t file, const Status& error) {
  TS_ASSERT(!error.ok());
  std::lock_guard<std::mutex> lock(mu_);
  FileSlot& slot = files_[file];
  if (slot.sealed) return;  // keep the first error
  slot.sealed = true;
  slot.error = Status(error.code(),
                      slot.name +
                          " sealed after a failed write or "
                          "fdatasync: " +
                          error.message(),
                      error.sys_errno());
}

void IoEngine::Loop() {
  engine_thread_id_.store(std::this_thread::get_id());
  std::vector<Request> group;
  group.reserve(options_.queue_depth_max);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      queue_not_empty_.wait(lock,
                            [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) break;  // stopping and drained
      TakeGroup(&lock, &group);
      file_count_snapshot_ = file_count_;
    }
    queue_not_full_.notify_all();
    Execute(&group);
    group.clear();
  }
}

void IoEngine::TakeGroup(std::unique_lock<std::mutex>* lock,
                         std::vector<Request>* group) {
  TS_ASSERT(lock->owns_lock() && !queue_.empty());
  uint64_t bytes = 0;
  bool has_write = false;
  std::chrono::steady_clock::time_point deadline;
  auto take_queued = [&] {
    while (!queue_.empty() && bytes < options_.group_commit_bytes_max) {
      Request& r = queue_.front();
      if (r.is_write) {
        for (const IoOp& op : r.ops) bytes += op.len;
        if (!has_write) {
          has_write = true;
          deadline = std::chrono::steady_clock::now() +
                     std::chrono::microseconds(options_.group_commit_delay_us);
        }
      }
      group->push_back(std::move(r));
      queue_.pop_front();
    }
  };
  take_queued();
  while (has_write && options_.group_commit_delay_us > 0 &&
         bytes < options_.group_commit_bytes_max && !stopping_) {
    const bool more = queue_not_empty_.wait_until(
        *lock, deadline, [this] { return !queue_.empty() || stopping_; });
    if (!more || queue_.empty()) break;
    take_queued();
  }
  TS_ASSERT(!group->empty());
}

void IoEngine::Execute(std::vector<Request>* group) {
  // Writes to a file sealed earlier fail without touching it.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Request& r : *group) {
      if (!r.is_write) continue;
      for (const IoOp& op : r.ops) {
        if (files_[op.file].sealed) {
          r.status = files_[op.file].error;
          break;
        }
      }
    }
  }
  RunTransfers(group);
  SyncFiles(group);
  IoEngineStats delta;
  delta.groups = 1;
  for (Request& r : *group) {
    if (r.is_write) {
      delta.write_requests++;
      if (r.status.ok()) delta.bytes_written += r.bytes;
    } else {
      delta.read_requests++;
      delta.bytes_read += r.bytes;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.groups += delta.groups;
    stats_.write_requests += delta.write_requests;
    stats_.read_requests += delta.read_requests;
    stats_.bytes_written += delta.bytes_written;
    stats_.bytes_read += delta.bytes_read;
  }
  for (Request& r : *group) {
    if (r.is_write) {
      r.write_done(r.status);
    } else {
      r.read_done(r.status, r.bytes);
    }
  }
}

void IoEngine::RunTransfers(std::vector<Request>* group) {
  if (!use_uring_) {
    RunTransfersOnPool(group);
    return;
  }
  size_t count = 0;
  for (const Request& r : *group) count += r.status.ok() ? r.ops.size() : 0;
  std::vector<struct iovec> iovs(count);
  std::vector<UringOp> uops(count);
  std::vector<UringOp*> ptrs(count);
  size_t i = 0;
  for (const Request& r : *group) {
    if (!r.status.ok()) continue;
    for (const IoOp& op : r.ops) {
      iovs[i] = {op.data, op.len};
      uops[i].kind = r.is_write ? UringOp::kWritev : UringOp::kReadv;
      uops[i].fd = files_[op.file].fd;
      uops[i].offset = op.offset;
      uops[i].iov = &iovs[i];
      uops[i].iovcnt = 1;
      ptrs[i] = &uops[i];
      i++;
    }
  }
  TS_ASSERT(i == count);
  const Status ring = uring_->Run(&ptrs);
  i = 0;
  for (Request& r : *group) {
    if (!r.status.ok()) continue;
    for (const IoOp& op : r.ops) {
      const UringOp& u = uops[i++];
      const Status s = ring.ok() ? u.status : ring;
      if (!s.ok()) {
        if (r.status.ok()) r.status = s;
        if (r.is_write) Seal(op.file, s);
        continue;
      }
      r.bytes += u.bytes;
    }
  }
  TS_ASSERT(i == count);
}

void IoEngine::RunTransfersOnPool(std::vector<Request>* group) {
  // One task per file for writes (a file's writes stay in FIFO order), one
  // task per read (reads have no order among themselves, and a blocking
  // pread holds its thread for a device round trip). Each task writes only
  // its own OpResult slots, so tasks share nothing.
  struct OpResult {
    Status status;
    size_t bytes = 0;
  };
  std::vector<std::vector<OpResult>> results(group->size());
  std::vector<uint32_t> task_file;
  std::vector<std::vector<std::pair<size_t, size_t>>> tasks;
  // slot_of_file_ is all -1 between groups (allocated at Start, files_max
  // entries): no per-group allocation proportional to the file count.
  std::vector<int32_t>& slot_of = slot_of_file_;
  for (size_t ri = 0; ri < group->size(); ri++) {
    const Request& r = (*group)[ri];
    results[ri].resize(r.ops.size());
    if (!r.status.ok()) continue;
    for (size_t oi = 0; oi < r.ops.size(); oi++) {
      const uint32_t file = r.ops[oi].file;
      TS_ASSERT(file < file_count_snapshot_ && file < slot_of.size());
      if (!r.is_write) {
        task_file.push_back(file);
        tasks.push_back({{ri, oi}});
        continue;
      }
      if (slot_of[file] < 0) {
        slot_of[file] = static_cast<int32_t>(task_file.size());
        task_file.push_back(file);
        tasks.emplace_back();
      }
      tasks[slot_of[file]].push_back({ri, oi});
    }
  }
  for (const uint32_t file : task_file) slot_of[file] = -1;
  pool_.Run(task_file.size(), [&](size_t f) {
    const int fd = files_[task_file[f]].fd;
    Status write_error;  // after a failed write, later writes are not tried
    for (const auto& [ri, oi] : tasks[f]) {
      const Request& r = (*group)[ri];
      const IoOp& op = r.ops[oi];
      OpResult& out = results[ri][oi];
      if (r.is_write) {
        out.status = write_error.ok()
                         ? fs_->Pwrite(fd, op.data, op.len, op.offset)
                         : write_error;
        if (!out.status.ok()) write_error = out.status;
        if (out.status.ok()) out.bytes = op.len;
      } else {
        out.status = fs_->Pread(fd, op.data, op.len, op.offset, &out.bytes);
      }
    }
  });
  for (size_t ri = 0; ri < group->size(); ri++) {
    Request& r = (*group)[ri];
    if (!r.status.ok()) continue;
    for (size_t oi = 0; oi < r.ops.size(); oi++) {
      const OpResult& res = results[ri][oi];
      if (!res.status.ok()) {
        if (r.status.ok()) r.status = res.status;
        if (r.is_write) Seal(r.ops[oi].file, res.status);
        continue;
      }
      r.bytes += res.bytes;
    }
  }
}

void IoEngine::SyncFiles(std::vector<Request>* group) {
  // Files written by requests still OK, unless sealed during the transfers
  // (then those requests fail: a sealed file is never synced again).
  std::vector<uint32_t> to_sync;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Request& r : *group) {
      if (!r.is_write || !r.status.ok()) continue;
      for (const IoOp& op : r.ops) {
        if (files_[op.file].sealed) {
          r.status = files_[op.file].error;
          break;
        }
      }
      if (!r.status.ok()) continue;
      for (const IoOp& op : r.ops) to_sync.push_back(op.file);
    }
  }
  std::sort(to_sync.begin(), to_sync.end());
  to_sync.erase(std::unique(to_sync.begin(), to_sync.end()), to_sync.end());
  if (to_sync.empty()) return;
  std::vector<Status> results(to_sync.size());
  if (use_uring_) {
    std::vector<UringOp> uops(to_sync.size());
    std::vector<UringOp*> ptrs(to_sync.size());
    for (size_t i = 0; i < to_sync.size(); i++) {
      uops[i].kind = UringOp::kFdatasync;
      uops[i].fd = files_[to_sync[i]].fd;
      ptrs[i] = &uops[i];
    }
    const Status ring = uring_->Run(&ptrs);
    for (size_t i = 0; i < to_sync.size(); i++) {
      results[i] = ring.ok() ? uops[i].status : ring;
    }
  } else {
    pool_.Run(to_sync.size(), [&](size_t i) {
      results[i] = fs_->Fdatasync(files_[to_sync[i]].fd);
    });
  }
  for (size_t i = 0; i < to_sync.size(); i++) {
    if (!results[i].ok()) Seal(to_sync[i], results[i]);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.fdatasyncs += to_sync.size();
  for (Request& r : *group) {
    if (!r.is_write || !r.status.ok()) continue;
    for (const IoOp& op : r.ops) {
      if (files_[op.file].sealed) {
        r.status = files_[op.file].error;
        break;
      }
    }
  }
}

}  // namespace io
}  // namespace tessera
