// Helpers shared by the engine's GoogleTest files: scratch directories,
// seeds, and synchronous wrappers around Engine::Submit. Header-only; every
// function is inline so each test file can include it.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <future>
#include <memory>
#include <random>
#include <string>

#include "engine/engine.h"

namespace tessera {
namespace engine {
namespace test_util {

// A fresh directory /tmp/tessera-<name>-<random>. mkdtemp replaces the
// template's six trailing 'X' characters.
inline std::string TempDir(const std::string& name) {
  std::string tmpl = "/tmp/tessera-" + name + "-" + std::string(6, 'X');
  char* d = mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return d;
}

inline void RemoveTree(const std::string& dir) {
  const std::string cmd = "rm -rf '" + dir + "'";
  EXPECT_EQ(system(cmd.c_str()), 0);
}

// TESSERA_SEED when set (to replay a run), otherwise the file's fixed seed.
inline uint64_t SeedOr(uint64_t fallback) {
  const char* env = getenv("TESSERA_SEED");
  return env ? strtoull(env, nullptr, 10) : fallback;
}

// n pseudo-random bytes, the same for the same seed.
inline std::string RandomBytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

struct Outcome {
  Status status;
  WriteResult result;
};

// Submits one write and waits for its completion. The promise is shared
// with the callback, so a completion that arrives after a refused Submit
// can never touch a dead stack frame.
inline Outcome Write(Engine* e, WriteRequest r) {
  auto p = std::make_shared<std::promise<Outcome>>();
  auto f = p->get_future();
  Status s =
      e->Submit(std::move(r), [p](const Status& st, const WriteResult& res) {
        p->set_value(Outcome{st, res});
      });
  if (!s.ok()) return Outcome{s, WriteResult()};
  return f.get();
}

// A request that creates `bucket` (unversioned).
inline WriteRequest BucketCreateRequest(const std::string& bucket) {
  WriteRequest r;
  r.kind = WriteRequest::Kind::kBucketCreate;
  r.bucket = bucket;
  return r;
}

// A put of `body` (borrowed: it must outlive the write) at bucket/key.
inline WriteRequest PutRequest(const std::string& bucket,
                               const std::string& key,
                               const std::string& body) {
  WriteRequest r;
  r.kind = WriteRequest::Kind::kPut;
  r.bucket = bucket;
  r.key = key;
  r.body = reinterpret_cast<const uint8_t*>(body.data());
  r.body_bytes = body.size();
  return r;
}

// Write() when only the status matters.
inline Status Run(Engine* e, WriteRequest r) {
  return Write(e, std::move(r)).status;
}

}  // namespace test_util
}  // namespace engine
}  // namespace tessera
