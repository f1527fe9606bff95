// Scrub and heal: read every chunk of the written log, verify its trailer
// (CRC32C, segment, stripe, drive) and the stripe's agreement on one
// group_seq, and with `heal` rewrite every missing or bad chunk from the k
// agreeing ones, in place at its own offset, then fdatasync. A torn rewrite
// fails its chunk CRC like any other damage and the next heal repairs it:
// the rebuilt chunk is byte-identical to the one first written (same
// payload, same trailer), so rewriting never changes what a reader sees.
//
// It runs on the caller's thread with its own file descriptors (opened by
// path, so a segment file deleted or truncated under the engine is seen as
// it is on disk), concurrently with reads and writes: it only touches
// stripes below the log end taken when it starts, which are immutable.
#include <inttypes.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "core/ts_assert.h"
#include "ec/reed_solomon.h"
#include "engine/engine.h"
#include "engine/kill_points.h"
#include "io/aligned_buffer.h"

namespace tessera {
namespace engine {
namespace {

constexpr uint32_t kScrubBatchStripes = 64;
constexpr size_t kDamageNotesMax = 100;

std::string SegmentFileName(uint64_t id) {
  char buf[40];
  snprintf(buf, sizeof(buf), "seg-%016" PRIx64 ".dat", id);
  return buf;
}

// The header's fields and CRC end at byte 48 (format.md); the rest of its
// 4096 bytes is written as zeros, which the decoder does not need to look
// at but a scrub does, so that no bit of a segment file rots unreported.
bool PaddingZero(const uint8_t* header, size_t len) {
  constexpr size_t kHeaderFieldBytes = 48;
  for (size_t i = kHeaderFieldBytes; i < len; i++) {
    if (header[i] != 0) return false;
  }
  return true;
}

void Note(ScrubReport* report, const std::string& what) {
  if (report->damage.size() < kDamageNotesMax) report->damage.push_back(what);
}

}  // namespace

void Engine::NoteDamage(uint64_t segment, uint32_t stripe) {
  TS_ASSERT(stripe < layout_.segment_stripes);
  std::lock_guard<std::mutex> lock(stats_mu_);
  if (damaged_stripes_.size() < 1000000) {
    damaged_stripes_.insert({segment, stripe});
  }
  TS_ASSERT(!damaged_stripes_.empty());
}

std::vector<std::pair<uint64_t, uint32_t>> Engine::DamagedStripes() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return {damaged_stripes_.begin(), damaged_stripes_.end()};
}

Status Engine::Scrub(const ScrubOptions& options, ScrubReport* report) {
  TS_ASSERT(report != nullptr);
  TS_ASSERT(layout_.Valid());
  *report = ScrubReport();
  const uint64_t end = stats().next_address;
  const uint64_t sdb = layout_.stripe_data_bytes();
  const uint64_t start = std::min(end, options.start_address / sdb * sdb);
  report->start_address = start;
  report->end_address = end;
  report->cursor = start;
  const auto began = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  // [start, end) in batches of stripes, segment by segment.
  uint64_t address = start;
  while (address < end) {
    if (options.cancel != nullptr && options.cancel->load()) {
      report->cancelled = true;
      break;
    }
    const uint64_t segment = address / layout_.segment_data_bytes();
    const uint32_t stripe =
        uint32_t(address % layout_.segment_data_bytes() / sdb);
    const uint64_t seg_end =
        std::min(end, (segment + 1) * layout_.segment_data_bytes());
    const uint32_t count = uint32_t(
        std::min<uint64_t>(kScrubBatchStripes, (seg_end - address) / sdb));
    TS_ASSERT(count >= 1);
    {
      // A segment freed by compaction (compaction.cc) holds nothing: skip
      // it; the shared hold keeps a free from starting mid-batch.
      std::shared_lock<std::shared_mutex> hold(reclaim_mu_);
      if (SegmentFreed(segment)) {
        address = std::min(end, (segment + 1) * layout_.segment_data_bytes());
        report->cursor = address;
        continue;
      }
      TS_RETURN_IF_ERROR(
          ScrubSegment(segment, stripe, stripe + count, options, report));
    }
    address += uint64_t(count) * sdb;
    report->cursor = address;
    bytes += uint64_t(count) * layout_.chunk_bytes * layout_.shards();
    if (options.progress) options.progress(address, end);
    if (options.rate_bytes_per_sec > 0) {
      const auto due =
          began + std::chrono::microseconds(bytes * 1000000 /
                                            options.rate_bytes_per_sec);
      std::this_thread::sleep_until(due);
    }
  }
  if (options.heal && !report->cancelled) {
    // Stripes that reads rebuilt and that this pass covered are whole now.
    std::lock_guard<std::mutex> lock(stats_mu_);
    for (auto it = damaged_stripes_.begin(); it != damaged_stripes_.end();) {
      const uint64_t a = layout_.StripeAddress(it->first, it->second);
      it = (a >= start && a < end) ? damaged_stripes_.erase(it) : std::next(it);
    }
  }
  TS_ASSERT(report->cursor <= end);
  return Status::Ok();
}

// Stripes [first, end) of one segment, on every drive.
Status Engine::ScrubSegment(uint64_t segment, uint32_t first, uint32_t end,
                            const ScrubOptions& options, ScrubReport* report) {
  TS_ASSERT(first < end && end <= layout_.segment_stripes);
  const uint32_t n = layout_.shards();
  const uint32_t k = layout_.data_shards;
  const uint32_t c = layout_.chunk_bytes;
  const uint32_t count = end - first;
  const std::string name = SegmentFileName(segment);
  const int flags =
      io::kOpenRead | io::kOpenWrite | (use_direct_ ? io::kOpenDirect : 0);
  std::vector<int> fds(n, -1);
  std::vector<bool> header_ok(n, false);
  std::vector<io::AlignedBuffer> bufs(n);
  std::vector<size_t> got(n, 0);
  io::AlignedBuffer header;
  TS_RETURN_IF_ERROR(
      io::AlignedBuffer::Allocate(log::segment_header_bytes, &header));
  const bool first_batch = first == 0;
  for (uint32_t d = 0; d < n; d++) {
    TS_RETURN_IF_ERROR(
        io::AlignedBuffer::Allocate(size_t(count) * c, &bufs[d]));
    memset(bufs[d].data(), 0, bufs[d].size());
    const std::string path = DriveDir(d) + "/segments/" + name;
    if (!fs_->Open(path, flags, &fds[d]).ok()) {
      fds[d] = -1;
      if (first_batch) {
        report->headers_bad++;
        Note(report, "drive " + std::to_string(d) + ": " + name + " missing");
      }
      continue;
    }
    size_t hgot = 0;
    log::SegmentHeader h;
    header_ok[d] =
        fs_->Pread(fds[d], header.data(), header.size(), 0, &hgot).ok() &&
        hgot == header.size() &&
        log::DecodeSegmentHeader(header.data(), hgot, &h).ok() &&
        h.segment_id == segment && h.drive_index == d &&
        memcmp(h.store_id, store_id_, 16) == 0 &&
        PaddingZero(header.data(), header.size());
    if (!header_ok[d] && first_batch) {
      report->headers_bad++;
      Note(report, "drive " + std::to_string(d) + ": " + name + " header bad");
    }
    if (!fs_->Pread(fds[d], bufs[d].data(), bufs[d].size(),
                    layout_.StripeFileOffset(first), &got[d])
             .ok()) {
      got[d] = 0;
    }
  }
  // Verify every chunk; per stripe, the group_seq most valid chunks agree on.
  std::vector<bool> rewrite(n, false);
  std::vector<std::vector<bool>> bad(count, std::vector<bool>(n, false));
  std::vector<bool> recoverable(count, false);
  // Chunks to write back: rebuilt bad ones, and (force_drive_mask) every
  // chunk of the forced drives, good-looking or not.
  std::vector<std::vector<bool>> write(count, std::vector<bool>(n, false));
  std::vector<log::ChunkTrailer> agreed(count);
  for (uint32_t i = 0; i < count; i++) {
    std::vector<log::ChunkTrailer> t(n);
    std::vector<bool> valid(n, false);
    std::map<uint64_t, uint32_t> votes;
    for (uint32_t d = 0; d < n; d++) {
      const uint8_t* chunk = bufs[d].data() + size_t(i) * c;
      valid[d] = size_t(i + 1) * c <= got[d] &&
                 log::OpenChunk(chunk, c, &t[d]).ok() &&
                 t[d].segment_id == segment && t[d].stripe_index == first + i &&
                 t[d].drive_index == d;
      if (valid[d]) votes[t[d].group_seq]++;
    }
    report->stripes_checked++;
    report->chunks_checked += n;
    uint64_t seq = 0;
    uint32_t best = 0;
    for (const auto& v : votes) {
      if (v.second > best) {
        best = v.second;
        seq = v.first;
      }
    }
    if (best == 0) {
      // Never written (a group that did not fit left the segment's tail
      // unused) or lost on every drive; the log chain tells which, not
      // the chunks, so it is counted apart from damage.
      report->stripes_empty++;
      continue;
    }
    for (uint32_t d = 0; d < n; d++) {
      if (valid[d] && t[d].group_seq == seq) {
        agreed[i] = t[d];
        continue;
      }
      bad[i][d] = true;
      report->chunks_bad++;
      Note(report, "segment " + std::to_string(segment) + " stripe " +
                       std::to_string(first + i) + " drive " +
                       std::to_string(d) +
                       (valid[d] ? ": stale chunk" : ": chunk bad"));
    }
    if (best < k) {
      report->stripes_unrecoverable++;
      Note(report, "segment " + std::to_string(segment) + " stripe " +
                       std::to_string(first + i) + ": unrecoverable");
      continue;
    }
    recoverable[i] = true;
    if (!options.heal) continue;
    for (uint32_t d = 0; d < n; d++) {
      write[i][d] = bad[i][d] || (options.force_drive_mask >> d & 1) != 0;
      if (write[i][d]) rewrite[d] = true;
    }
    int missing[log::shards_max];
    int missing_count = 0;
    uint8_t* ptrs[log::shards_max];
    for (uint32_t d = 0; d < n; d++) {
      ptrs[d] = bufs[d].data() + size_t(i) * c;
      if (bad[i][d]) missing[missing_count++] = int(d);
    }
    if (missing_count == 0) continue;
    TS_ASSERT(uint32_t(missing_count) <= layout_.parity_shards);
    codec_->Reconstruct(layout_.payload_bytes(), ptrs, missing, missing_count);
    for (int j = 0; j < missing_count; j++) {
      log::ChunkTrailer tr = agreed[i];
      tr.drive_index = uint8_t(missing[j]);
      log::SealChunk(tr, ptrs[missing[j]], c);
      rewrite[missing[j]] = true;
    }
  }
  Status result;
  for (uint32_t d = 0; d < n && options.heal; d++) {
    const bool fix_header = !header_ok[d] && first_batch;
    if (!rewrite[d] && !fix_header) continue;
    if (DriveAbsent(d) || (options.heal_drive_mask != 0 &&
                           !(options.heal_drive_mask & (uint64_t{1} << d)))) {
      continue;  // a drive that is down: healed when it is back
    }
    const std::string dir = DriveDir(d) + "/segments";
    bool created = false;
    if (fds[d] < 0) {
      Status s = fs_->Open(dir + "/" + name, flags | io::kOpenCreate, &fds[d]);
      if (!s.ok()) {
        fds[d] = -1;
        result = s;
        continue;
      }
      created = true;
    }
    io::FileStat st;
    Status s = fs_->Fstat(fds[d], &st);
    if (s.ok() && st.size_bytes < layout_.segment_file_bytes()) {
      s = fs_->Fallocate(fds[d], 0, layout_.segment_file_bytes());
    }
    if (s.ok() && (fix_header || created || !header_ok[d])) {
      log::SegmentHeader h;
      h.segment_id = segment;
      h.drive_index = d;
      memcpy(h.store_id, store_id_, 16);
      log::EncodeSegmentHeader(h, header.data());
      s = fs_->Pwrite(fds[d], header.data(), header.size(), 0);
    }
    KILL_POINT("heal.before_write");
    // Each rebuilt chunk at its own offset; good chunks are not rewritten
    // (unless forced).
    for (uint32_t i = 0; s.ok() && i < count; i++) {
      if (!recoverable[i] || !write[i][d]) continue;
      s = fs_->Pwrite(fds[d], bufs[d].data() + size_t(i) * c, c,
                      layout_.StripeFileOffset(first + i));
    }
    if (s.ok()) KILL_POINT("heal.before_sync");
    if (s.ok()) s = fs_->Fdatasync(fds[d]);
    if (s.ok() && created) s = fs_->FsyncDir(dir);
    if (!s.ok()) {
      result = s;
      continue;
    }
    if (fix_header) report->headers_healed++;
    for (uint32_t i = 0; i < count; i++) {
      if (recoverable[i] && bad[i][d]) report->chunks_healed++;
      if (recoverable[i] && write[i][d]) report->chunks_written++;
    }
  }
  for (int fd : fds) {
    if (fd >= 0) (void)fs_->Close(fd).ok();
  }
  TS_ASSERT(report->chunks_healed <= report->chunks_bad);
  return result;
}

}  // namespace engine
}  // namespace tessera
