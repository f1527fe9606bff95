// The change feed (changes.cc): order, paging, reopen, voided groups and
// reclaimed segments.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/test_util.h"
#include "io/crash_fs.h"
#include "io/fault_fs.h"

namespace tessera {
namespace engine {
namespace {

using Kind = WriteRequest::Kind;

using test_util::Outcome;
using test_util::RemoveTree;
using test_util::Write;
std::string TempDir() { return test_util::TempDir("changes"); }

EngineOptions Options(const std::string& path, io::Fs* fs = nullptr) {
  EngineOptions o;
  o.path = path;
  o.data_shards = 4;
  o.parity_shards = 2;
  o.segment_stripes = 64;
  o.fs = fs;
  o.group_bytes_max = 256 << 10;
  o.now_ms = 1700000000000;
  o.zero_segments = false;
  return o;
}

Status CreateBucket(Engine* e, const std::string& name,
                    log::Versioning v = log::Versioning::kUnversioned) {
  WriteRequest r;
  r.kind = Kind::kBucketCreate;
  r.bucket = name;
  r.versioning = v;
  return Write(e, r).status;
}

Outcome Put(Engine* e, const std::string& bucket, const std::string& key,
            const std::string& body) {
  WriteRequest r;
  r.kind = Kind::kPut;
  r.bucket = bucket;
  r.key = key;
  r.body = reinterpret_cast<const uint8_t*>(body.data());
  r.body_bytes = body.size();
  r.etag[0] = uint8_t(body.size());
  return Write(e, r);
}

Outcome Delete(Engine* e, const std::string& bucket, const std::string& key,
               const std::string& version = "") {
  WriteRequest r;
  r.kind = Kind::kDelete;
  r.bucket = bucket;
  r.key = key;
  r.version_id = version;
  return Write(e, r);
}

// Every event from `from` on, read `page` at a time.
Status ReadAll(Engine* e, uint64_t from, uint32_t page,
               std::vector<ChangeEvent>* out, uint64_t* next = nullptr) {
  out->clear();
  for (;;) {
    ChangesPage p;
    TS_RETURN_IF_ERROR(e->ReadChanges(from, page, &p));
    for (auto& ev : p.events) out->push_back(ev);
    if (next) *next = p.next_seq;
    if (p.events.empty()) return Status::Ok();
    from = p.next_seq;
  }
}

TEST(Changes, OrderFieldsPagingAndReopen) {
  const std::string dir = TempDir();
  std::unique_ptr<Engine> e;
  ASSERT_TRUE(Engine::Open(Options(dir), &e).ok());
  ChangesPage empty;
  ASSERT_TRUE(e->ReadChanges(1, 10, &empty).ok());
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.committed_seq, 0u);
  ASSERT_TRUE(CreateBucket(e.get(), "plain").ok());
  ASSERT_TRUE(CreateBucket(e.get(), "vers", log::Versioning::kEnabled).ok());
  std::vector<uint64_t> seqs;
  Outcome a = Put(e.get(), "plain", "a", "alpha");
  Outcome b = Put(e.get(), "vers", "b", "bravo!");
  Outcome dm = Delete(e.get(), "vers", "b");  // a delete marker
  Outcome da = Delete(e.get(), "plain", "a");
  Outcome dv = Delete(e.get(), "vers", "b", b.result.version_id);
  for (const Outcome* o : {&a, &b, &dm, &da, &dv}) {
    ASSERT_TRUE(o->status.ok()) << o->status.message();
    seqs.push_back(o->result.seq);
  }
  std::vector<ChangeEvent> ev;
  ASSERT_TRUE(ReadAll(e.get(), 1, 100, &ev).ok());
  ASSERT_EQ(ev.size(), 5u);
  for (size_t i = 0; i < ev.size(); i++) EXPECT_EQ(ev[i].seq, seqs[i]);
  EXPECT_EQ(ev[0].bucket, "plain");
  EXPECT_EQ(ev[0].key, "a");
  EXPECT_FALSE(ev[0].deleted);
  EXPECT_EQ(ev[0].size, 5u);
  EXPECT_EQ(ev[0].version_id, "null");
  EXPECT_EQ(ev[0].etag[0], 5);
  EXPECT_EQ(ev[0].time_ms, 1700000000000u);
  EXPECT_EQ(ev[1].version_id, b.result.version_id);
  EXPECT_TRUE(ev[2].deleted && ev[2].delete_marker);
  EXPECT_EQ(ev[2].version_id, dm.result.version_id);
  EXPECT_TRUE(ev[3].deleted && !ev[3].delete_marker);
  EXPECT_EQ(ev[3].version_id, "null");
  EXPECT_TRUE(ev[4].deleted && !ev[4].delete_marker);
  EXPECT_EQ(ev[4].version_id, b.result.version_id);
  // Paging one at a time gives the same events; from the middle too.
  std::vector<ChangeEvent> one;
  ASSERT_TRUE(ReadAll(e.get(), 1, 1, &one).ok());
  ASSERT_EQ(one.size(), 5u);
  ASSERT_TRUE(ReadAll(e.get(), seqs[2], 2, &one).ok());
  ASSERT_EQ(one.size(), 3u);
  EXPECT_EQ(one[0].seq, seqs[2]);
  // Enough puts to span several segments (1 MiB of data each).
  const std::string big(100000, 'x');
  for (int i = 0; i < 40; i++) {
    ASSERT_TRUE(
        Put(e.get(), "plain", "k" + std::to_string(i), big).status.ok());
  }
  const uint64_t before = e->CommittedSeq();
  e.reset();
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      // Without snapshots: recovery replays everything.
      for (int d = 0; d < 6; d++) {
        unlink((dir + "/drive-" + std::to_string(d) + "/snapshots/snapshot.dat")
                   .c_str());
      }
    }
    ASSERT_TRUE(Engine::Open(Options(dir), &e).ok());
    EXPECT_EQ(e->CommittedSeq(), before + pass);
    ASSERT_TRUE(ReadAll(e.get(), 1, 7, &ev).ok());
    ASSERT_EQ(ev.size(), 45u + pass);
    for (size_t i = 1; i < ev.size(); i++) EXPECT_LT(ev[i - 1].seq, ev[i].seq);
    EXPECT_EQ(ev.back().seq, before + pass);
    EXPECT_EQ(ev.back().key, pass == 0 ? "k39" : "after0");
    // From a seq in a later segment (located, not hinted).
    std::vector<ChangeEvent> tail;
    ASSERT_TRUE(ReadAll(e.get(), ev[30].seq, 1000, &tail).ok());
    ASSERT_EQ(tail.size(), 15u + pass);
    EXPECT_EQ(tail[0].seq, ev[30].seq);
    Outcome next = Put(e.get(), "plain", "after" + std::to_string(pass), "z");
    ASSERT_TRUE(next.status.ok());
    EXPECT_EQ(next.result.seq, before + 1 + pass);
    e.reset();
    ASSERT_TRUE(Engine::Open(Options(dir), &e).ok());
    e.reset();
  }
  RemoveTree(dir);
}

