// Space reclamation (docs/gc.md): per-segment usage at open, relocation of
// live records through the committer, and freeing a compacted segment.
//
// Compact(S) runs on the caller's thread:
//  1. checks: S is sealed (before the tail), not freed, not retained (its
//     newest record seq is below CompactOptions::retain_from_seq), and no
//     upload in progress has a fragment in it;
//  2. collects every version whose OBJECT record, or one of whose
//     FRAGMENTs, lies in S (a scan of the index);
//  3. reads each such record (verified: chunk CRCs, record header CRC,
//     payload CRC, the seq the index expects) and submits a copy (kind
//     kRelocate, flag kRecordRelocated, the original seq) to the committer,
//     which writes it in an ordinary group (erasure-coded, checksummed,
//     group-committed). Fragments are copied first, then the OBJECT record
//     with an extent list naming the copies. The committer keeps an OBJECT
//     copy only if, when its group is decided, the index still holds that
//     version at the old address; after the group is durable it moves the
//     version to the copy with KeyDirectory::Relocate (a compare-and-swap on
//     the old address). A version overwritten or deleted meanwhile is
//     therefore never brought back;
//  4. submits a kReclaim, which the committer runs alone between groups:
//     it checks that no index entry and no upload points into S any more
//     and writes a snapshot to every drive (so no recovery ever needs S: the
//     snapshot's position is after every relocation). Then, back on the
//     caller's thread while writes go on (FinishReclaim), it waits for
//     every read that may have found an old address (reclaim_mu_), and on
//     each drive rewrites S's header with the freed flag, fdatasyncs,
//     truncates the file to its header and fdatasyncs again.
//
// Before the reclaim, S's tombstones (BUCKET and DELETE records) are copied
// the same way, so that a full scan without a snapshot stays correct once S
// is freed (CollectTombstones; docs/gc.md, "Full scan after frees").
//
// A crash before the snapshot leaves S whole (recovery replays the copies:
// a relocated OBJECT record only moves the version it names, if the index
// holds it); after it, recovery starts from that snapshot and never reads
// S, and open finishes a free it finds half done (a header with the freed
// flag on any drive).
#include <inttypes.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <set>
#include <thread>

#include "checksum/crc.h"
#include "core/ts_assert.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/kill_points.h"
#include "io/aligned_buffer.h"

