// The change feed: committed OBJECT and DELETE records of the log, read
// back in commit order (docs/events.md).
//
// Every record the committer writes takes the next seq, and a group whose
// write failed gives its seqs back (RunGroup), so the records of the
// published log carry consecutive seqs 1, 2, 3, ... in log order (fragments
// and bucket records included, though they are not events). That is what
// lets a reader tell "nothing happened" from "records were reclaimed": a
// jump in seq between two records it reads means the records in between
// are gone (their segment was reclaimed), and the call fails with
// kChangesExpired instead of silently skipping them.
//
// What is read is exactly what recovery would replay: the chain of commit
// groups (a GROUP record at a stripe whose chunks carry the group-start
// flag), minus groups a later group's void range covers (a failed or torn
// group is always voided by the next group in the chain that has a GROUP
// record), minus groups damaged beyond parity, and only below the end of
// the last published group. Relocated copies (log::kRecordRelocated) are
// skipped: their change was reported where the original was written.
//
// Runs on whatever thread calls it (the binding posts it to a reader
// thread); it only reads immutable parts of the log. Small caches keep
// facts about the published log that never change: each segment's first
// seq, where a chain break resumes, and where the last calls stopped.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "core/ts_assert.h"
#include "engine/engine.h"

namespace tessera {
namespace engine {

namespace {

constexpr uint32_t kSearchBatchStripes = 64;
constexpr size_t kCacheEntriesMax = 4096;
constexpr uint64_t kWindowBytes = 256u << 10;

template <typename Map>
void Bound(Map* m) {
  if (m->size() > kCacheEntriesMax) m->clear();
}

}  // namespace

// A GROUP record starts at (segment, stripe) when at least k chunks of the
// stripe verify, carry the group-start flag and agree on a group_seq, and
// the GROUP record there names this place and that group_seq. kNotFound
// otherwise.
Status Engine::TryGroupStart(uint64_t segment, uint32_t stripe,
                             FeedGroup* out) {
  TS_ASSERT(stripe < layout_.segment_stripes);
  std::vector<std::vector<uint8_t>> data;
  std::vector<log::ChunkTrailer> trailers;
  std::vector<bool> valid;
  TS_RETURN_IF_ERROR(ReadStripe(segment, stripe, 1, &data, &trailers, &valid));
  std::map<uint64_t, uint32_t> votes;
  for (uint32_t d = 0; d < layout_.shards(); d++) {
    if (valid[d] && (trailers[d].flags & log::kChunkGroupStart) != 0) {
      votes[trailers[d].group_seq]++;
    }
  }
  uint64_t seq = 0;
  uint32_t best = 0;
  for (const auto& v : votes) {
    if (v.second > best) {
      best = v.second;
      seq = v.first;
    }
  }
  const Status none(StatusCode::kNotFound, "no group start");
  if (best < layout_.data_shards) return none;
  const uint64_t address = layout_.StripeAddress(segment, stripe);
  uint8_t bytes[log::group_record_bytes];
  if (valid[0] && trailers[0].group_seq == seq) {
    memcpy(bytes, data[0].data(), sizeof(bytes));
  } else {
    Status s = ReadLog(address, sizeof(bytes), bytes);
    if (s.code() == StatusCode::kCorrupt) return none;
    TS_RETURN_IF_ERROR(s);
  }
  log::RecordHeader h;
  size_t needed = 0;
  log::GroupRecord g;
  Status s = log::DecodeRecordHeader(bytes, sizeof(bytes), &h, &needed);
  if (!s.ok() || h.type != log::RecordType::kGroup ||
      h.header_bytes != log::group_record_bytes) {
    return none;
  }
  s = log::DecodeGroupVar(
      std::string_view(
          reinterpret_cast<const char*>(bytes) + log::record_header_fixed_bytes,
          h.header_bytes - log::record_header_fixed_bytes),
      &g);
  if (!s.ok() || g.group_seq != seq || g.segment_id != segment ||
      g.first_stripe != stripe ||
      uint64_t(stripe) + g.stripe_count > layout_.segment_stripes ||
      g.used_bytes < log::group_record_bytes ||
      g.used_bytes > uint64_t(g.stripe_count) * layout_.stripe_data_bytes()) {
    return none;
  }
  out->address = address;
  out->group = g;
  return Status::Ok();
}

// The first group of the chain at or after `address` (a stripe start) and
// below `limit`: at `address` itself, else the next group start further in
// that segment (after a torn tail, writing went on after the junk), else
// in the following segments.
Status Engine::FindGroup(uint64_t address, uint64_t limit, FeedGroup* out,
                         bool* found) {
  const uint64_t sdb = layout_.stripe_data_bytes();
  const uint64_t segment_bytes = layout_.segment_data_bytes();
  TS_ASSERT(address % sdb == 0);
  *found = false;
  {
    std::lock_guard<std::mutex> lock(changes_mu_);
    auto it = chain_next_.find(address);
    if (it != chain_next_.end()) address = it->second;
  }
  const uint64_t asked = address;
  while (address < limit) {
    const uint64_t segment = address / segment_bytes;
    uint32_t stripe = uint32_t(address % segment_bytes / sdb);
    Segment* seg = nullptr;
    TS_RETURN_IF_ERROR(OpenSegment(segment, false, &seg));
    // A segment freed by compaction reads as absent: its seqs are gone, so
    // a reader that needs them gets kChangesExpired.
    if (seg != nullptr && SegmentFreed(segment)) seg = nullptr;
    if (seg != nullptr) {
      Status s = TryGroupStart(segment, stripe, out);
      if (s.code() != StatusCode::kNotFound) {
        TS_RETURN_IF_ERROR(s);
        *found = true;
        break;
      }
      // A chain break: search the rest of the segment in batches, trying
      // a group start only where k chunks carry the flag.
      stripe++;
      while (!*found && stripe < layout_.segment_stripes &&
             layout_.StripeAddress(segment, stripe) < limit) {
        const uint32_t count =
            std::min(kSearchBatchStripes, layout_.segment_stripes - stripe);
        std::vector<std::vector<uint8_t>> batch;
        std::vector<log::ChunkTrailer> trailers;
        std::vector<bool> valid;
        TS_RETURN_IF_ERROR(
            ReadStripe(segment, stripe, count, &batch, &trailers, &valid));
        for (uint32_t i = 0; i < count && !*found; i++) {
          uint32_t flagged = 0;
          for (uint32_t d = 0; d < layout_.shards(); d++) {
            const size_t at = size_t(i) * layout_.shards() + d;
            if (valid[at] && (trailers[at].flags & log::kChunkGroupStart)) {
              flagged++;
            }
          }
          if (flagged < layout_.data_shards) continue;
          s = TryGroupStart(segment, stripe + i, out);
          if (s.code() == StatusCode::kNotFound) continue;
          TS_RETURN_IF_ERROR(s);
          *found = true;
        }
        stripe += count;
      }
      if (*found) break;
    }
    address = (segment + 1) * segment_bytes;
  }
  if (*found && out->address >= limit) *found = false;
  if (*found && out->address != asked) {
    // Everything between is below a published group: it never changes.
    std::lock_guard<std::mutex> lock(changes_mu_);
    Bound(&chain_next_);
    chain_next_[asked] = out->address;
  }
  return Status::Ok();
}

// Record headers of a group, read through a window of the group's bytes
// so that small records share reads and large payloads are skipped.
Status Engine::ReadGroupRecords(
    const FeedGroup& cg,
    const std::function<bool(const log::RecordHeader&, std::string_view)>& each,
    bool* damaged) {
  *damaged = false;
  const uint64_t used = cg.group.used_bytes;
  std::string window;
  uint64_t wstart = 0, wend = 0;
  // Makes [pos, pos + len) of the group readable in `window`.
  auto need = [&](uint64_t pos, uint64_t len) -> Status {
    if (pos >= wstart && pos + len <= wend) return Status::Ok();
    wstart = pos;
    wend = std::min(used, pos + std::max<uint64_t>(len, kWindowBytes));
    window.resize(wend - wstart);
    return ReadLog(cg.address + wstart, window.size(),
                   reinterpret_cast<uint8_t*>(&window[0]));
  };
  uint64_t pos = log::group_record_bytes;
  while (pos < used) {
    if (used - pos < log::record_header_fixed_bytes) break;
    Status s = need(pos, log::record_header_fixed_bytes);
    log::RecordHeader h;
    size_t needed = 0;
    if (s.ok()) {
      s = log::DecodeRecordHeader(
          reinterpret_cast<const uint8_t*>(window.data()) + (pos - wstart),
          wend - pos, &h, &needed);
      if (s.code() == StatusCode::kOutOfRange && pos + needed <= used) {
        s = need(pos, needed);
        if (s.ok()) {
          s = log::DecodeRecordHeader(
              reinterpret_cast<const uint8_t*>(window.data()) + (pos - wstart),
              wend - pos, &h, &needed);
        }
      }
    }
    if (s.code() == StatusCode::kCorrupt && pos == log::group_record_bytes) {
      *damaged = true;  // beyond parity (ReadLog) or never whole
      return Status::Ok();
    }
    TS_RETURN_IF_ERROR(s);
    if (pos + h.header_bytes + h.payload_bytes > used) {
      return Status(StatusCode::kCorrupt,
                    "a record runs past the end of its group");
    }
    const std::string_view var(
        window.data() + (pos - wstart) + log::record_header_fixed_bytes,
        h.header_bytes - log::record_header_fixed_bytes);
    if (!each(h, var)) break;
    pos += h.header_bytes + h.payload_bytes;
  }
  return Status::Ok();
}

// The seq of the first own (not relocated) record of `segment` below
// `limit`, or 0 when it has none (or is missing). Cached once final.
Status Engine::SegmentFirstSeq(uint64_t segment, uint64_t limit,
                               uint64_t* first) {
  *first = 0;
  {
    std::lock_guard<std::mutex> lock(changes_mu_);
    auto it = segment_first_seq_.find(segment);
    if (it != segment_first_seq_.end()) {
      *first = it->second;
      return Status::Ok();
    }
  }
  const uint64_t start = layout_.StripeAddress(segment, 0);
  const uint64_t end = start + layout_.segment_data_bytes();
  const uint64_t stop = std::min(end, limit);
  uint64_t address = start;
  while (address < stop && *first == 0) {
    FeedGroup cg;
    bool found = false;
    TS_RETURN_IF_ERROR(FindGroup(address, stop, &cg, &found));
    if (!found) break;
    address = cg.address +
              uint64_t(cg.group.stripe_count) * layout_.stripe_data_bytes();
    bool damaged = false;
    TS_RETURN_IF_ERROR(ReadGroupRecords(
        cg,
        [first](const log::RecordHeader& h, std::string_view) {
          if ((h.flags & log::kRecordRelocated) != 0 || h.seq == 0) {
            return true;
          }
          *first = h.seq;
          return false;
        },
        &damaged));
  }
  if (*first != 0 || end <= limit) {
    std::lock_guard<std::mutex> lock(changes_mu_);
    Bound(&segment_first_seq_);
    segment_first_seq_[segment] = *first;
  }
  return Status::Ok();
}

// Where to start reading for `seq`: the start of the last segment whose
// first own record is at or before it (binary search over segment ids;
// segments without own records are passed over).
Status Engine::LocateSeq(uint64_t seq, uint64_t limit, uint64_t* address) {
  *address = 0;
  if (limit == 0) return Status::Ok();
  const uint64_t last = (limit - 1) / layout_.segment_data_bytes();
  uint64_t lo = 0, hi = last, answer = 0;
  while (lo <= hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    uint64_t s = mid, first = 0;
    for (; s <= hi; s++) {
      TS_RETURN_IF_ERROR(SegmentFirstSeq(s, limit, &first));
      if (first != 0) break;
    }
    if (first != 0 && first <= seq) {
      answer = s;
      lo = s + 1;
    } else {
      if (mid == 0) break;
      hi = mid - 1;
    }
  }
  *address = layout_.StripeAddress(answer, 0);
  return Status::Ok();
}

Status Engine::ReadChanges(uint64_t from_seq, uint32_t max_events,
                           ChangesPage* out) {
  TS_ASSERT(out != nullptr);
  *out = ChangesPage();
  if (from_seq == 0) from_seq = 1;
  // No segment is freed while the page is read (compaction.cc): one that
  // was freed before reads as absent (FindGroup).
  std::shared_lock<std::shared_mutex> hold(reclaim_mu_);
  // Seq first, then the end: every record <= committed is below `limit`.
  const uint64_t committed = committed_seq_.load();
  const uint64_t limit = published_end_.load();
  out->committed_seq = committed;
  out->next_seq = from_seq;
  if (from_seq > committed || max_events == 0) return Status::Ok();
  // Failed groups whose void went to degraded.dat instead of the next
  // group's void range. Copied after `limit`: a failed group's void is
  // recorded before any later group is published.
  std::vector<std::pair<uint64_t, uint64_t>> degraded_voids;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    degraded_voids = degraded_.voids;
  }
  auto in_degraded_void = [&](uint64_t address) {
    for (const auto& v : degraded_voids) {
      if (address >= v.first && address < v.second) return true;
    }
    return false;
  };

