// Latency of one awaited 4 KiB put at the engine level (no Node), next to
// the same bytes written raw (issue 5: "one awaited 4 KiB put, p50").
//
//   engine_lone_put_bench [puts=2000] [dir=/var/tmp]
//
// Alternates rounds of: one O_DIRECT 4 KiB pwrite + fdatasync into one
// file; the same into each of 6 files one after another (what 4+2 drives
// on one disk must at least pay); and Engine::SubmitPut awaited one at a
// time (put and hash variants). Prints each one's p50 and p90 in us.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/ts_assert.h"
#include "engine/engine.h"
#include "io/aligned_buffer.h"

namespace tessera {
namespace engine {
namespace {

using Clock = std::chrono::steady_clock;

double Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

void Report(const char* name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  printf("%-44s p50 %7.1f us  p90 %7.1f us\n", name, v[v.size() / 2],
         v[v.size() * 9 / 10]);
}

int Main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 2000;
  const std::string base = argc > 2 ? argv[2] : "/var/tmp";
  std::string tmpl = base + "/tessera-lone-" + std::string(6, 'X');
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  TS_ASSERT(mkdtemp(buf.data()) != nullptr);
  const std::string dir(buf.data());

  io::AlignedBuffer block;
  TS_ASSERT(io::AlignedBuffer::Allocate(4096, &block).ok());
  memset(block.data(), 0x5a, 4096);
  int fds[6];
  for (int i = 0; i < 6; i++) {
    const std::string p = dir + "/raw" + std::to_string(i);
    fds[i] = open(p.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
    TS_ASSERT(fds[i] >= 0);
    for (int b = 0; b < 256; b++) {  // written extents, as the engine's
      TS_ASSERT(pwrite(fds[i], block.data(), 4096, off_t(b) * 4096) == 4096);
    }
    TS_ASSERT(fsync(fds[i]) == 0);
  }

  EngineOptions o;
  o.path = dir + "/store";
  o.data_shards = 4;
  o.parity_shards = 2;
  o.direct_io = io::DirectIoMode::kOptional;
  std::unique_ptr<Engine> e;
  Status s = Engine::Open(o, &e);
  TS_ASSERT_MSG(s.ok(), s.message().c_str());
  auto wait = [&](WriteRequest r, bool put) {
    auto p = std::make_shared<std::promise<Status>>();
    auto f = p->get_future();
    auto done = [p](const Status& st, const WriteResult&) { p->set_value(st); };
    Status q =
        put ? e->SubmitPut(std::move(r), done) : e->Submit(std::move(r), done);
    TS_ASSERT_MSG(q.ok(), q.message().c_str());
    Status st = f.get();
    TS_ASSERT_MSG(st.ok(), st.message().c_str());
  };
  WriteRequest b;
  b.kind = WriteRequest::Kind::kBucketCreate;
  b.bucket = "bench";
  wait(b, false);

  std::string body(4096, 'x');
  std::vector<double> raw1, raw6, put;
  for (int i = 0; i < n; i++) {
    const off_t off = off_t(i % 256) * 4096;
    auto t0 = Clock::now();
    TS_ASSERT(pwrite(fds[0], block.data(), 4096, off) == 4096);
    TS_ASSERT(fdatasync(fds[0]) == 0);
    auto t1 = Clock::now();
    for (int d = 0; d < 6; d++) {
      TS_ASSERT(pwrite(fds[d], block.data(), 4096, off) == 4096);
      TS_ASSERT(fdatasync(fds[d]) == 0);
    }
    auto t2 = Clock::now();
    WriteRequest r;
    r.kind = WriteRequest::Kind::kPut;
    r.bucket = "bench";
    r.key = "k" + std::to_string(i);
    r.body = reinterpret_cast<const uint8_t*>(body.data());
    r.body_bytes = body.size();
    wait(std::move(r), true);
    auto t3 = Clock::now();
    raw1.push_back(Us(t0, t1));
    raw6.push_back(Us(t1, t2));
    put.push_back(Us(t2, t3));
  }
  Report("raw: 4 KiB O_DIRECT pwrite + fdatasync", raw1);
  Report("raw: the same into 6 files, one after another", raw6);
  Report("Engine::SubmitPut 4+2, awaited", put);
  TS_ASSERT(e->Close().ok());
  for (int fd : fds) close(fd);
  std::string rm = "rm -rf '" + dir + "'";
  TS_ASSERT(system(rm.c_str()) == 0);
  return 0;
}

}  // namespace
}  // namespace engine
}  // namespace tessera

int main(int argc, char** argv) { return tessera::engine::Main(argc, argv); }