namespace tessera {
namespace engine {
namespace {

constexpr uint32_t kHeaderFlagsOffset = 40;  // format.md, segment header
constexpr uint32_t kHeaderCrcOffset = 44;
constexpr uint32_t kHeaderFreed = 1;

std::string SegmentFile(uint64_t id) {
  char buf[40];
  snprintf(buf, sizeof(buf), "seg-%016" PRIx64 ".dat", id);
  return buf;
}

std::string VersionIdOf(const std::string& key_unused, uint64_t seq,
                        bool null_version) {
  (void)key_unused;
  VersionMeta m;
  m.seq = seq;
  m.null_version = null_version;
  return VersionIdString(m);
}

struct Done {
  Status status;
  WriteResult result;
};

}  // namespace

// ------------------------------------------------------------ at open

// A full scan (no valid snapshot on any drive, or ignore_snapshot) once
// segments were freed (docs/gc.md, "Full scan"): a freed segment's live
// OBJECT and FRAGMENT records were copied before the free, and so were its
// tombstones (BUCKET and DELETE records, CollectTombstones), all keeping
// their original seq. What a freed segment held that was not copied is
// dead: a superseded or deleted version, whose removal is recorded by a
// record still in the log (a DELETE, or the live version that superseded
// it). So replaying every record still in the log in seq order (the order
// they were first committed in), each seq once at its newest copy's
// address, gives the index the snapshot would: the records of the log carry
// consecutive seqs in log order apart from relocated copies, which only
// repeat an older seq.
void Engine::ApplyScanRecords(std::vector<ScanRecord>* records) {
  // Stable: copies of one seq stay in log order, the newest last.
  std::stable_sort(
      records->begin(), records->end(),
      [](const ScanRecord& a, const ScanRecord& b) { return a.seq < b.seq; });
  for (size_t i = 0; i < records->size(); i++) {
    if (i + 1 < records->size() && (*records)[i + 1].seq == (*records)[i].seq) {
      continue;  // an older copy of the same record
    }
    ScanRecord& r = (*records)[i];
    switch (r.type) {
      case log::RecordType::kBucket:
        directory_.ApplyBucket(r.bucket_record);
        break;
      case log::RecordType::kDelete:
        directory_.ApplyDelete(r.bucket, r.key, r.version_id);
        break;
      case log::RecordType::kObject:
        directory_.ApplyObject(r.bucket, r.key, r.meta, r.versioned);
        break;
      default:
        break;
    }
  }
  std::vector<ScanRecord>().swap(*records);
}

Status Engine::ProbeSegmentsAtOpen() {
  // Ids are never reused and a freed segment keeps a header-only file, so
  // every id up to the tail names a file on some drive (unless lost).
  for (uint64_t id = 0; id <= tail_segment_; id++) {
    Segment* seg = nullptr;
    TS_RETURN_IF_ERROR(OpenSegment(id, false, &seg));
    if (seg == nullptr) continue;
    if (seg->freed) {
      // A free a crash interrupted (the snapshot that makes it safe was
      // durable before the first header changed): finish it.
      TS_RETURN_IF_ERROR(FreeSegmentFiles(id, seg));
    }
    usage_.NoteSegment(id, seg->freed);
  }
  return Status::Ok();
}

Status Engine::RecomputeUsage() {
  std::vector<VersionMeta> with_extents;
  std::vector<VersionMeta> plain;
  directory_.ForEachVersion(
      [&](const std::string&, const std::string&, const VersionMeta& m) {
        (m.extents ? with_extents : plain).push_back(m);
      });
  for (const VersionMeta& m : plain) usage_.AddVersion(m, m.size, nullptr);
  for (const VersionMeta& m : with_extents) {
    // The index keeps no payload length: the record header has it.
    uint64_t payload_bytes = 0;
    Status s = ReadPayloadBytes(m, &payload_bytes);
    std::string list;
    std::vector<log::Extent> extents;
    if (s.ok()) {
      list.assign(payload_bytes, '\0');
      s = ReadLog(m.address + m.header_bytes, payload_bytes,
                  reinterpret_cast<uint8_t*>(&list[0]));
    }
    if (s.ok()) s = log::DecodeExtents(list, m.size, &extents);
    if (!s.ok()) {
      // Damage beyond parity: its fragments cannot be located, so no
      // segment may be freed until a heal (compaction refuses).
      usage_.AddVersion(m, payload_bytes, nullptr);
      usage_unknown_ = true;
      continue;
    }
    usage_.AddVersion(m, payload_bytes, &extents);
  }
  for (const SegmentSpace& s : usage_.All()) {
    if (s.freed && s.live_bytes != 0) {
      return Status(
          StatusCode::kCorrupt,
          "the index names records in freed segment " + SegmentFile(s.id));
    }
  }
  return Status::Ok();
}

// --------------------------------------------------- committer helpers

void Engine::UsageBeforeObject(const std::string& bucket,
                               const std::string& key, bool keep_previous) {
  if (keep_previous) return;
  VersionMeta old;
  if (directory_.Lookup(bucket, key, "null", &old).ok()) {
    usage_.RemoveVersion(old);
  }
}

void Engine::UsageBeforeDelete(const std::string& bucket,
                               const std::string& key,
                               const std::string& version_id) {
  if (version_id.empty()) {
    std::vector<VersionMeta> versions;
    directory_.KeyVersions(bucket, key, &versions);
    for (const VersionMeta& v : versions) usage_.RemoveVersion(v);
    return;
  }
  VersionMeta old;
  if (directory_.Lookup(bucket, key, version_id, &old).ok()) {
    usage_.RemoveVersion(old);
  }
}

void Engine::UsageAfterObject(const VersionMeta& meta, uint64_t payload_bytes,
                              const std::string& list) {
  if (!meta.extents) {
    usage_.AddVersion(meta, payload_bytes, nullptr);
    return;
  }
  TS_ASSERT(list.size() == payload_bytes);
  std::vector<log::Extent> extents;
  Status s = log::DecodeExtents(list, meta.size, &extents);
  TS_ASSERT(s.ok());  // the committer encoded it
  usage_.AddVersion(meta, payload_bytes, &extents);
}

Status Engine::CheckRelocation(const WriteRequest& r) const {
  TS_ASSERT(r.relocation != nullptr);
  const WriteRequest::Relocation& rel = *r.relocation;
  if (rel.type == log::RecordType::kFragment) return Status::Ok();
  // Tombstones (a full scan replays them by seq; recovery from a snapshot
  // ignores copies of them): no compare-and-swap.
  if (rel.type == log::RecordType::kDelete ||
      rel.type == log::RecordType::kBucket) {
    return Status::Ok();
  }
  if (rel.type != log::RecordType::kObject) {
    return Status(StatusCode::kInvalidArgument,
                  "only OBJECT and FRAGMENT records relocate");
  }
  VersionMeta cur;
  const std::string vid =
      VersionIdOf(r.key, rel.seq, (rel.flags & log::kObjectNullVersion) != 0);
  if (!directory_.Lookup(r.bucket, r.key, vid, &cur).ok() ||
      cur.seq != rel.seq || cur.address != rel.from) {
    return Status(StatusCode::kPreconditionFailed,
                  "the version was superseded while being relocated");
  }
  return Status::Ok();
}

void Engine::PublishRelocation(const WriteRequest& r, uint64_t address) {
  const WriteRequest::Relocation& rel = *r.relocation;
  if (rel.type != log::RecordType::kObject) return;  // live via its OBJECT
  VersionMeta old;
  const std::string vid =
      VersionIdOf(r.key, rel.seq, (rel.flags & log::kObjectNullVersion) != 0);
  Status s = directory_.Lookup(r.bucket, r.key, vid, &old);
  // Decided in this group against the same state (no other write of the
  // key shares the group), so the compare-and-swap holds.
  TS_ASSERT(s.ok() && old.seq == rel.seq && old.address == rel.from);
  VersionMeta moved = old;
  moved.address = address;
  usage_.RemoveVersion(old);
  const bool switched =
      directory_.Relocate(r.bucket, r.key, rel.seq, rel.from, address);
  TS_ASSERT(switched);
  UsageAfterObject(moved, rel.payload.size(), rel.payload);
}

void Engine::ReplayRelocated(const std::string& bucket, const std::string& key,
                             const VersionMeta& meta, bool versioned) {
  std::vector<VersionMeta> versions;
  directory_.KeyVersions(bucket, key, &versions);
  for (const VersionMeta& v : versions) {
    if (v.seq == meta.seq) {
      if (v.address != meta.address) {
        directory_.Relocate(bucket, key, v.seq, v.address, meta.address);
      }
      return;
    }
  }
  // The original is not in the index. After a snapshot this cannot happen
  // unless the original's group could not be replayed (damage beyond
  // parity): apply the copy, unless a newer null version replaced it. (A
  // full scan does not come here: it replays by seq, ApplyScanRecords.)
  if (!versioned) {
    for (const VersionMeta& v : versions) {
      if (v.null_version && v.seq > meta.seq) return;
    }
  }
  directory_.ApplyObject(bucket, key, meta, versioned);
}

Status Engine::LiveInSegment(uint64_t segment, uint64_t* records) {
  const uint64_t sdb = layout_.segment_data_bytes();
  const std::set<uint64_t> ext = usage_.ExtentObjectsIn(segment);
  uint64_t n = 0;
  directory_.ForEachVersion(
      [&](const std::string&, const std::string&, const VersionMeta& m) {
        if (m.address / sdb == segment || ext.count(m.address)) n++;
      });
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& kv : uploads_) {
      for (const log::Extent& e : kv.second->extents) {
        if (e.address / sdb == segment) n++;
      }
    }
  }
  *records = n;
  return Status::Ok();
}

