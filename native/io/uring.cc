#include "io/uring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "core/ts_assert.h"
#include "io/fs.h"

namespace tessera {
namespace io {
namespace {

int SysSetup(uint32_t entries, struct io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}
int SysEnter(int fd, uint32_t to_submit, uint32_t min_complete,
             uint32_t flags) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit,
                                  min_complete, flags, nullptr, 0));
}
int SysRegister(int fd, unsigned opcode, void* arg, unsigned nr_args) {
  return static_cast<int>(
      syscall(__NR_io_uring_register, fd, opcode, arg, nr_args));
}

template <typename T>
T* At(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace

bool IoUring::Available(std::string* detail) {
  TS_ASSERT(detail != nullptr);
  struct io_uring_params p;
  std::memset(&p, 0, sizeof p);
  const int fd = SysSetup(4, &p);
  if (fd < 0) {
    *detail = std::string("io_uring_setup failed: ") + std::strerror(errno);
    return false;
  }
  // Ask which operations this kernel implements.
  constexpr unsigned kOps = 64;
  std::vector<char> mem(sizeof(struct io_uring_probe) +
                        kOps * sizeof(struct io_uring_probe_op));
  auto* probe = reinterpret_cast<struct io_uring_probe*>(mem.data());
  const int r = SysRegister(fd, IORING_REGISTER_PROBE, probe, kOps);
  const int saved = errno;
  ::close(fd);
  if (r < 0) {
    *detail = std::string("io_uring probe failed: ") + std::strerror(saved);
    return false;
  }
  for (unsigned op : {IORING_OP_WRITEV, IORING_OP_READV, IORING_OP_FSYNC}) {
    if (op > probe->last_op ||
        (probe->ops[op].flags & IO_URING_OP_SUPPORTED) == 0) {
      *detail = "io_uring lacks operation " + std::to_string(op);
      return false;
    }
  }
  if ((p.features & IORING_FEAT_SINGLE_MMAP) == 0) {
    // Kernels before 5.4 work too, but we only claim what we test.
    *detail = "io_uring without IORING_FEAT_SINGLE_MMAP (kernel < 5.4)";
    return false;
  }
  *detail = "io_uring available";
  return true;
}

IoUring::~IoUring() {
  Unmap();
  if (ring_fd_ >= 0) ::close(ring_fd_);
}

void IoUring::Unmap() {
  if (sqes_ != nullptr) ::munmap(sqes_, sqes_bytes_);
  if (cq_ring_ != nullptr && cq_ring_ != sq_ring_) {
    ::munmap(cq_ring_, cq_ring_bytes_);
  }
  if (sq_ring_ != nullptr) ::munmap(sq_ring_, sq_ring_bytes_);
  sqes_ = sq_ring_ = cq_ring_ = nullptr;
}

Status IoUring::Init(uint32_t entries) {
  TS_ASSERT(ring_fd_ < 0);
  TS_ASSERT(entries >= 1 && entries <= 4096);
  struct io_uring_params p;
  std::memset(&p, 0, sizeof p);
  ring_fd_ = SysSetup(entries, &p);
  if (ring_fd_ < 0) return Status::FromErrno(errno, "io_uring_setup");
  sq_entries_ = p.sq_entries;
  sq_ring_bytes_ = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  cq_ring_bytes_ = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  const bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_ring_bytes_ > sq_ring_bytes_)
    sq_ring_bytes_ = cq_ring_bytes_;
  sq_ring_ = ::mmap(nullptr, sq_ring_bytes_, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_SQ_RING);
  if (sq_ring_ == MAP_FAILED) {
    sq_ring_ = nullptr;
    return Status::FromErrno(errno, "mmap io_uring SQ ring");
  }
  if (single) {
    cq_ring_ = sq_ring_;
  } else {
    cq_ring_ = ::mmap(nullptr, cq_ring_bytes_, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_CQ_RING);
    if (cq_ring_ == MAP_FAILED) {
      cq_ring_ = nullptr;
      return Status::FromErrno(errno, "mmap io_uring CQ ring");
    }
  }
  sqes_bytes_ = p.sq_entries * sizeof(struct io_uring_sqe);
  sqes_ = ::mmap(nullptr, sqes_bytes_, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, ring_fd_, IORING_OFF_SQES);
  if (sqes_ == MAP_FAILED) {
    sqes_ = nullptr;
    return Status::FromErrno(errno, "mmap io_uring SQEs");
  }
  sq_head_ = At<uint32_t>(sq_ring_, p.sq_off.head);
  sq_tail_ = At<uint32_t>(sq_ring_, p.sq_off.tail);
  sq_mask_ = *At<uint32_t>(sq_ring_, p.sq_off.ring_mask);
  sq_array_ = At<uint32_t>(sq_ring_, p.sq_off.array);
  cq_head_ = At<uint32_t>(cq_ring_, p.cq_off.head);
  cq_tail_ = At<uint32_t>(cq_ring_, p.cq_off.tail);
  cq_mask_ = *At<uint32_t>(cq_ring_, p.cq_off.ring_mask);
  cqes_ = At<void>(cq_ring_, p.cq_off.cqes);
  TS_ASSERT(sq_mask_ + 1 == sq_entries_);
  return Status::Ok();
}

