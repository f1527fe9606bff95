// Degraded writes (issue 7): the committer writes each commit group to the
// drives that are up and acknowledges it once a write quorum of them holds
// it durably (engine.cc, WriteGroupBytes); this file keeps the bookkeeping
// of what the other drives missed (degraded.dat, see degraded.h), tries
// down drives again, and heals what they missed in the background once
// they are back, at a bounded rate, resumably.
#include "engine/degraded.h"

#include <inttypes.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "checksum/crc.h"
#include "core/ts_assert.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/kill_points.h"
#include "engine/segment.h"
#include "io/aligned_buffer.h"

namespace tessera {
namespace engine {

// engine.cc
Status DurableFileWrite(io::Fs* fs, const std::string& dir,
                        const std::string& name, const std::string& bytes);
Status ReadFileBytes(io::Fs* fs, const std::string& path, std::string* out);

namespace {

constexpr uint32_t kDegradedMagic = 0x44524744;  // "DGRD"
constexpr uint32_t kDegradedVersion = 1;
constexpr uint32_t kHealBatchStripes = 64;
constexpr const char* kDegradedFile = "degraded.dat";
constexpr uint32_t kEntriesMax = 1u << 20;

void Put32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; i++) s->push_back(char(v >> (8 * i)));
}
void Put64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; i++) s->push_back(char(v >> (8 * i)));
}
struct Reader {
  const std::string& s;
  size_t pos = 0;
  bool ok = true;
  uint64_t Get(int bytes) {
    if (!ok || s.size() - pos < size_t(bytes)) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | uint8_t(s[pos + i]);
    pos += bytes;
    return v;
  }
};

uint64_t SteadyMs() {
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

std::string SegmentFile(uint64_t id) {
  char buf[40];
  snprintf(buf, sizeof(buf), "seg-%016" PRIx64 ".dat", id);
  return buf;
}

}  // namespace

void EncodeDegraded(const DegradedState& state, const uint8_t store_id[16],
                    std::string* out) {
  out->clear();
  Put32(out, kDegradedMagic);
  Put32(out, kDegradedVersion);
  out->append(reinterpret_cast<const char*>(store_id), 16);
  Put64(out, state.generation);
  Put32(out, uint32_t(state.missed.size()));
  Put32(out, uint32_t(state.voids.size()));
  for (const MissedRange& r : state.missed) {
    Put32(out, r.drive);
    Put64(out, r.start);
    Put64(out, r.end);
  }
  for (const auto& v : state.voids) {
    Put64(out, v.first);
    Put64(out, v.second);
  }
  Put32(out, crc32c::Extend(0, out->data(), out->size()));
}

Status DecodeDegraded(const std::string& bytes, const uint8_t store_id[16],
                      DegradedState* out) {
  TS_ASSERT(out != nullptr);
  const Status bad(StatusCode::kCorrupt, "degraded.dat does not verify");
  if (bytes.size() < 44) return bad;
  Reader r{bytes};
  if (r.Get(4) != kDegradedMagic || r.Get(4) != kDegradedVersion) return bad;
  if (memcmp(bytes.data() + r.pos, store_id, 16) != 0) return bad;
  r.pos += 16;
  DegradedState s;
  s.generation = r.Get(8);
  const uint64_t missed = r.Get(4), voids = r.Get(4);
  if (!r.ok || missed > kEntriesMax || voids > kEntriesMax ||
      bytes.size() != r.pos + missed * 20 + voids * 16 + 4) {
    return bad;
  }
  const uint32_t crc = crc32c::Extend(0, bytes.data(), bytes.size() - 4);
  for (uint64_t i = 0; i < missed; i++) {
    MissedRange m;
    m.drive = uint32_t(r.Get(4));
    m.start = r.Get(8);
    m.end = r.Get(8);
    if (m.drive >= 255 || m.end < m.start) return bad;
    s.missed.push_back(m);
  }
  for (uint64_t i = 0; i < voids; i++) {
    const uint64_t a = r.Get(8), b = r.Get(8);
    if (b < a) return bad;
    s.voids.push_back({a, b});
  }
  if (!r.ok || r.Get(4) != crc || r.pos != bytes.size()) return bad;
  *out = std::move(s);
  return Status::Ok();
}

// ------------------------------------------------------ drive up / down

uint64_t Engine::DownMaskOf(const Segment& seg) const {
  uint64_t mask = 0;
  for (uint32_t d = 0; d < layout_.shards(); d++) {
    if (!seg.drive_ok[d]) mask |= uint64_t{1} << d;
  }
  return mask;
}

