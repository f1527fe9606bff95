#include "index/epoch.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "core/ts_assert.h"

namespace tessera {
namespace index {
namespace {

using epoch_detail::g_epoch;
using epoch_detail::Participant;
using epoch_detail::t_self;

// Push-only list of participants; records are never freed (one per thread
// that ever read, reused after the thread exits).
std::atomic<Participant*> g_participants{nullptr};
std::atomic<uint32_t> g_participant_count{0};

Participant* AcquireParticipant() {
  // acquire: the records we walk were published with a release CAS.
  for (Participant* p = g_participants.load(std::memory_order_acquire);
       p != nullptr; p = p->next) {
    bool expected = false;
    // acq_rel: take ownership of a record released by an exited thread and
    // see its final state (0).
    if (p->in_use.compare_exchange_strong(expected, true,
                                          std::memory_order_acq_rel)) {
      // relaxed: the acq_rel CAS above already ordered the last owner's
      // final store before this load.
      TS_ASSERT(p->state.load(std::memory_order_relaxed) == 0);
      return p;
    }
  }
  Participant* p = new Participant();
  // relaxed: only the CAS below publishes; a stale head just fails it.
  Participant* head = g_participants.load(std::memory_order_relaxed);
  do {
    p->next = head;
    // release: publishes p->next and the initial fields to list walkers.
  } while (!g_participants.compare_exchange_weak(
      head, p, std::memory_order_release, std::memory_order_relaxed));
  // relaxed: a statistic only.
  g_participant_count.fetch_add(1, std::memory_order_relaxed);
  return p;
}

struct ThreadParticipant {
  Participant* p = AcquireParticipant();
  ~ThreadParticipant() {
    t_self = nullptr;
    TS_ASSERT(p->depth == 0);
    // relaxed: this thread's own last store.
    TS_ASSERT(p->state.load(std::memory_order_relaxed) == 0);
    // release: hands the record back with state 0 to the next owner.
    p->in_use.store(false, std::memory_order_release);
  }
};

// Asymmetric fences (docs/index.md, "Epoch guards"): when the kernel offers
// MEMBARRIER_CMD_PRIVATE_EXPEDITED, a reader announces its pin with a plain
// store and a compiler barrier, and the writer, before it scans the
// announcements, runs membarrier(), which executes a full memory barrier on
// every CPU running a thread of this process. The pair gives the same
// store-load (Dekker) ordering as a seq_cst store on the reader's side, which
// on x86-64 is a locked XCHG that waits for the store buffer to drain: most of
// the CPU cost of a cached Get. Without the syscall (old kernel, seccomp), the
// reader keeps the seq_cst store. Decided once per process, before the first
// guard or scan, and never changed.
bool MembarrierAvailable() {
  static const bool available = [] {
    if (std::getenv("TESSERA_INDEX_NO_MEMBARRIER") != nullptr) return false;
    const long cmds = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) {
      return false;
    }
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                     0, 0) == 0;
  }();
  return available;
}

// The writer's half of the asymmetric fence. Returns false when the barrier
// could not be issued (then the scan must not rely on it).
bool HeavyBarrier() {
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

}  // namespace

namespace epoch_detail {

std::atomic<uint64_t> g_epoch{2};
__thread Participant* t_self = nullptr;

// Acquires the thread's record and decides (once per process, before this
// thread's first pin) which fence variant it uses. The ThreadParticipant
// clears t_self and hands the record back when the thread exits.
__attribute__((noinline)) Participant* SelfSlow() {
  thread_local ThreadParticipant self;
  self.p->asymmetric = MembarrierAvailable();
  t_self = self.p;
  return self.p;
}

}  // namespace epoch_detail

uint64_t CurrentEpoch() {
  // seq_cst: retire epochs are read after the unlink store in the total order.
  return g_epoch.load(std::memory_order_seq_cst);
}

bool TryAdvanceEpoch() {
  // seq_cst: the epoch we check announcements against, in the total order.
  uint64_t g = g_epoch.load(std::memory_order_seq_cst);
  // The writer's half of the asymmetric fence: after every unlink made so
  // far, before reading any announcement. If it fails (it should not once
  // registered), do not advance: a reader may be pinned unseen.
  if (MembarrierAvailable() && !HeavyBarrier()) return false;
  // acquire: see records pushed by other threads (release CAS).
  for (Participant* p = g_participants.load(std::memory_order_acquire);
       p != nullptr; p = p->next) {
    // seq_cst: pairs with the reader's seq_cst pin store (Dekker pattern);
    // it is also an acquire that orders the reader's guarded reads before
    // whatever this thread frees later.
    const uint64_t s = p->state.load(std::memory_order_seq_cst);
    if ((s & 1) != 0 && (s >> 1) != g) return false;
  }
  // seq_cst: advancing is part of the same total order; a failed CAS means
  // another writer advanced it, which is just as good.
  g_epoch.compare_exchange_strong(g, g + 1, std::memory_order_seq_cst);
  TS_ASSERT(g_epoch.load(std::memory_order_relaxed) >= g);
  return true;
}

uint32_t ParticipantCount() {
  // relaxed: a statistic.
  return g_participant_count.load(std::memory_order_relaxed);
}

RetireList::~RetireList() {
  // The owner guarantees no reader can reach its memory any more (it is
  // being destroyed), so everything is released now.
  for (Item& item : items_) item.release();
  items_.clear();
}

void RetireList::Retire(std::function<void()> release) {
  TS_ASSERT(release != nullptr);
  items_.push_back(Item{CurrentEpoch(), std::move(release)});
  if (++retired_since_collect_ >= 64) Collect();
}

void RetireList::Collect() {
  retired_since_collect_ = 0;
  if (items_.empty()) return;
  TryAdvanceEpoch();
  const uint64_t now = CurrentEpoch();
  size_t kept = 0;
  for (size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].epoch + 2 <= now) {
      items_[i].release();
    } else {
      if (kept != i) items_[kept] = std::move(items_[i]);
      ++kept;
    }
  }
  items_.resize(kept);
  TS_ASSERT(items_.size() == kept);
}

void RetireList::DrainForTests() {
  while (!items_.empty()) {
    Collect();
    if (!items_.empty()) std::this_thread::yield();
  }
}

}  // namespace index
}  // namespace tessera