TEST(Changes, FailedGroupNeverAppearsAndSeqsStayConsecutive) {
  const std::string dir = TempDir();
  io::FaultFs fs(io::DefaultFs());
  std::unique_ptr<Engine> e;
  // Every drive must hold a group (no degraded write), and a drive that
  // failed is tried again by the very next group.
  EngineOptions options = Options(dir, &fs);
  options.write_quorum = 6;
  options.drive_probe_interval_ms = 0;
  ASSERT_TRUE(Engine::Open(options, &e).ok());
  ASSERT_TRUE(CreateBucket(e.get(), "bkt").ok());
  Outcome before = Put(e.get(), "bkt", "before", "ok");
  ASSERT_TRUE(before.status.ok());
  io::FaultRule rule;
  rule.op = io::FaultOp::kFdatasync;
  rule.nth = 1;
  rule.path_substring = "/segments/";
  fs.AddRule(rule);
  Outcome bad = Put(e.get(), "bkt", "doomed", "never");
  EXPECT_FALSE(bad.status.ok());
  fs.ClearRules();
  Outcome after = Put(e.get(), "bkt", "after", "fine");
  ASSERT_TRUE(after.status.ok()) << after.status.message();
  EXPECT_EQ(after.result.seq, before.result.seq + 1);
  for (int pass = 0; pass < 2; pass++) {
    std::vector<ChangeEvent> ev;
    Status s = ReadAll(e.get(), 1, 100, &ev);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].key, "before");
    EXPECT_EQ(ev[1].key, "after");
    e.reset();
    for (int d = 0; d < 6; d++) {
      unlink((dir + "/drive-" + std::to_string(d) + "/snapshots/snapshot.dat")
                 .c_str());
    }
    ASSERT_TRUE(Engine::Open(Options(dir), &e).ok());
  }
  e.reset();
  RemoveTree(dir);
}

TEST(Changes, ReclaimedSegmentIsExpired) {
  const std::string dir = TempDir();
  std::unique_ptr<Engine> e;
  ASSERT_TRUE(Engine::Open(Options(dir), &e).ok());
  ASSERT_TRUE(CreateBucket(e.get(), "bkt").ok());
  const std::string big(100000, 'y');
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 30; i++) {
    Outcome o = Put(e.get(), "bkt", "k" + std::to_string(i), big);
    ASSERT_TRUE(o.status.ok());
    seqs.push_back(o.result.seq);
  }
  e.reset();
  // What GC does to a segment (without a retention hold): gone on every
  // drive.
  for (int d = 0; d < 6; d++) {
    ASSERT_EQ(unlink((dir + "/drive-" + std::to_string(d) +
                      "/segments/seg-0000000000000000.dat")
                         .c_str()),
              0);
  }
  ASSERT_TRUE(Engine::Open(Options(dir), &e).ok());
  ChangesPage p;
  Status s = e->ReadChanges(1, 100, &p);
  ASSERT_EQ(s.code(), StatusCode::kChangesExpired) << s.message();
  EXPECT_GT(p.oldest_seq, seqs[0]);
  EXPECT_LE(p.oldest_seq, seqs.back());
  // Resuming at the oldest available seq works, up to the end.
  std::vector<ChangeEvent> ev;
  s = ReadAll(e.get(), p.oldest_seq, 5, &ev);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.front().seq, p.oldest_seq);
  EXPECT_EQ(ev.back().seq, seqs.back());
  e.reset();
  RemoveTree(dir);
}