bool Engine::ProbeDownDrives(Segment* seg, uint64_t only_mask) {
  TS_ASSERT(seg != nullptr);
  if ((DownMaskOf(*seg) & only_mask) == 0) return true;
  const uint64_t now = SteadyMs();
  const uint64_t interval = options_.drive_probe_interval_ms;
  if (interval != 0 && last_probe_ms_ != 0 && now - last_probe_ms_ < interval) {
    return false;
  }
  last_probe_ms_ = now;
  uint32_t ok = 0;
  for (uint32_t d = 0; d < layout_.shards(); d++) {
    if (!seg->drive_ok[d] && (only_mask >> d & 1)) {
      (void)ProbeDrive(seg, d).ok();
    }
    ok += seg->drive_ok[d] ? 1 : 0;
  }
  if (ok >= Quorum()) seg->writable = true;
  return true;
}

// A down drive is back for segment `seg` when its file can be opened (or
// created), given its header, fdatasync'd and its directory fsync'd, all
// through a new descriptor: the one whose write or fdatasync failed stays
// sealed in the IoEngine and is never synced again.
Status Engine::ProbeDrive(Segment* seg, uint32_t d) {
  TS_ASSERT(!seg->drive_ok[d]);
  if (DriveAbsent(d)) TS_RETURN_IF_ERROR(RejoinDrive(d));
  const std::string dir = DriveDir(d) + "/segments";
  const std::string path = dir + "/" + SegmentFile(seg->id);
  const int flags = io::kOpenRead | io::kOpenWrite | io::kOpenCreate |
                    (use_direct_ ? io::kOpenDirect : 0);
  int fd = -1;
  TS_RETURN_IF_ERROR(fs_->Open(path, flags, &fd));
  io::AlignedBuffer header;
  Status s = io::AlignedBuffer::Allocate(log::segment_header_bytes, &header);
  io::FileStat st;
  if (s.ok()) s = fs_->Fstat(fd, &st);
  if (s.ok() && st.size_bytes < layout_.segment_file_bytes()) {
    s = fs_->Fallocate(fd, 0, layout_.segment_file_bytes());
    if (s.ok()) KILL_POINT("segment.after_allocate");
  }
  if (s.ok()) {
    log::SegmentHeader h;
    h.segment_id = seg->id;
    h.drive_index = d;
    memcpy(h.store_id, store_id_, 16);
    log::EncodeSegmentHeader(h, header.data());
    s = fs_->Pwrite(fd, header.data(), header.size(), 0);
  }
  if (s.ok()) s = fs_->Fdatasync(fd);
  // The same window as creating a segment: header durable, name not yet.
  if (s.ok()) KILL_POINT("segment.before_dir_sync");
  if (s.ok()) s = fs_->FsyncDir(dir);
  uint32_t file_id = 0;
  if (s.ok()) s = io_.AddFile(fd, path, &file_id);
  if (!s.ok()) {
    (void)fs_->Close(fd).ok();
    return s;
  }
  seg->io_files[d] = file_id;
  seg->drive_ok[d] = true;
  int expected = -1;
  if (!seg->fds[d].compare_exchange_strong(expected, fd)) {
    seg->extra_fds.push_back(fd);
  }
  return Status::Ok();
}

// A drive that was down at open (directory gone, or FORMAT damaged) comes
// back without a reopen when its directory holds a valid FORMAT of this
// store, with this drive's index and the store's geometry: it is locked
// (LOCK, flock) and no longer absent; the caller (ProbeDrive) then opens
// its segment file, so that groups go to it again and its missed range
// closes, and the heal rebuilds what it missed. An empty directory is not
// taken (it waits for replaceEmptyDrives); neither is a foreign, swapped or
// differently shaped drive. Runs on the committer (or at open).
Status Engine::RejoinDrive(uint32_t d) {
  TS_ASSERT(d < drives_.size() && DriveAbsent(d));
  Drive& drive = *drives_[d];
  std::string bytes;
  Status s = ReadFileBytes(fs_, drive.dir + "/FORMAT", &bytes);
  log::FormatInfo f;
  if (s.ok()) {
    s = log::DecodeFormat(reinterpret_cast<const uint8_t*>(bytes.data()),
                          bytes.size(), &f);
  }
  if (!s.ok()) {
    return Status(StatusCode::kQuorum,
                  "drive " + drive.dir + " is down: " + s.message());
  }
  if (memcmp(f.store_id, store_id_, 16) != 0 || f.drive_index != d ||
      f.data_shards != layout_.data_shards ||
      f.parity_shards != layout_.parity_shards ||
      f.chunk_bytes != layout_.chunk_bytes ||
      f.segment_stripes != layout_.segment_stripes) {
    return Status(StatusCode::kQuorum,
                  "drive " + drive.dir +
                      " holds another store, drive or geometry: not taken");
  }
  int fd = -1;
  TS_RETURN_IF_ERROR(
      fs_->Open(drive.dir + "/LOCK", io::kOpenWrite | io::kOpenCreate, &fd));
  s = fs_->Flock(fd);
  if (!s.ok()) {
    (void)fs_->Close(fd).ok();
    return s;
  }
  drive.lock_fd = fd;
  drive.absent.store(false);
  return Status::Ok();
}