  uint64_t address = 0;
  bool hinted = false;
  {
    std::lock_guard<std::mutex> lock(changes_mu_);
    auto it = resume_at_.find(from_seq);
    if (it != resume_at_.end()) {
      address = it->second;
      hinted = true;
    }
  }
  if (!hinted) TS_RETURN_IF_ERROR(LocateSeq(from_seq, limit, &address));

  uint64_t expected = from_seq;  // the seq the next own record must carry
  bool unknown_gap = false;      // a damaged group: its seqs are unknown
  bool full = false;
  uint64_t resume = limit;  // group address holding `expected`
  FeedGroup cur, next;
  bool have_cur = false, have_next = false;
  TS_RETURN_IF_ERROR(FindGroup(address, limit, &cur, &have_cur));
  while (have_cur && !full) {
    const uint64_t cur_end = cur.address + uint64_t(cur.group.stripe_count) *
                                               layout_.stripe_data_bytes();
    TS_RETURN_IF_ERROR(FindGroup(cur_end, limit, &next, &have_next));
    // A failed or torn group is voided by the next group in the chain.
    const bool voided =
        (have_next && next.group.void_end > next.group.void_start &&
         cur.address >= next.group.void_start &&
         cur.address < next.group.void_end) ||
        in_degraded_void(cur.address);
    if (!voided) {
      Status failure;
      bool damaged = false;
      TS_RETURN_IF_ERROR(ReadGroupRecords(
          cur,
          [&](const log::RecordHeader& h, std::string_view var) {
            if ((h.flags & log::kRecordRelocated) != 0 || h.seq < expected) {
              return true;
            }
            if (h.seq > committed) {
              full = true;  // published after this call began
              return false;
            }
            if (h.seq != expected && !unknown_gap) {
              out->oldest_seq = h.seq;
              failure = Status(StatusCode::kChangesExpired,
                               "changes from seq " + std::to_string(expected) +
                                   " are no longer in the log; the oldest "
                                   "available is " +
                                   std::to_string(h.seq));
              return false;
            }
            const bool is_event = h.type == log::RecordType::kObject ||
                                  h.type == log::RecordType::kDelete;
            if (is_event && out->events.size() >= max_events) {
              full = true;
              return false;
            }
            unknown_gap = false;
            if (is_event) {
              ChangeEvent e;
              e.seq = h.seq;
              if (h.type == log::RecordType::kObject) {
                log::ObjectRecord o;
                failure = log::DecodeObjectVar(var, &o);
                if (!failure.ok()) return false;
                e.delete_marker = (h.flags & log::kObjectDeleteMarker) != 0;
                e.deleted = e.delete_marker;
                e.bucket = std::move(o.bucket);
                e.key = std::move(o.key);
                e.version_id = std::move(o.version_id);
                if (!e.delete_marker) {
                  e.size = o.size;
                  memcpy(e.etag, o.etag, 16);
                  e.part_count = o.part_count;
                }
                e.time_ms = o.mtime_ms;
              } else {
                log::DeleteRecord d;
                failure = log::DecodeDeleteVar(var, &d);
                if (!failure.ok()) return false;
                e.deleted = true;
                e.bucket = std::move(d.bucket);
                e.key = std::move(d.key);
                e.version_id = d.version_id.empty() ? "null" : d.version_id;
              }
              out->events.push_back(std::move(e));
            }
            expected = h.seq + 1;
            return true;
          },
          &damaged));
      if (!failure.ok()) {
        out->next_seq = expected;
        return failure;
      }
      if (damaged) unknown_gap = true;  // skipped, as recovery skips it
      if (full) resume = cur.address;
    }
    if (full) break;
    cur = next;
    have_cur = have_next;
    resume = have_next ? next.address : limit;
  }
  out->next_seq = expected;
  {
    std::lock_guard<std::mutex> lock(changes_mu_);
    Bound(&resume_at_);
    resume_at_[expected] = resume;
  }
  TS_ASSERT(out->events.size() <= max_events);
  return Status::Ok();
}

}  // namespace engine
}  // namespace tessera
