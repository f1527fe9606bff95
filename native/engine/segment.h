// Engine::Segment: one segment id's files on every drive (engine.cc,
// degraded.cc, compaction.cc).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "engine/engine.h"

namespace tessera {
namespace engine {

struct Engine::Segment {
  uint64_t id = 0;
  // -1 where the file is missing; a probe may fill a -1 in while readers
  // run (never replaces a descriptor).
  std::vector<std::atomic<int>> fds;
  std::vector<uint32_t> io_files;  // IoEngine ids, where drive_ok
  std::vector<bool> drive_ok;      // committer: takes this group's writes
  std::vector<int> extra_fds;      // opened by probes; closed at Close
  bool writable = false;           // at least a write quorum of drive_ok
  bool freed = false;              // reclaimed by compaction (compaction.cc)

  void Init(uint32_t n) {
    fds = std::vector<std::atomic<int>>(n);
    for (auto& fd : fds) fd.store(-1);
    io_files.assign(n, 0);
    drive_ok.assign(n, false);
  }
};

}  // namespace engine
}  // namespace tessera
