// Helpers shared by the io tests: a scratch directory on a real disk and
// the seed every randomized test prints and replays from TESSERA_SEED.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace tessera {
namespace io {
namespace testing {

inline uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("TESSERA_SEED");
    const uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 10)
                                      : std::random_device()();
    std::printf("io_test seed: TESSERA_SEED=%llu\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

// A fresh directory under TESSERA_TEST_DIR (default: the build tree's
// working directory, which is on the repository's disk, not tmpfs),
// removed with its files by the destructor.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TESSERA_TEST_DIR");
    std::string tmpl = std::string(base != nullptr ? base : ".") + "/io-test-" +
                       std::string(6, 'X');  // mkdtemp replaces the six 'X's
    char* made = ::mkdtemp(tmpl.data());
    path_ = made != nullptr ? made : "";
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      const std::string cmd = "rm -rf '" + path_ + "'";
      if (std::system(cmd.c_str()) != 0) std::perror("rm scratch dir");
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace testing
}  // namespace io
}  // namespace tessera
