// Epoch-based reclamation (EBR) for the native index.
//
// Who may read: any thread (libuv pool, native I/O thread, worker_threads),
// inside a ReadGuard. A guard costs one plain (relaxed) store and a compiler
// barrier on entry and one release store on exit when the kernel offers
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) (else a seq_cst store on
// entry); it never blocks and never waits for a writer.
// Who may write: the owner of a RetireList (the index's single writer, which
// holds the index's writer mutex) unlinks memory and then retires it.
// Reclamation: memory retired while the global epoch is e is released only
// once the global epoch has reached e + 2. The epoch advances from g to g + 1
// only when every pinned thread announced g, so a reader that could still hold
// a pointer unlinked at epoch e (it pinned at e or earlier) blocks the second
// advance until it leaves its guard.
//
// Memory-order argument (also in docs/index.md): the reader's pin store and
// its loads of shared ids/pointers are seq_cst; the writer's unlink stores and
// its loads of the announcements are seq_cst. This is the store-load (Dekker)
// pattern: either the writer's scan sees the reader pinned, or the reader's
// loads see the unlink. On x86-64 and arm64 a seq_cst load is the same
// instruction as an acquire load, so readers pay nothing for it.
// Asymmetric variant (the default when available): the reader's pin store is
// relaxed, followed by a compiler barrier, and the writer's scan is preceded
// by membarrier(PRIVATE_EXPEDITED), a full fence executed on every CPU that
// runs a thread of this process. The heavy fence stands in for the reader's
// store-load fence: every reader thread passes a full barrier at some point
// of its program during the call; if its pin store precedes that point, the
// scan (after the call) sees it; if it follows, the reader's later loads see
// every unlink made before the call (the urcu-membarrier / folly
// asymmetric-fence argument).
// TESSERA_INDEX_NO_MEMBARRIER=1 forces the symmetric (seq_cst) variant.
//
// One process-wide domain serves every Index: a thread has one participant
// record, reused after the thread exits.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace tessera {
namespace index {

namespace epoch_detail {

// A participant's `state` is 0 when the thread is outside every guard, and
// (epoch << 1) | 1 while pinned at `epoch`. One record per thread that ever
// read, reused after the thread exits; records are never freed.
struct alignas(64) Participant {
  std::atomic<uint64_t> state{0};
  std::atomic<bool> in_use{true};
  Participant* next = nullptr;  // immutable once the record is published
  uint32_t depth = 0;           // owner thread only
  bool asymmetric = false;      // owner thread only: MembarrierAvailable()
};

// Global epoch; starts at 2 so that "epoch + 2 <= global" never underflows.
extern std::atomic<uint64_t> g_epoch;
// The calling thread's record, or null before its first guard (and after
// its exit). `__thread` (not `thread_local`): constant-initialized, so the
// guard's fast path is one TLS load with no initialization-wrapper call.
extern __thread Participant* t_self;
// First guard on this thread: acquires its record.
Participant* SelfSlow();

inline Participant* Self() {
  Participant* p = t_self;
  return __builtin_expect(p != nullptr, 1) ? p : SelfSlow();
}

}  // namespace epoch_detail

// Pins the calling thread for its lifetime. Nestable; not movable. Inline:
// a guard is on every lookup, and a call pair here was a tenth of a cached
// Get's instructions (docs/index.md, "Point lookups").
class ReadGuard {
 public:
  ReadGuard() {
    epoch_detail::Participant* p = epoch_detail::Self();
    if (p->depth++ == 0) {
      // seq_cst: part of the global order with the writer's scan.
      const uint64_t e = epoch_detail::g_epoch.load(std::memory_order_seq_cst);
      if (__builtin_expect(p->asymmetric, 1)) {
        // relaxed + compiler barrier: the writer's membarrier() before its
        // scan supplies the store-load fence (epoch.cc, MembarrierAvailable):
        // either the scan sees this announcement, or this thread's later
        // loads of shared ids see every unlink made before the scan.
        p->state.store((e << 1) | 1, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
      } else {
        // seq_cst: the announcement must precede this thread's later loads
        // of shared ids in the single total order (store-load ordering).
        p->state.store((e << 1) | 1, std::memory_order_seq_cst);
      }
    }
  }
  ~ReadGuard() {
    epoch_detail::Participant* p = epoch_detail::t_self;
    if (--p->depth == 0) {
      // release: every read made under the guard happens-before a writer
      // that observes this store and then frees memory.
      p->state.store(0, std::memory_order_release);
    }
  }
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;
};

// The current global epoch (seq_cst load).
uint64_t CurrentEpoch();

// Tries to move the global epoch forward by one. Returns true when it moved
// (or another thread moved it concurrently). Safe from any thread.
bool TryAdvanceEpoch();

// Number of participant records ever created (threads that read at least
// once, reused after exit). For tests.
uint32_t ParticipantCount();

// Deferred releases owned by one writer. Not thread-safe: the owner calls it
// under its writer mutex.
class RetireList {
 public:
  RetireList() = default;
  ~RetireList();  // releases everything (the owner is being destroyed)
  RetireList(const RetireList&) = delete;
  RetireList& operator=(const RetireList&) = delete;

  // Releases `release` once no reader can hold what it frees. The caller
  // has already unlinked the memory with a seq_cst store.
  void Retire(std::function<void()> release);
  // Advances the epoch if possible and runs every release that is safe.
  void Collect();
  // Collects until empty, spinning on epoch advances; used by tests and by
  // the destructor's owner when it knows no reader remains.
  void DrainForTests();
  size_t pending() const { return items_.size(); }

 private:
  struct Item {
    uint64_t epoch;
    std::function<void()> release;
  };
  std::vector<Item> items_;
  size_t retired_since_collect_ = 0;
};

}  // namespace index
}  // namespace tessera
