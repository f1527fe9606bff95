// IoEngine: the I/O layer under the object engine. One dedicated submission
// thread (not libuv's pool) takes batches of aligned reads and writes over
// several drive files and commits writes in groups: writes that arrive
// together share one fdatasync per file, and a write's completion fires
// only after that fdatasync returned 0.
//
// Group commit. The thread takes queued requests in FIFO order until the
// group holds group_commit_bytes_max bytes of writes; if the queue runs dry
// first and group_commit_delay_us > 0, it waits up to that long (from the
// first write of the group) for more. With the default delay of 0, groups
// form naturally: whatever queued while the previous group was syncing is
// the next group, so under load one fdatasync serves many writes, and a
// lone write pays no added latency. Then: all transfers of the group run
// (io_uring: all in flight at once; pwrite backend: on this thread and
// pwrite_threads helpers, one task per file for its writes in FIFO order
// and one task per read), then one fdatasync per file written (all files
// in parallel on either backend), then the callbacks.
//
// Failures (../shared/TESTING.md rule 2). A failed write or fdatasync seals
// its file for good: every request of the group that wrote to it gets the
// error, every later write to it fails at once with the same error, and the
// file is never fdatasync'd again by this engine, so a failed sync can
// never be followed by a successful one that is then trusted. Reads of a
// sealed file still run (the caller's checksums decide what to trust).
//
// Concurrency contract.
// - AddFile, SubmitWrite/SubmitRead, TrySubmit*, FileError, stats and Stop
//   may be called from any thread. Submit* block while the queue holds
//   queue_depth_max requests (back-pressure); TrySubmit* never block.
// - Callbacks run on the submission thread, in completion order; they must
//   be short (post to another thread / a thread-safe function) and must not
//   call Submit* (TrySubmit* is allowed) or Stop.
// - Buffers named by an op are borrowed until its callback runs. Reads and
//   writes of the same bytes that are in flight together are unordered.
// - Stop drains: every request queued before Stop completes (callbacks
//   run), then the thread exits; later submissions fail with kClosed. The
//   engine does not own the file descriptors.
// - Memory is bounded: the queue by queue_depth_max, a request by
//   ops_per_request_max, the file table by files_max (allocated at Start).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "io/fs.h"
#include "io/task_pool.h"
#include "io/uring.h"

namespace tessera {
namespace io {

enum class IoBackend {
  kAuto,    // io_uring when available and fs is the real file system
  kUring,   // io_uring or fail Start with kUnsupported
  kPwrite,  // pwritev/preadv/fdatasync through the Fs on the engine thread
};

struct IoEngineOptions {
  Fs* fs = nullptr;  // nullptr: DefaultFs(); anything else forces kPwrite
  IoBackend backend = IoBackend::kAuto;
  uint32_t group_commit_delay_us = 0;
  uint64_t group_commit_bytes_max = 16ull << 20;
  uint32_t queue_depth_max = 4096;  // queued requests
  uint32_t ops_per_request_max = 1024;
  uint32_t files_max = 1024;
  uint32_t uring_entries = 256;
  // pwrite backend: threads besides the engine thread that drive different
  // files at once (each blocking call holds a thread for a device round
  // trip, so k+m drives want k+m calls in flight). 0: one file at a time.
  uint32_t pwrite_threads = 7;
};

// One transfer. For files opened with O_DIRECT, data, offset and len must
// be multiples of 4096.
struct IoOp {
  uint32_t file = 0;  // from AddFile
  uint64_t offset = 0;
  void* data = nullptr;
  size_t len = 0;
};

struct IoEngineStats {
  uint64_t groups = 0;          // commit groups executed
  uint64_t fdatasyncs = 0;      // fdatasync calls issued
  uint64_t write_requests = 0;  // completed (ok or not)
  uint64_t read_requests = 0;
  uint64_t bytes_written = 0;
  uint64_t bytes_read = 0;
};

class IoEngine {
 public:
  using WriteDone = std::function<void(const Status&)>;
  // total_bytes < the sum of lens only when a read reached end of file.
  using ReadDone = std::function<void(const Status&, size_t total_bytes)>;

  IoEngine() = default;
  ~IoEngine();  // Stop()s if running
  IoEngine(const IoEngine&) = delete;
  IoEngine& operator=(const IoEngine&) = delete;

  Status Start(const IoEngineOptions& options);
  // Registers an open descriptor (of options.fs); `name` is for messages.
  Status AddFile(int fd, const std::string& name, uint32_t* file_id);

  Status SubmitWrite(std::vector<IoOp> ops, WriteDone done);
  // Several independent write requests queued together (so they share a
  // commit group): each succeeds or fails on its own, e.g. one per drive of
  // a commit group written with a quorum. Blocks like SubmitWrite; all or
  // none are queued.
  Status SubmitWrites(std::vector<std::vector<IoOp>> requests,
                      std::vector<WriteDone> dones);
  Status SubmitRead(std::vector<IoOp> ops, ReadDone done);
  Status TrySubmitWrite(std::vector<IoOp> ops, WriteDone done, bool* accepted);
  Status TrySubmitRead(std::vector<IoOp> ops, ReadDone done, bool* accepted);
  void Stop();

  // OK while the file is healthy; the sealing error after a failure.
  Status FileError(uint32_t file_id) const;
  IoEngineStats stats() const;
  const char* backend_name() const;  // "io_uring" | "pwrite"

 private:
  struct Request {
    bool is_write = false;
    std::vector<IoOp> ops;
    WriteDone write_done;
    ReadDone read_done;
    Status status;
    size_t bytes = 0;
  };
  struct FileSlot {
    int fd = -1;
    std::string name;
    bool sealed = false;  // guarded by mu_
    Status error;         // guarded by mu_
  };

  Status Validate(const std::vector<IoOp>& ops) const;
  Status Enqueue(Request request, bool wait, bool* accepted);
  void Loop();
  void TakeGroup(std::unique_lock<std::mutex>* lock,
                 std::vector<Request>* group);
  void Execute(std::vector<Request>* group);
  void RunTransfers(std::vector<Request>* group);
  void RunTransfersOnPool(std::vector<Request>* group);
  void SyncFiles(std::vector<Request>* group);
  void Seal(uint32_t file, const Status& error);

  IoEngineOptions options_;
  Fs* fs_ = nullptr;
  bool use_uring_ = false;
  std::unique_ptr<IoUring> uring_;  // engine thread only
  TaskPool pool_;                   // pwrite backend; engine thread only
  std::vector<int32_t>
      slot_of_file_;  // engine thread only; see RunTransfersOnPool
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable queue_not_empty_;
  std::condition_variable queue_not_full_;
  std::deque<Request> queue_;         // guarded by mu_
  std::vector<FileSlot> files_;       // slots; size() fixed at Start
  uint32_t file_count_ = 0;           // guarded by mu_
  uint32_t file_count_snapshot_ = 0;  // engine thread: file_count_ at take
  bool running_ = false;              // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  IoEngineStats stats_;               // guarded by mu_
  std::atomic<std::thread::id> engine_thread_id_{};
};

}  // namespace io
}  // namespace tessera