// The DELETE and BUCKET records in `segment` (own ones and copies) that a
// full scan may still need once it is freed, as relocations: every BUCKET
// record, and every DELETE unless each segment before `segment` is freed
// already (what a DELETE removed was written before it, so lies in a
// segment at or before the one it was first written in, which is at or
// before `segment`). Only groups recovery would replay are read (the chain,
// minus voided and damaged groups, below the published end).
Status Engine::CollectTombstones(
    uint64_t segment,
    std::vector<std::shared_ptr<WriteRequest::Relocation>>* out) {
  out->clear();
  bool older_all_freed = true;
  for (const SegmentSpace& s : usage_.All()) {
    if (s.id < segment && !s.freed) older_all_freed = false;
  }
  std::vector<std::pair<uint64_t, uint64_t>> degraded_voids;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    degraded_voids = degraded_.voids;
  }
  const uint64_t sdb = layout_.stripe_data_bytes();
  const uint64_t start = layout_.StripeAddress(segment, 0);
  const uint64_t end = start + layout_.segment_data_bytes();
  const uint64_t limit = published_end_.load();
  FeedGroup cur, next;
  bool have_cur = false, have_next = false;
  TS_RETURN_IF_ERROR(FindGroup(start, limit, &cur, &have_cur));
  while (have_cur && cur.address < end) {
    const uint64_t cur_end =
        cur.address + uint64_t(cur.group.stripe_count) * sdb;
    TS_RETURN_IF_ERROR(FindGroup(cur_end, limit, &next, &have_next));
    bool voided = have_next && next.group.void_end > next.group.void_start &&
                  cur.address >= next.group.void_start &&
                  cur.address < next.group.void_end;
    for (const auto& v : degraded_voids) {
      voided |= cur.address >= v.first && cur.address < v.second;
    }
    if (!voided) {
      Status failure;
      bool damaged = false;
      TS_RETURN_IF_ERROR(ReadGroupRecords(
          cur,
          [&](const log::RecordHeader& h, std::string_view var) {
            const bool stone =
                h.type == log::RecordType::kBucket ||
                (h.type == log::RecordType::kDelete && !older_all_freed);
            if (!stone) return true;
            if (h.payload_bytes != 0) {
              failure = Status(StatusCode::kCorrupt,
                               "a DELETE or BUCKET record with a payload");
              return false;
            }
            auto rel = std::make_shared<WriteRequest::Relocation>();
            rel->type = h.type;
            rel->flags = h.flags | log::kRecordRelocated;
            rel->seq = h.seq;
            rel->var.assign(var.data(), var.size());
            out->push_back(std::move(rel));
            return true;
          },
          &damaged));
      TS_RETURN_IF_ERROR(failure);
      if (damaged) {
        // Beyond parity: its tombstones cannot be carried over, so the
        // segment must not be freed.
        return Status(StatusCode::kCorrupt,
                      "a commit group of " + SegmentFile(segment) +
                          " is damaged beyond parity; the segment is not "
                          "compacted (heal it first)");
      }
    }
    cur = next;
    have_cur = have_next;
  }
  return Status::Ok();
}

