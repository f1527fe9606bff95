// Engine internals shared by its method files (engine.cc, compaction.cc):
// the drive and upload records; the segment record is in engine/segment.h
// (also used by degraded.cc). Not part of the engine's API.
#pragma once

#include <atomic>
#include <deque>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/segment.h"

namespace tessera {
namespace engine {

struct Engine::Drive {
  std::string dir;
  int lock_fd = -1;
  // The directory did not exist at open (a drive that is gone), or its
  // FORMAT was damaged: down, never written, not locked, until a drive
  // probe finds it with its valid FORMAT (Engine::RejoinDrive), or a
  // reopen does. Atomic: the committer clears it while the scrub, heal and
  // compaction threads read it.
  std::atomic<bool> absent{false};
};

// An upload in progress: its fragments (published as they become durable)
// and the running MD5 of its pieces. Pieces wait in `pending` and are
// hashed and submitted in order by one drain task at a time.
struct Engine::Upload {
  uint64_t id = 0;
  std::vector<log::Extent> extents;  // guarded by Engine::mu_
  Md5 md5;                           // the drain task only
  std::deque<Pending> pending;       // guarded by Engine::mu_
  bool draining = false;             // guarded by Engine::mu_
  // Pieces appended whose completion has not fired yet. Commit needs 0:
  // then every piece is hashed and placed (its MD5 update and extent
  // happen before its completion), whatever the drain task does next.
  uint64_t unsettled = 0;  // guarded by Engine::mu_
};

}  // namespace engine
}  // namespace tessera