bool IoUring::Prepare(UringOp* op, uint64_t user_data) {
  // We are the only producer: our own tail needs no ordering; the kernel's
  // head is read with acquire so a slot it released is really free.
  const uint32_t tail = __atomic_load_n(sq_tail_, __ATOMIC_RELAXED);
  const uint32_t head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  if (tail - head >= sq_entries_) return false;
  const uint32_t index = tail & sq_mask_;
  auto* sqe = static_cast<struct io_uring_sqe*>(sqes_) + index;
  std::memset(sqe, 0, sizeof *sqe);
  sqe->fd = op->fd;
  sqe->user_data = user_data;
  switch (op->kind) {
    case UringOp::kWritev:
    case UringOp::kReadv:
      sqe->opcode =
          op->kind == UringOp::kWritev ? IORING_OP_WRITEV : IORING_OP_READV;
      sqe->off = op->offset;
      sqe->addr = reinterpret_cast<uint64_t>(op->iov);
      sqe->len = static_cast<uint32_t>(op->iovcnt);
      break;
    case UringOp::kFdatasync:
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fsync_flags = IORING_FSYNC_DATASYNC;
      break;
  }
  sq_array_[index] = index;
  // Release: the SQE contents become visible before the new tail.
  __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
  return true;
}

Status IoUring::Enter(uint32_t wait_nr) {
  // EAGAIN / EBUSY mean the kernel is short of memory for requests or has
  // completions to hand back first: transient, so yield and retry, a bounded
  // number of times (a persistent failure must surface, not spin forever).
  constexpr int kBusyRetriesMax = 10000;
  for (int busy = 0;;) {
    const uint32_t tail = __atomic_load_n(sq_tail_, __ATOMIC_RELAXED);
    const uint32_t head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
    const uint32_t to_submit = tail - head;
    const int r = SysEnter(ring_fd_, to_submit, wait_nr,
                           wait_nr > 0 ? IORING_ENTER_GETEVENTS : 0);
    if (r >= 0) return Status::Ok();
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EBUSY) && ++busy < kBusyRetriesMax) {
      sched_yield();
      continue;
    }
    return Status::FromErrno(errno, "io_uring_enter");
  }
}

bool IoUring::Pop(uint64_t* user_data, int32_t* res) {
  const uint32_t head = __atomic_load_n(cq_head_, __ATOMIC_RELAXED);
  // Acquire: the CQE contents written by the kernel before its tail.
  const uint32_t tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
  if (head == tail) return false;
  const auto* cqe =
      static_cast<struct io_uring_cqe*>(cqes_) + (head & cq_mask_);
  *user_data = cqe->user_data;
  *res = cqe->res;
  // Release: we are done reading the CQE before the kernel may reuse it.
  __atomic_store_n(cq_head_, head + 1, __ATOMIC_RELEASE);
  return true;
}

namespace {

// Finishes a short transfer synchronously (rare: O_DIRECT writes to a
// regular file complete in full unless an error intervenes).
Status FinishShortTransfer(UringOp* op, size_t done) {
  TS_ASSERT(op->kind != UringOp::kFdatasync);
  std::vector<struct iovec> rest;
  size_t skip = done;
  for (int i = 0; i < op->iovcnt; i++) {
    struct iovec v = op->iov[i];
    const size_t s = std::min(skip, v.iov_len);
    skip -= s;
    v.iov_base = static_cast<char*>(v.iov_base) + s;
    v.iov_len -= s;
    if (v.iov_len > 0) rest.push_back(v);
  }
  PosixFs fs;
  if (op->kind == UringOp::kWritev) {
    TS_RETURN_IF_ERROR(fs.Pwritev(
        op->fd, rest.data(), static_cast<int>(rest.size()), op->offset + done));
    op->bytes = done + IovBytes(rest.data(), static_cast<int>(rest.size()));
    return Status::Ok();
  }
  size_t more = 0;
  TS_RETURN_IF_ERROR(fs.Preadv(op->fd, rest.data(),
                               static_cast<int>(rest.size()), op->offset + done,
                               &more));
  op->bytes = done + more;
  return Status::Ok();
}

}  // namespace

Status IoUring::Run(std::vector<UringOp*>* ops) {
  TS_ASSERT(ring_fd_ >= 0);
  TS_ASSERT(ops != nullptr);
  size_t next = 0, in_flight = 0, done = 0;
  while (done < ops->size()) {
    while (next < ops->size() && Prepare((*ops)[next], next)) {
      next++;
      in_flight++;
    }
    TS_RETURN_IF_ERROR(Enter(in_flight > 0 ? 1 : 0));
    uint64_t index;
    int32_t res;
    while (Pop(&index, &res)) {
      TS_ASSERT(index < ops->size() && in_flight > 0);
      UringOp* op = (*ops)[index];
      in_flight--;
      done++;
      if (res < 0) {
        const char* what = op->kind == UringOp::kWritev  ? "io_uring writev"
                           : op->kind == UringOp::kReadv ? "io_uring readv"
                                                         : "io_uring fdatasync";
        op->status = Status::FromErrno(-res, what);
        continue;
      }
      op->status = Status::Ok();
      op->bytes = static_cast<size_t>(res);
      if (op->kind != UringOp::kFdatasync &&
          op->bytes < IovBytes(op->iov, op->iovcnt) &&
          !(op->kind == UringOp::kReadv && res == 0)) {
        op->status = FinishShortTransfer(op, op->bytes);
      }
    }
  }
  TS_ASSERT(in_flight == 0 && next == ops->size());
  return Status::Ok();
}

}  // namespace io
}  // namespace tessera