// Runs on the committer thread, alone between groups.
Status Engine::ReclaimSegment(uint64_t segment) {
  if (segment >= tail_segment_) {
    return Status(StatusCode::kInvalidArgument,
                  "the tail segment cannot be reclaimed");
  }
  Segment* seg = nullptr;
  TS_RETURN_IF_ERROR(OpenSegment(segment, false, &seg));
  if (seg == nullptr) {
    return Status(StatusCode::kNotFound, "no segment " + SegmentFile(segment));
  }
  if (seg->freed || usage_.Freed(segment)) return Status::Ok();
  uint64_t live = 0;
  TS_RETURN_IF_ERROR(LiveInSegment(segment, &live));
  if (live != 0 || usage_.LiveBytes(segment) != 0) {
    return Status(StatusCode::kPreconditionFailed,
                  "segment " + SegmentFile(segment) + " still holds " +
                      std::to_string(live) + " live records");
  }
  KILL_POINT("gc.before_snapshot");
  // No recovery may need the segment: a snapshot whose position is after
  // every relocation, on every drive.
  TS_RETURN_IF_ERROR(WriteSnapshot(true));
  KILL_POINT("gc.after_snapshot");
  usage_.MarkFreed(segment);  // scrub skips it from now on
  // The rest (FinishReclaim) runs on the compacting thread, not here: the
  // barrier waits for reads in flight, which may be long, and the writes
  // behind this reclaim need not wait for it.
  return Status::Ok();
}

// After ReclaimSegment (on the committer) returned Ok for `segment`: no
// index entry points into it and a snapshot on every drive makes it
// unneeded by recovery. Runs on the compacting thread (compact_mu_ held).
Status Engine::FinishReclaim(uint64_t segment, Segment* seg) {
  TS_ASSERT(usage_.Freed(segment));
  {
    // Barrier: every read that may have found an address in the segment
    // (before the index switched) has finished.
    std::unique_lock<std::shared_mutex> barrier(reclaim_mu_);
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    for (auto it = damaged_stripes_.begin(); it != damaged_stripes_.end();) {
      it = it->first == segment ? damaged_stripes_.erase(it) : std::next(it);
    }
  }
  return FreeSegmentFiles(segment, seg);
}