// Power loss at a random sync, several rounds: after each reopen the feed
// is the log recovery replayed (replaying its events gives every key's
// visible state), every acknowledged write is in it with its seq, the seqs
// increase, and the feed read before a crash is a prefix of the one after.
TEST(ChangesCrash, FeedIsWhatRecoveryReplayedAcrossPowerLoss) {
  const char* env = getenv("TESSERA_SEED");
  const uint64_t base = env ? strtoull(env, nullptr, 10) : 2211;
  const int seeds = getenv("TESSERA_LONG") ? 3000 : 150;
  printf("base seed %llu, %d seeds\n", (unsigned long long)base, seeds);
  uint64_t events_checked = 0, acked_total = 0;
  for (int i = 0; i < seeds; i++) {
    const uint64_t seed = base * 1000003 + i;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    io::CrashFs fs;
    EngineOptions o = Options("/store", &fs);
    o.segment_stripes = 8 + rng() % 24;
    o.group_bytes_max = 16 << 10;
    std::vector<ChangeEvent> before;
    std::map<uint64_t, std::string> acked;  // seq -> key
    std::set<std::string> keys;
    for (int round = 0; round < 4; round++) {
      std::unique_ptr<Engine> e;
      Status s = Engine::Open(o, &e);
      ASSERT_TRUE(s.ok()) << s.message();
      std::vector<ChangeEvent> feed;
      s = ReadAll(e.get(), 1, 1 + rng() % 16, &feed);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_GE(feed.size(), before.size());
      for (size_t j = 0; j < before.size(); j++) {
        ASSERT_EQ(feed[j].seq, before[j].seq) << j;
        ASSERT_EQ(feed[j].key, before[j].key) << j;
      }
      std::map<std::string, const ChangeEvent*> last;
      std::map<uint64_t, std::string> seen;
      for (size_t j = 0; j < feed.size(); j++) {
        if (j > 0) ASSERT_LT(feed[j - 1].seq, feed[j].seq);
        last[feed[j].key] = &feed[j];
        seen[feed[j].seq] = feed[j].key;
      }
      for (const auto& a : acked) {
        auto it = seen.find(a.first);
        ASSERT_TRUE(it != seen.end()) << "acknowledged seq " << a.first;
        ASSERT_EQ(it->second, a.second);
      }
      for (const std::string& key : keys) {
        ObjectInfo info;
        std::string body;
        Status g = e->Get("bkt", key, "", 0, UINT64_MAX, &info, &body);
        auto it = last.find(key);
        if (it == last.end() || it->second->deleted) {
          ASSERT_EQ(g.code(), StatusCode::kNotFound) << key;
        } else {
          ASSERT_TRUE(g.ok()) << key << ": " << g.message();
          ASSERT_EQ(body.size(), it->second->size) << key;
          ASSERT_EQ(info.seq, it->second->seq) << key;
        }
      }
      events_checked += feed.size();
      before = feed;
      Status c = CreateBucket(e.get(), "bkt");
      ASSERT_TRUE(c.ok() || c.code() == StatusCode::kPreconditionFailed);
      fs.ArmCrashAtSync(1 + rng() % 40);
      const int ops = 10 + rng() % 30;
      std::mutex mu;
      std::promise<void> all;
      std::atomic<int> left{ops};
      std::vector<std::string> bodies(ops);
      for (int j = 0; j < ops; j++) {
        const std::string key = "k" + std::to_string(rng() % 12);
        keys.insert(key);
        WriteRequest r;
        r.bucket = "bkt";
        r.key = key;
        if (rng() % 5 == 0) {
          r.kind = Kind::kDelete;
        } else {
          bodies[j].assign(rng() % 3 == 0 ? rng() % 20000 : rng() % 300, 'v');
          r.kind = Kind::kPut;
          r.body = reinterpret_cast<const uint8_t*>(bodies[j].data());
          r.body_bytes = bodies[j].size();
        }
        Status sub =
            e->Submit(r, [&, key](const Status& st, const WriteResult& res) {
              std::lock_guard<std::mutex> l(mu);
              if (st.ok()) acked[res.seq] = key;
              if (--left == 0) all.set_value();
            });
        if (!sub.ok() && --left == 0) all.set_value();
      }
      all.get_future().wait();
      e.reset();
      if (!fs.powered_off()) fs.PowerOff();
      fs.Reboot(seed + round);
    }
    acked_total += acked.size();
  }
  printf("events checked %llu, acknowledged writes %llu\n",
         (unsigned long long)events_checked, (unsigned long long)acked_total);
  EXPECT_GT(acked_total, 0u);
}

}  // namespace
}  // namespace engine
}  // namespace tessera