bool Engine::NoteDriveTransitions(uint64_t down_mask, uint64_t at) {
  bool changed = false, back = false;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    uint64_t recorded = 0;
    for (const MissedRange& r : degraded_.missed) {
      if (r.end == kOpenEnd) recorded |= uint64_t{1} << r.drive;
    }
    for (uint32_t d = 0; d < layout_.shards(); d++) {
      const uint64_t bit = uint64_t{1} << d;
      if ((down_mask & bit) && !(recorded & bit)) {
        degraded_.missed.push_back(MissedRange{d, at, kOpenEnd});
        changed = true;
      }
    }
    for (auto it = degraded_.missed.begin(); it != degraded_.missed.end();) {
      if (it->end == kOpenEnd && !(down_mask & (uint64_t{1} << it->drive))) {
        it->end = at;
        changed = back = true;
        if (it->end <= it->start) {
          it = degraded_.missed.erase(it);
          continue;
        }
      }
      ++it;
    }
    down_mask_ = down_mask;
    if (changed) degraded_changes_++;
  }
  if (back) heal_cv_.notify_all();
  return changed;
}

// At open: drives recorded as down that are up now get their ranges
// closed; nothing new is opened here (a tail segment whose creation a
// crash cut short lacks headers on some drives, and the first write rolls
// past it), the first group decides that.
void Engine::CloseRangesOfUpDrives(uint64_t down_mask, uint64_t at) {
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    uint64_t still_down = 0;
    for (auto it = degraded_.missed.begin(); it != degraded_.missed.end();) {
      if (it->end == kOpenEnd) {
        if (down_mask & (uint64_t{1} << it->drive)) {
          still_down |= uint64_t{1} << it->drive;
        } else {
          it->end = at;
          changed = true;
          if (it->end <= it->start) {
            it = degraded_.missed.erase(it);
            continue;
          }
        }
      }
      ++it;
    }
    down_mask_ = still_down;
    if (changed) degraded_changes_++;
  }
  if (!changed) return;
  heal_cv_.notify_all();
  (void)PersistDegraded().ok();
}

// --------------------------------------------------------- persistence

Status Engine::PersistDegraded() {
  std::lock_guard<std::mutex> persist(persist_mu_);
  DegradedState state;
  uint64_t changes = 0, mask = 0;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    if (degraded_changes_ == persisted_changes_) return Status::Ok();
    degraded_.generation++;
    state = degraded_;
    changes = degraded_changes_;
    mask = down_mask_;
  }
  std::string bytes;
  EncodeDegraded(state, store_id_, &bytes);
  const uint32_t n = layout_.shards();
  // m+1 copies: losing every copy takes m+1 drives, and then no group
  // the file speaks of can be rebuilt from k chunks anyway.
  const uint32_t need = std::min(n, layout_.parity_shards + 1);
  uint32_t written = 0;
  Status first_error;
  for (uint32_t d = 0; d < n; d++) {
    if ((mask & (uint64_t{1} << d)) || DriveAbsent(d)) continue;
    Status s = DurableFileWrite(fs_, DriveDir(d), kDegradedFile, bytes);
    if (s.ok()) {
      written++;
    } else if (first_error.ok()) {
      first_error = s;
    }
  }
  if (written < need) {
    return Status(StatusCode::kQuorum,
                  "degraded.dat is durable on " + std::to_string(written) +
                      " drives, " + std::to_string(need) + " are needed" +
                      (first_error.ok() ? "" : ": " + first_error.message()),
                  first_error.sys_errno());
  }
  std::lock_guard<std::mutex> lock(degraded_mu_);
  persisted_changes_ = std::max(persisted_changes_, changes);
  return Status::Ok();
}