// Idempotent: the freed flag in the header first (durable), then the
// truncation (durable), on every drive that has the file.
Status Engine::FreeSegmentFiles(uint64_t segment, Segment* seg) {
  TS_ASSERT(seg != nullptr && seg->id == segment);
  io::AlignedBuffer header;
  TS_RETURN_IF_ERROR(
      io::AlignedBuffer::Allocate(log::segment_header_bytes, &header));
  Status first_error;
  for (uint32_t d = 0; d < layout_.shards(); d++) {
    // A drive without the file (down, or gone) finishes the free at the
    // next open, where the other drives' freed headers mark the segment.
    const int fd = seg->fds[d].load();
    if (fd < 0) continue;
    io::FileStat st;
    Status s = fs_->Fstat(fd, &st);
    size_t got = 0;
    if (s.ok()) s = fs_->Pread(fd, header.data(), header.size(), 0, &got);
    const bool flagged = s.ok() && got == header.size() &&
                         (header.data()[kHeaderFlagsOffset] & kHeaderFreed);
    if (s.ok() && !flagged) {
      log::SegmentHeader h;
      h.segment_id = segment;
      h.drive_index = d;
      memcpy(h.store_id, store_id_, 16);
      log::EncodeSegmentHeader(h, header.data());
      uint8_t* p = header.data();
      p[kHeaderFlagsOffset] = uint8_t(kHeaderFreed);
      const uint32_t crc = crc32c::Extend(0, p, kHeaderCrcOffset);
      for (int i = 0; i < 4; i++)
        p[kHeaderCrcOffset + i] = uint8_t(crc >> (8 * i));
      s = fs_->Pwrite(fd, header.data(), header.size(), 0);
      if (s.ok()) s = fs_->Fdatasync(fd);
      if (s.ok()) KILL_POINT("gc.after_freed_header");
    }
    if (s.ok() && st.size_bytes > log::segment_header_bytes) {
      s = fs_->Ftruncate(fd, log::segment_header_bytes);
      if (s.ok()) s = fs_->Fdatasync(fd);
      if (s.ok()) KILL_POINT("gc.after_truncate");
    }
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  seg->freed = true;
  seg->writable = false;
  // The descriptors stay open (the IoEngine may hold some) until Close; the
  // files are header-only now. Cached records of the segment go.
  if (cache_ != nullptr) {
    const uint64_t sdb = layout_.segment_data_bytes();
    cache_->EraseRange(segment * sdb, (segment + 1) * sdb);
  }
  return first_error;
}

// ------------------------------------------------------------ compact

namespace {

// Submits `r` and waits for its completion; retries while the queue is
// full (user writes keep priority).
Done SubmitAndWait(Engine* e, WriteRequest r) {
  for (;;) {
    auto p = std::make_shared<std::promise<Done>>();
    auto f = p->get_future();
    Status s = e->Submit(r, [p](const Status& st, const WriteResult& res) {
      p->set_value(Done{st, res});
    });
    if (s.code() == StatusCode::kOutOfRange) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (!s.ok()) return Done{s, WriteResult()};
    return f.get();
  }
}

}  // namespace

Status Engine::Compact(uint64_t segment, const CompactOptions& options,
                       CompactReport* report) {
  TS_ASSERT(report != nullptr);
  *report = CompactReport();
  report->segment = segment;
  std::unique_lock<std::mutex> one(compact_mu_, std::try_to_lock);
  if (!one.owns_lock()) {
    return Status(StatusCode::kLocked, "a compaction is already running");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || closed_) {
      return Status(StatusCode::kClosed, "the store is closed");
    }
  }
  const uint64_t sdb = layout_.segment_data_bytes();
  const uint64_t tail = stats().next_address / sdb;
  if (segment >= tail) {
    report->skipped = "the segment is the log's tail (still written)";
    return Status::Ok();
  }
  if (usage_.Freed(segment)) {
    report->skipped = "already freed";
    return Status::Ok();
  }
  if (usage_unknown_) {
    report->skipped =
        "an extent list was unreadable at open (heal, then reopen)";
    return Status::Ok();
  }
  {
    // Degraded (docs/durability.md): a free must reach every drive, and a
    // drive that missed writes must be healed first, so GC waits.
    bool degraded = false;
    for (const auto& d : drives_) degraded |= d->absent;
    std::lock_guard<std::mutex> lock(degraded_mu_);
    degraded |= down_mask_ != 0 || HealWorkLocked();
    if (degraded) {
      report->skipped = "a drive is down or being healed (degraded)";
      return Status::Ok();
    }
  }
  Segment* seg = nullptr;
  TS_RETURN_IF_ERROR(OpenSegment(segment, false, &seg));
  if (seg == nullptr) {
    return Status(StatusCode::kNotFound, "no segment " + SegmentFile(segment));
  }
  uint64_t max_seq = 0;
  for (const SegmentSpace& s : usage_.All()) {
    if (s.id == segment) max_seq = s.max_seq;
  }
  if (options.retain_from_seq != 0 && max_seq >= options.retain_from_seq) {
    report->skipped = "retained: it holds changes from seq " +
                      std::to_string(options.retain_from_seq) + " on";
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& kv : uploads_) {
      for (const log::Extent& e : kv.second->extents) {
        if (e.address / sdb == segment) {
          report->skipped = "an upload in progress has a fragment in it";
          return Status::Ok();
        }
      }
    }
  }

  // What lives there.
  struct Item {
    std::string bucket, key;
    VersionMeta meta;
  };
  const std::set<uint64_t> ext = usage_.ExtentObjectsIn(segment);
  std::vector<Item> items;
  directory_.ForEachVersion(
      [&](const std::string& b, const std::string& k, const VersionMeta& m) {
        if (m.address / sdb == segment || ext.count(m.address)) {
          items.push_back(Item{b, k, m});
        }
      });
  uint64_t total = usage_.LiveBytes(segment);
  gc_segment_.store(segment);
  gc_moved_.store(0);
  gc_total_.store(total);
  gc_running_.store(true);
  struct Running {
    std::atomic<bool>* flag;
    ~Running() { flag->store(false); }
  } running{&gc_running_};

  const auto began = std::chrono::steady_clock::now();
  uint64_t moved = 0;  // bytes submitted
  Status error;
  std::deque<std::pair<std::future<Done>, uint64_t>> inflight;
  uint64_t inflight_bytes = 0;
  auto settle = [&](std::future<Done>* f, uint64_t bytes) {
    queue_cv_.notify_one();  // copies are queued without waking (below)
    Done d = f->get();
    inflight_bytes -= bytes;
    if (d.status.ok()) {
      report->records_moved++;
      report->bytes_moved += bytes;
    } else if (d.status.code() == StatusCode::kPreconditionFailed) {
      report->records_dropped++;
    } else if (error.ok()) {
      error = d.status;
    }
  };
  // Pacing sleeps once per batch, not per record: relocations submitted
  // together share commit groups (one record per group would waste most of
  // a stripe per record and cost an fdatasync each).
  uint64_t paced = 0;
  const uint64_t batch = std::min<uint64_t>(
      1u << 20, std::max<uint64_t>(1, options.inflight_bytes_max / 2));
  auto pace = [&](uint64_t bytes) {
    moved += bytes;
    gc_moved_.store(std::min(moved, total));
    if (options.progress) options.progress(std::min(moved, total), total);
    if (moved - paced < batch) return;
    paced = moved;
    if (options.rate_bytes_per_sec > 0) {
      std::this_thread::sleep_until(
          began + std::chrono::microseconds(moved * 1000000 /
                                            options.rate_bytes_per_sec));
    }
  };
  // Reads the record at `address` (header + payload), verified.
  auto read_record = [&](uint64_t address, uint64_t bytes, log::RecordHeader* h,
                         std::string* rec) -> Status {
    rec->assign(bytes, '\0');
    TS_RETURN_IF_ERROR(
        ReadLog(address, bytes, reinterpret_cast<uint8_t*>(&(*rec)[0])));
    size_t needed = 0;
    Status s = log::DecodeRecordHeader(
        reinterpret_cast<const uint8_t*>(rec->data()), rec->size(), h, &needed);
    if (!s.ok() || uint64_t(h->header_bytes) + h->payload_bytes != bytes ||
        crc32c::Extend(0, rec->data() + h->header_bytes, h->payload_bytes) !=
            h->payload_crc32c) {
      return Status(StatusCode::kCorrupt,
                    "record at " + std::to_string(address) +
                        " does not verify; the segment is not compacted");
    }
    return Status::Ok();
  };
  // Submits one copy without waiting (retrying while the queue is full) and
  // keeps at most inflight_bytes_max of copies in flight. The one path for
  // OBJECT copies and tombstone copies. Copies are queued without waking the
  // committer (Enqueue's wake = false), so a batch queued back to back is
  // whole when the committer takes its group, however the two threads are
  // scheduled; the committer is woken before any wait (settle) and at the
  // end of each batch (flush_ready).
  auto submit_async = [&](WriteRequest req, uint64_t bytes) -> bool {
    auto p = std::make_shared<std::promise<Done>>();
    std::future<Done> f = p->get_future();
    WriteDone done = [p](const Status& st, const WriteResult& res) {
      p->set_value(Done{st, res});
    };
    for (;;) {
      Status sub = Enqueue(req, done, nullptr, /*wake=*/false);
      if (sub.code() == StatusCode::kOutOfRange) {  // queue full: let it drain
        queue_cv_.notify_one();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      if (!sub.ok()) error = sub;
      break;
    }
    if (!error.ok()) return false;
    inflight.emplace_back(std::move(f), bytes);
    inflight_bytes += bytes;
    return true;
  };
  auto bound_inflight = [&]() {
    while (inflight_bytes > options.inflight_bytes_max && !inflight.empty()) {
      settle(&inflight.front().first, inflight.front().second);
      inflight.pop_front();
    }
  };
  // Tombstones: the DELETE and BUCKET records of S (its own and copies it
  // holds) are copied too, so that a full scan of the log without any
  // snapshot stays correct once S is freed (docs/gc.md, "Full scan").
  // Submitted right after the first OBJECT copy (or alone when nothing is
  // live), while the committer is busy with it, so that they queue up and
  // share a commit group with the copies that follow (submitted to an idle
  // committer, the first of them would take a group, and its stripe
  // padding, alone).
  bool stones_sent = false;
  auto submit_stones = [&]() {
    if (stones_sent) return;
    stones_sent = true;
    if (!error.ok() || (options.cancel != nullptr && options.cancel->load())) {
      return;
    }
    std::vector<std::shared_ptr<WriteRequest::Relocation>> stones;
    Status s = CollectTombstones(segment, &stones);
    if (!s.ok()) error = s;
    for (size_t i = 0; error.ok() && i < stones.size(); i++) {
      const uint64_t bytes = log::record_header_fixed_bytes +
                             stones[i]->var.size() + stones[i]->payload.size();
      WriteRequest tr;
      tr.kind = WriteRequest::Kind::kRelocate;
      tr.bucket = "-";
      tr.body_bytes = stones[i]->payload.size();
      tr.relocation = stones[i];
      if (!submit_async(std::move(tr), bytes)) break;
      bound_inflight();
      report->tombstones_moved++;
    }
  };
  // OBJECT copies are read ahead and submitted a batch at a time, back to
  // back, so that they queue up and share commit groups: submitted one by
  // one to a committer that is idle while the next record is read, each
  // took a group alone, padded to a whole stripe (a 64 KiB record in five
  // 16 KiB stripes wasted about a fifth of every segment the copies filled;
  // docs/gc.md, "Copies share commit groups").
  std::vector<std::pair<WriteRequest, uint64_t>> ready;
  uint64_t ready_bytes = 0;
  auto flush_ready = [&]() -> bool {
    for (auto& rb : ready) {
      if (!submit_async(std::move(rb.first), rb.second)) break;
    }
    ready.clear();
    ready_bytes = 0;
    if (!error.ok()) return false;
    submit_stones();
    queue_cv_.notify_one();
    bound_inflight();
    return error.ok();
  };
  for (const Item& it : items) {
    if (!error.ok()) break;
    if (options.cancel != nullptr && options.cancel->load()) break;
    const VersionMeta& m = it.meta;
    std::vector<log::Extent> extents;
    const bool has_frags = m.extents && usage_.ExtentsOf(m.address, &extents);
    bool frag_here = false;
    for (const log::Extent& e : extents)
      frag_here |= e.address / sdb == segment;
    log::RecordHeader h;
    std::string rec;
    // The index keeps no payload length: an inline body's is its size, an
    // extent list's is in the record header.
    uint64_t payload_bytes = m.size;
    Status s = m.extents ? ReadPayloadBytes(m, &payload_bytes) : Status::Ok();
    const uint64_t bytes = uint64_t(m.header_bytes) + payload_bytes;
    if (s.ok()) s = read_record(m.address, bytes, &h, &rec);
    if (s.ok() && (h.type != log::RecordType::kObject || h.seq != m.seq)) {
      s = Status(StatusCode::kCorrupt,
                 "index and log disagree at " + std::to_string(m.address));
    }
    if (!s.ok()) {
      error = s;
      break;
    }
    auto rel = std::make_shared<WriteRequest::Relocation>();
    rel->type = log::RecordType::kObject;
    rel->flags = h.flags | log::kRecordRelocated;
    rel->seq = h.seq;
    rel->var = rec.substr(log::record_header_fixed_bytes,
                          h.header_bytes - log::record_header_fixed_bytes);
    rel->payload = rec.substr(h.header_bytes);
    rel->from = m.address;
    if (has_frags && frag_here) {
      // Copy the fragments that are here first (each waited for, so its
      // new address is known), then the OBJECT with the new extent list.
      if (!flush_ready()) break;
      while (!inflight.empty()) {
        settle(&inflight.front().first, inflight.front().second);
        inflight.pop_front();
      }
      bool ok = true;
      for (log::Extent& e : extents) {
        if (e.address / sdb != segment) continue;
        if (options.cancel != nullptr && options.cancel->load()) {
          ok = false;
          break;
        }
        log::RecordHeader fh;
        std::string frec;
        const uint64_t fbytes = SegmentUsage::kFragmentHeaderBytes + e.length;
        Status fs = read_record(e.address, fbytes, &fh, &frec);
        if (fs.ok() && (fh.type != log::RecordType::kFragment ||
                        fh.payload_crc32c != e.crc32c)) {
          fs = Status(StatusCode::kCorrupt, "fragment at " +
                                                std::to_string(e.address) +
                                                " does not match its extent");
        }
        if (!fs.ok()) {
          error = fs;
          ok = false;
          break;
        }
        auto frel = std::make_shared<WriteRequest::Relocation>();
        frel->type = log::RecordType::kFragment;
        frel->flags = fh.flags | log::kRecordRelocated;
        frel->seq = fh.seq;
        frel->var =
            frec.substr(log::record_header_fixed_bytes,
                        fh.header_bytes - log::record_header_fixed_bytes);
        frel->payload = frec.substr(fh.header_bytes);
        frel->from = e.address;
        WriteRequest fr;
        fr.kind = WriteRequest::Kind::kRelocate;
        fr.bucket = "-";
        fr.body_bytes = frel->payload.size();
        fr.relocation = frel;
        Done d = SubmitAndWait(this, std::move(fr));
        if (!d.status.ok()) {
          error = d.status;
          ok = false;
          break;
        }
        e.address = d.result.address;
        pace(fbytes);
      }
      if (!ok) break;
      rel->payload.clear();
      log::EncodeExtents(extents, &rel->payload);
      TS_ASSERT(rel->payload.size() == payload_bytes);
    }
    WriteRequest r;
    r.kind = WriteRequest::Kind::kRelocate;
    r.bucket = it.bucket;
    r.key = it.key;
    r.body_bytes = rel->payload.size();
    r.relocation = rel;
    ready.emplace_back(std::move(r), bytes);
    ready_bytes += bytes;
    if (ready_bytes >= batch && !flush_ready()) break;
    pace(bytes);
  }
  if (error.ok()) flush_ready();
  submit_stones();  // nothing live was copied
  while (!inflight.empty()) {
    settle(&inflight.front().first, inflight.front().second);
    inflight.pop_front();
  }
  if (options.rate_bytes_per_sec > 0 && moved > paced) {
    std::this_thread::sleep_until(
        began + std::chrono::microseconds(moved * 1000000 /
                                          options.rate_bytes_per_sec));
  }
  gc_bytes_moved_ += report->bytes_moved;
  // A drive that fails meanwhile (degraded writes) fails the copies in its
  // group: the segment stays whole and the run waits for the heal, like a
  // compaction that found the store degraded.
  auto degraded_now = [this]() {
    bool degraded = false;
    for (const auto& dr : drives_) degraded |= dr->absent;
    std::lock_guard<std::mutex> lock(degraded_mu_);
    return degraded || down_mask_ != 0 || HealWorkLocked();
  };
  if (!error.ok() && degraded_now()) {
    report->skipped = "a drive went down during the compaction (degraded)";
    return Status::Ok();
  }
  if (!error.ok()) return error;
  if (options.cancel != nullptr && options.cancel->load()) {
    report->skipped = "cancelled";
    return Status::Ok();
  }
  KILL_POINT("gc.before_reclaim");
  WriteRequest rr;
  rr.kind = WriteRequest::Kind::kReclaim;
  rr.bucket = "-";
  rr.reclaim_segment = segment;
  Done d = SubmitAndWait(this, std::move(rr));
  if (d.status.ok()) d.status = FinishReclaim(segment, seg);
  if (d.status.code() == StatusCode::kPreconditionFailed) {
    report->skipped = d.status.message();
    return Status::Ok();
  }
  if (!d.status.ok() && !usage_.Freed(segment)) {
    if (!degraded_now()) return d.status;
    report->skipped = "a drive went down during the compaction (degraded)";
    return Status::Ok();
  }
  // (Freed, but a drive failed its part: the other drives' freed headers
  // make the next open finish it there.)
  report->freed = true;
  report->bytes_reclaimed = sdb;
  report->physical_bytes_reclaimed =
      (layout_.segment_file_bytes() - log::segment_header_bytes) *
      layout_.shards();
  gc_segments_compacted_++;
  gc_bytes_reclaimed_ += sdb;
  return Status::Ok();
}

