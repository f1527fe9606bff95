// Kill points: see kill_points.h.
#include "engine/kill_points.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "core/ts_assert.h"

namespace tessera {
namespace engine {
namespace {

struct KillConfig {
  uint64_t odds = 0;  // 0: off
  const char* log = nullptr;
  const char* only = nullptr;  // fire at this point alone
};

const KillConfig& Config() {
  static const KillConfig config = [] {
    KillConfig c;
    const char* odds = getenv("TESSERA_KILL_ODDS");
    if (odds != nullptr) c.odds = strtoull(odds, nullptr, 10);
    c.log = getenv("TESSERA_KILL_LOG");
    c.only = getenv("TESSERA_KILL_ONLY");
    return c;
  }();
  return config;
}

// xorshift over a shared state: points are reached from several threads and
// only the odds matter, not which thread draws which number.
uint64_t Draw() {
  static std::atomic<uint64_t> state{uint64_t(getpid()) * 0x9e3779b97f4a7c15u |
                                     1};
  uint64_t x = state.load(std::memory_order_relaxed);
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  state.store(x, std::memory_order_relaxed);
  return x;
}

}  // namespace

void KillPoint(const char* name) {
  TS_ASSERT(name != nullptr);
  const KillConfig& c = Config();
  if (c.odds == 0) return;
  if (c.only != nullptr && strcmp(c.only, name) != 0) return;
  if (Draw() % c.odds != 0) return;
  if (c.log != nullptr) {
    const int fd = open(c.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const size_t n = strlen(name);
      char line[128];
      TS_ASSERT(n + 1 < sizeof(line));
      memcpy(line, name, n);
      line[n] = '\n';
      (void)!write(fd, line, n + 1);
      close(fd);
    }
  }
  _exit(9);
}

}  // namespace engine
}  // namespace tessera
