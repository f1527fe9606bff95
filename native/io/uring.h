// A minimal io_uring driver on raw system calls (io_uring_setup,
// io_uring_enter, io_uring_register and mmap of the rings); liburing is not
// linked, only <linux/io_uring.h> is used for the structures.
//
// Concurrency: an IoUring is used by one thread (the I/O engine's
// submission thread). The only shared memory is with the kernel: ring
// indexes the kernel writes (SQ head, CQ tail) are read with acquire loads,
// indexes we publish (SQ tail, CQ head) are written with release stores, so
// the SQE/CQE contents are ordered around them.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tessera {
namespace io {

struct UringOp {
  enum Kind : uint8_t { kWritev, kReadv, kFdatasync };
  Kind kind = kWritev;
  int fd = -1;
  uint64_t offset = 0;
  const struct iovec* iov = nullptr;
  int iovcnt = 0;
  // Result: bytes transferred for reads/writes (writes are completed in
  // full or fail), or an error.
  Status status;
  size_t bytes = 0;
};

class IoUring {
 public:
  IoUring() = default;
  ~IoUring();
  IoUring(const IoUring&) = delete;
  IoUring& operator=(const IoUring&) = delete;

  // Whether this kernel and its policy (io_uring_disabled sysctl, seccomp,
  // containers) allow a ring with the operations we need. `detail` says why
  // not.
  static bool Available(std::string* detail);

  Status Init(uint32_t entries);
  uint32_t entries() const { return sq_entries_; }

  // Runs every op, keeping up to entries() in flight, and returns when all
  // have completed; each op's status/bytes are filled in. The return value
  // is non-OK only if the ring itself failed (io_uring_enter error).
  Status Run(std::vector<UringOp*>* ops);

 private:
  bool Prepare(UringOp* op, uint64_t user_data);
  Status Enter(uint32_t wait_nr);
  bool Pop(uint64_t* user_data, int32_t* res);
  void Unmap();

  int ring_fd_ = -1;
  uint32_t sq_entries_ = 0;
  void* sq_ring_ = nullptr;
  size_t sq_ring_bytes_ = 0;
  void* cq_ring_ = nullptr;  // == sq_ring_ with IORING_FEAT_SINGLE_MMAP
  size_t cq_ring_bytes_ = 0;
  void* sqes_ = nullptr;
  size_t sqes_bytes_ = 0;
  uint32_t* sq_head_ = nullptr;
  uint32_t* sq_tail_ = nullptr;
  uint32_t sq_mask_ = 0;
  uint32_t* sq_array_ = nullptr;
  uint32_t* cq_head_ = nullptr;
  uint32_t* cq_tail_ = nullptr;
  uint32_t cq_mask_ = 0;
  void* cqes_ = nullptr;
};

}  // namespace io
}  // namespace tessera