SpaceStats Engine::Space() const {
  SpaceStats st;
  const uint64_t sdb = layout_.segment_data_bytes();
  const uint64_t next = stats().next_address;
  st.tail_segment = next / sdb;
  st.segment_data_bytes = sdb;
  st.segment_file_bytes = layout_.segment_file_bytes();
  for (const SegmentSpace& s : usage_.All()) {
    SpaceStats::Segment o;
    o.id = s.id;
    o.freed = s.freed;
    o.max_seq = s.max_seq;
    o.live_bytes = s.live_bytes;
    o.tail = s.id == st.tail_segment;
    if (s.freed) {
      st.segments_freed++;
      st.physical_bytes += log::segment_header_bytes * layout_.shards();
    } else {
      st.segments++;
      st.physical_bytes += layout_.segment_file_bytes() * layout_.shards();
      st.log_bytes += sdb;
      o.used_bytes = s.id < st.tail_segment    ? sdb
                     : s.id == st.tail_segment ? next - s.id * sdb
                                               : 0;
      o.dead_bytes =
          o.used_bytes > s.live_bytes ? o.used_bytes - s.live_bytes : 0;
    }
    st.live_bytes += o.live_bytes;
    st.dead_bytes += o.dead_bytes;
    st.per_segment.push_back(o);
  }
  st.gc_segments_compacted = gc_segments_compacted_.load();
  st.gc_bytes_moved = gc_bytes_moved_.load();
  st.gc_bytes_reclaimed = gc_bytes_reclaimed_.load();
  st.gc_running = gc_running_.load();
  st.gc_segment = gc_segment_.load();
  st.gc_moved = gc_moved_.load();
  st.gc_total = gc_total_.load();
  return st;
}

}  // namespace engine
}  // namespace tessera