Status Engine::LoadDegraded() {
  DegradedState best;
  bool found = false;
  for (uint32_t d = 0; d < layout_.shards(); d++) {
    const std::string path = DriveDir(d) + "/" + kDegradedFile;
    io::FileStat st;
    if (!fs_->Stat(path, &st).ok()) continue;
    std::string bytes;
    DegradedState s;
    if (!ReadFileBytes(fs_, path, &bytes).ok() ||
        !DecodeDegraded(bytes, store_id_, &s).ok()) {
      continue;  // a torn or rotten copy: another drive has it
    }
    if (!found || s.generation > best.generation) best = std::move(s);
    found = true;
  }
  std::lock_guard<std::mutex> lock(degraded_mu_);
  degraded_ = std::move(best);
  degraded_changes_ = persisted_changes_ = 0;
  return Status::Ok();
}

DegradedState Engine::Degraded() const {
  std::lock_guard<std::mutex> lock(degraded_mu_);
  return degraded_;
}

// ----------------------------------------------------------------- heal

uint64_t Engine::HealQueueStripes(uint64_t log_end) const {
  const uint64_t sdb = layout_.stripe_data_bytes();
  uint64_t stripes = 0;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    for (const MissedRange& r : degraded_.missed) {
      const uint64_t end =
          r.end == kOpenEnd ? std::max(log_end, r.start) : r.end;
      stripes += (end - r.start) / sdb;
    }
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stripes + damaged_stripes_.size();
}

bool Engine::HealWorkLocked() const {
  for (const MissedRange& r : degraded_.missed) {
    if (r.end != kOpenEnd && !(down_mask_ & (uint64_t{1} << r.drive))) {
      return true;
    }
  }
  return false;
}

bool Engine::HealStep() {
  const uint64_t sdb = layout_.stripe_data_bytes();
  const uint64_t all = layout_.shards() >= 64
                           ? ~uint64_t{0}
                           : (uint64_t{1} << layout_.shards()) - 1;
  uint32_t drive = 0;
  uint64_t start = 0, end = 0, up = 0;
  bool range = false;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    for (const MissedRange& r : degraded_.missed) {
      if (r.end != kOpenEnd && !(down_mask_ & (uint64_t{1} << r.drive))) {
        drive = r.drive;
        start = r.start;
        end = r.end;
        range = true;
        break;
      }
    }
    up = all & ~down_mask_;
    heal_busy_ = true;
  }
  uint64_t segment = 0;
  uint32_t stripe = 0, count = 1;
  if (range) {
    segment = start / layout_.segment_data_bytes();
    stripe = uint32_t(start % layout_.segment_data_bytes() / sdb);
    count = uint32_t(
        std::min<uint64_t>({kHealBatchStripes, layout_.segment_stripes - stripe,
                            (end - start + sdb - 1) / sdb}));
  } else {
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (damaged_stripes_.empty()) return false;
    segment = damaged_stripes_.begin()->first;
    stripe = damaged_stripes_.begin()->second;
  }
  ScrubOptions o;
  o.heal = true;
  o.heal_drive_mask = up;
  if (range) o.force_drive_mask = uint64_t{1} << drive;
  ScrubReport report;
  Status s;
  bool freed = false;
  {
    // A segment freed by compaction (compaction.cc) holds nothing to heal
    // (rebuilding it would recreate its chunks); the shared hold keeps a
    // free from starting mid-batch. A drive that missed the free gets it at
    // the next open (Engine::ProbeSegmentsAtOpen).
    std::shared_lock<std::shared_mutex> hold(reclaim_mu_);
    freed = SegmentFreed(segment);
    if (!freed) s = ScrubSegment(segment, stripe, stripe + count, o, &report);
  }
  if (!s.ok()) return false;  // a drive failed again: retry later
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (!freed) stats_.stripes_auto_healed += count;
    stats_.chunks_auto_healed += report.chunks_written;
    if (!range) damaged_stripes_.erase({segment, stripe});
  }
  if (range) {
    bool finished = false;
    {
      std::lock_guard<std::mutex> lock(degraded_mu_);
      for (auto it = degraded_.missed.begin(); it != degraded_.missed.end();
           ++it) {
        if (it->drive == drive && it->start == start && it->end == end) {
          it->start = std::min(end, start + uint64_t(count) * sdb);
          if (it->start >= it->end) {
            degraded_.missed.erase(it);
            finished = true;
          }
          degraded_changes_++;
          break;
        }
      }
    }
    const uint64_t now = SteadyMs();
    if (finished || now - last_heal_persist_ms_ >= 1000) {
      last_heal_persist_ms_ = now;
      (void)PersistDegraded().ok();  // progress; a later write catches up
    }
  }
  if (options_.heal_rate_bytes_per_sec > 0) {
    const uint64_t bytes =
        uint64_t(count) * layout_.chunk_bytes * layout_.shards();
    std::unique_lock<std::mutex> lock(degraded_mu_);
    heal_cv_.wait_for(lock,
                      std::chrono::microseconds(
                          bytes * 1000000 / options_.heal_rate_bytes_per_sec),
                      [this] { return heal_stopping_; });
  }
  return true;
}

void Engine::HealLoop() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(degraded_mu_);
      if (heal_stopping_) return;
    }
    if (HealStep()) continue;
    std::unique_lock<std::mutex> lock(degraded_mu_);
    heal_busy_ = false;
    heal_cv_.notify_all();
    heal_cv_.wait_for(lock, std::chrono::milliseconds(200),
                      [this] { return heal_stopping_ || HealWorkLocked(); });
  }
}

bool Engine::WaitHealIdle(uint64_t timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(degraded_mu_);
  for (;;) {
    if (!HealWorkLocked() && !heal_busy_) return true;
    if (heal_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return !HealWorkLocked() && !heal_busy_;
    }
  }
}

}  // namespace engine
}  // namespace tessera

namespace tessera {
namespace engine {

// Voids that can no longer matter are dropped from degraded.dat (at open,
// docs/format.md "degraded.dat"): a void lying wholly in one segment that
// compaction freed, with the freed flag durable in the segment header on at
// least m+1 drives. Recovery never replays a group of a segment whose
// header says freed on any drive, and m+1 flagged copies outlive any loss
// that still leaves k chunks of the failed group to rebuild it from, so
// pruning never lets a failed group reappear. Everything else is kept.
namespace {
// Segment header flags (docs/format.md): byte 40, bit 0 set by compaction.
constexpr size_t kSegmentHeaderFlagsOffset = 40;
constexpr uint8_t kSegmentHeaderFreed = 1;
}  // namespace

Status Engine::PruneVoidsAtOpen(uint64_t* pruned) {
  TS_ASSERT(pruned != nullptr);
  *pruned = 0;
  std::vector<std::pair<uint64_t, uint64_t>> voids;
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    voids = degraded_.voids;
  }
  if (voids.empty()) return Status::Ok();
  const uint32_t need = std::min(layout_.shards(), layout_.parity_shards + 1);
  std::map<uint64_t, bool> freed;  // segment: flagged on >= need drives
  io::AlignedBuffer header;
  TS_RETURN_IF_ERROR(
      io::AlignedBuffer::Allocate(log::segment_header_bytes, &header));
  auto freed_on_disk = [&](uint64_t segment) {
    auto it = freed.find(segment);
    if (it != freed.end()) return it->second;
    uint32_t flagged = 0;
    for (uint32_t d = 0; d < layout_.shards(); d++) {
      if (DriveAbsent(d)) continue;
      int fd = -1;
      const std::string path =
          DriveDir(d) + "/segments/" + SegmentFile(segment);
      if (!fs_->Open(path, io::kOpenRead, &fd).ok()) continue;
      size_t got = 0;
      log::SegmentHeader h;
      const bool ok =
          fs_->Pread(fd, header.data(), header.size(), 0, &got).ok() &&
          got == header.size() &&
          log::DecodeSegmentHeader(header.data(), got, &h).ok() &&
          h.segment_id == segment && h.drive_index == d &&
          memcmp(h.store_id, store_id_, 16) == 0 &&
          (header.data()[kSegmentHeaderFlagsOffset] & kSegmentHeaderFreed);
      (void)fs_->Close(fd).ok();
      if (ok) flagged++;
    }
    return freed[segment] = flagged >= need;
  };
  std::vector<std::pair<uint64_t, uint64_t>> drop;
  for (const auto& v : voids) {
    if (v.second <= v.first) continue;
    const uint64_t s1 = log::Locate(layout_, v.first).segment;
    const uint64_t s2 = log::Locate(layout_, v.second - 1).segment;
    if (s1 == s2 && freed_on_disk(s1)) drop.push_back(v);
  }
  if (drop.empty()) return Status::Ok();
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    auto& vs = degraded_.voids;
    for (const auto& v : drop) {
      auto it = std::find(vs.begin(), vs.end(), v);
      if (it != vs.end()) vs.erase(it);
    }
    degraded_changes_++;
  }
  *pruned = drop.size();
  // Best effort: if the shorter file cannot be written, the longer one
  // stays (it is still correct).
  (void)PersistDegraded().ok();
  return Status::Ok();
}

}  // namespace engine
}  // namespace tessera
