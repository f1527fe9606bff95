// Engine: tessera's durable object engine (docs/engine.md describes it as
// built; docs/format.md has every byte; docs/durability.md the promises).
//
// k+m drive directories each hold FORMAT, LOCK, segments/ and snapshots/.
// Writes become records in one logical log striped over the drives with
// Reed-Solomon parity; a single committer thread packs queued writes into
// commit groups, writes each group with one write per drive through the
// IoEngine, waits for its fdatasync on every drive, then publishes the
// group to the KeyDirectory and completes the writes. Groups are strictly
// ordered: group N+1 is built only after group N is durable (or failed).
//
// Concurrency contract
// - Open/Close: one thread, once each. Close drains: every write submitted
//   before it completes (its callback runs) before Close returns.
// - Submit: any thread; never blocks on disk; the callback runs later on
//   the committer thread (keep it short: post elsewhere). Conditions
//   (ifNoneMatch / ifMatch), bucket existence and bucket emptiness are
//   decided on the committer thread against the state after every earlier
//   group, and no two writes to one key (or a bucket and its keys) share a
//   group, so two conditional puts on one key cannot both win.
// - Reads (Head, Get, List*, bucket queries): any thread, concurrently with
//   writes; a read sees every write whose callback has run. Post runs a
//   closure on the engine's reader threads (not libuv's pool).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/degraded.h"
#include "engine/key_directory.h"
#include "engine/md5.h"
#include "engine/read_cache.h"
#include "engine/segment_usage.h"
#include "io/aligned_buffer.h"
#include "io/fs.h"
#include "io/io_engine.h"
#include "io/probe.h"
#include "io/task_pool.h"
#include "log/codec.h"

namespace tessera {
namespace ec {
class ReedSolomonCodec;
}
namespace engine {

struct EngineOptions {
  std::string path;                 // default drives: path/drive-<i>
  std::vector<std::string> drives;  // explicit drive directories
  uint32_t data_shards = 0;         // 0 on reopen: read from FORMAT
  uint32_t parity_shards = 0;
  uint32_t chunk_bytes = 4096;
  uint32_t segment_stripes = 0;  // 0: sized for 32 MiB of data per segment
  bool create = true;            // create when no drive has a FORMAT
  io::Fs* fs = nullptr;          // nullptr: the real file system
  io::DirectIoMode direct_io = io::DirectIoMode::kOptional;
  io::IoBackend io_backend = io::IoBackend::kAuto;
  uint64_t group_bytes_max = 8u << 20;
  uint32_t group_commit_delay_us = 0;
  uint32_t reader_threads = 2;
  uint64_t queued_bytes_max = 256u << 20;  // Submit fails beyond this
  uint64_t snapshot_every_groups = 4096;   // 0: only at close
  uint64_t now_ms = 0;  // 0: wall clock (mtime); tests pin it
  // Write zeros over new segments so commits overwrite written extents
  // (see CreateSegment); tests on CrashFs turn it off to stay fast.
  bool zero_segments = true;
  // Zero-fill a segment a large group rolls to as well (by default only
  // rolls by small groups zero-fill; see WriteGroupBytes). Benchmarks.
  bool zero_large_rolls = false;
  // Create a new segment's file on every drive at once (one thread per
  // drive: fallocate, header, fdatasync, directory fsync), instead of one
  // drive after another. Benchmarks turn it off for a same-run A/B.
  bool parallel_segment_create = true;
  // Format an empty directory found where a drive lost its FORMAT as that
  // drive (issue 7, drive replacement); heal then rebuilds its chunks.
  bool replace_empty_drives = false;
  // Degraded writes (issue 7, degraded.cc): a commit group is acknowledged
  // once this many drives hold it durably (0: k+1, at most k+m; k..k+m).
  uint32_t write_quorum = 0;
  // Missed stripes are healed in the background when their drive is back
  // (and stripes reads had to rebuild), at most this fast (0: unlimited).
  bool auto_heal = true;
  uint64_t heal_rate_bytes_per_sec = 64u << 20;
  // How often a down drive is tried again by the committer (0: every group).
  uint32_t drive_probe_interval_ms = 1000;
  // Recover by scanning the whole log, ignoring snapshots, and write none
  // at close (verify compares the two).
  bool ignore_snapshot = false;
  // Read cache (read_cache.h, docs/engine.md "Read cache"): bytes of
  // memory for whole records of small objects; 0 disables it. Objects up
  // to cache_object_bytes_max body bytes are cached.
  uint64_t cache_bytes = 64ull << 20;
  uint64_t cache_object_bytes_max = 64u << 10;
  // Nice value added to the committer and reader threads (Linux), so the
  // embedding process's own threads (the JS event loop) get a core first
  // when the machine is saturated. 0 leaves them at the process's priority.
  int worker_nice = 5;
};

struct EngineInfo {
  std::string store_id;  // 32 hex digits
  uint32_t data_shards = 0;
  uint32_t parity_shards = 0;
  uint32_t chunk_bytes = 0;
  uint32_t segment_stripes = 0;
  bool direct_io = false;
  std::string io_backend;         // "io_uring" | "pwrite"
  uint64_t record_bytes_max = 0;  // largest inline body / fragment
  bool created = false;           // this open formatted the drives
  bool recovered_from_snapshot = false;
  uint64_t recovery_groups_replayed = 0;
  uint64_t recovery_void_bytes = 0;  // junk skipped at the torn tail
  uint32_t drives_replaced = 0;      // formatted by replace_empty_drives
  // Drives down for this open because their FORMAT was unreadable,
  // corrupt, truncated, or missing from a non-empty directory.
  uint32_t drives_format_bad = 0;
  uint32_t formats_restored = 0;  // damaged FORMATs rewritten (replace)
  uint64_t voids_pruned = 0;      // degraded.dat voids dropped at open
  uint32_t write_quorum = 0;
};

struct EngineStats {
  uint64_t groups = 0;
  uint64_t writes = 0;
  uint64_t fdatasync_groups_failed = 0;
  uint64_t chunks_read = 0;
  uint64_t chunks_bad = 0;  // failed trailer checks on read
  uint64_t stripes_reconstructed = 0;
  uint64_t next_address = 0;
  // Degraded writes (degraded.cc).
  uint32_t degraded_drives = 0;      // drives down now (not written to)
  uint64_t degraded_drive_mask = 0;  // bit d: drive d is down
  uint64_t heal_queue = 0;           // stripes waiting for the auto heal
  uint64_t groups_degraded = 0;      // acknowledged with a drive missing
  uint64_t stripes_auto_healed = 0;  // stripes the auto heal went through
  uint64_t chunks_auto_healed = 0;   // chunks it rewrote
  uint64_t cache_hits = 0;           // reads served from the read cache
  uint64_t cache_misses = 0;
  uint64_t cache_bytes = 0;  // charged bytes held by the cache now
  uint64_t cache_entries = 0;
  uint64_t cache_rejected = 0;  // candidates refused by W-TinyLFU admission
};

// Scrub and heal (scrub.cc): read every chunk of the log written so far,
// verify it, and (heal) rewrite the bad ones in place from parity.
struct ScrubOptions {
  bool heal = false;                // rewrite missing/corrupt chunks
  uint64_t start_address = 0;       // resume here (a cursor from a report)
  uint64_t rate_bytes_per_sec = 0;  // 0: unlimited
  const std::atomic<bool>* cancel = nullptr;  // set: stop after this batch
  uint64_t heal_drive_mask = 0;  // heal: rewrite only these drives (0: all)
  // heal: rewrite (and fdatasync) every chunk of these drives in the range
  // from the stripe's agreed content, even one that verifies: a chunk whose
  // write or fdatasync failed may read back fine from the page cache and
  // still not be durable (degraded.cc).
  uint64_t force_drive_mask = 0;
  // Called after every batch of stripes (on the scrubbing thread).
  std::function<void(uint64_t cursor, uint64_t end)> progress;
};

struct ScrubReport {
  uint64_t start_address = 0;
  uint64_t end_address = 0;  // the log end when the scrub started
  uint64_t cursor = 0;       // resume address (== end when complete)
  bool cancelled = false;
  uint64_t stripes_checked = 0;
  uint64_t chunks_checked = 0;
  uint64_t chunks_bad = 0;   // missing, torn, corrupt, misplaced, stale
  uint64_t headers_bad = 0;  // segment file headers missing or corrupt
  uint64_t chunks_healed = 0;
  uint64_t chunks_written = 0;  // chunks written back (healed or forced)
  uint64_t headers_healed = 0;
  uint64_t stripes_unrecoverable = 0;  // fewer than k agreeing chunks
  uint64_t stripes_empty = 0;       // no valid chunk at all (torn tail or lost)
  std::vector<std::string> damage;  // first 100 findings, human-readable
};

enum class Condition { kNone, kIfNoneMatch, kIfMatch };

// Space reclamation (compaction.cc, docs/gc.md).
struct CompactOptions {
  uint64_t rate_bytes_per_sec = 0;          // bytes moved; 0: unlimited
  uint64_t inflight_bytes_max = 16u << 20;  // relocation bytes queued at once
  uint64_t retain_from_seq = 0;  // nonzero: refuse a segment with max seq >=
  const std::atomic<bool>* cancel = nullptr;  // set: stop, free nothing
  std::function<void(uint64_t moved, uint64_t total)> progress;
};

struct CompactReport {
  uint64_t segment = 0;
  bool freed = false;             // the segment's space was given back
  std::string skipped;            // why nothing was freed (empty if freed)
  uint64_t records_moved = 0;     // relocated copies kept
  uint64_t records_dropped = 0;   // superseded while being copied
  uint64_t tombstones_moved = 0;  // DELETE/BUCKET records copied (gc.md)
  uint64_t bytes_moved = 0;       // log bytes of the kept copies
  uint64_t bytes_reclaimed = 0;   // log bytes of the segment given back
  uint64_t physical_bytes_reclaimed = 0;  // file bytes over every drive
};

struct SpaceStats {
  uint64_t segments = 0;        // holding data (not freed)
  uint64_t segments_freed = 0;  // reclaimed (a header-only file remains)
  uint64_t segment_data_bytes = 0;
  uint64_t segment_file_bytes = 0;  // per drive
  uint64_t physical_bytes = 0;      // segment files over every drive
  uint64_t log_bytes = 0;           // data capacity of the held segments
  uint64_t live_bytes = 0;
  uint64_t dead_bytes = 0;  // consumed and not live (the tail's unused part
                            // is neither)
  uint64_t tail_segment = 0;
  // Since open.
  uint64_t gc_segments_compacted = 0;
  uint64_t gc_bytes_moved = 0;
  uint64_t gc_bytes_reclaimed = 0;
  bool gc_running = false;
  uint64_t gc_segment = 0;  // the segment being compacted
  uint64_t gc_moved = 0, gc_total = 0;
  struct Segment {
    uint64_t id = 0;
    uint64_t used_bytes = 0;  // log bytes consumed (whole unless tail)
    uint64_t live_bytes = 0;
    uint64_t dead_bytes = 0;
    uint64_t max_seq = 0;
    bool freed = false;
    bool tail = false;
  };
  std::vector<Segment> per_segment;
};

struct WriteRequest {
  enum class Kind {
    kPut,
    kDelete,
    kBucketCreate,
    kBucketDelete,
    kBucketSettings,
    kFragment,      // a piece of a large body (needs upload_id)
    kCommitUpload,  // an OBJECT over the upload's fragments
    kRelocate,      // compaction: a copy of a live record (relocation)
    kReclaim,       // compaction: free reclaim_segment (alone in a group)
  };
  Kind kind = Kind::kPut;
  std::string bucket;
  std::string key;
  std::string version_id;  // kDelete: one version
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::pair<std::string, std::string>> checksums;
  uint8_t etag[16] = {};
  uint16_t part_count = 0;
  // Inline body (kPut, kFragment): borrowed until the callback runs.
  const uint8_t* body = nullptr;
  uint64_t body_bytes = 0;
  Condition condition = Condition::kNone;
  uint8_t if_match_etag[16] = {};
  uint16_t if_match_part_count = 0;
  // kIfMatch, when nonzero: the version must also have this mtime (an
  // overwrite with the same bytes is a different version). A version-
  // targeted delete checks that version instead of the current one.
  uint64_t if_match_mtime_ms = 0;
  log::Versioning versioning = log::Versioning::kUnversioned;  // buckets
  uint64_t upload_id = 0;  // kFragment, kCommitUpload
  // kRelocate: the record to copy; kept only when, at decision time, the
  // version still lives at relocation->from (compare-and-swap).
  struct Relocation {
    log::RecordType type = log::RecordType::kObject;
    uint8_t flags = 0;  // with the relocated bit
    uint64_t seq = 0;   // the original seq
    std::string var;
    std::string payload;
    uint64_t from = 0;  // address of the record copied
  };
  std::shared_ptr<Relocation> relocation;
  uint64_t reclaim_segment = 0;  // kReclaim
};

struct WriteResult {
  std::string version_id;
  uint8_t etag[16] = {};  // MD5 of the body (puts and commits)
  bool delete_marker = false;
  uint64_t seq = 0;
  uint64_t address = 0;  // where the record landed (FRAGMENT, relocations)
};

using WriteDone = std::function<void(const Status&, const WriteResult&)>;

struct ObjectInfo {
  std::string version_id;
  bool delete_marker = false;
  bool is_latest = false;
  uint64_t size = 0;
  uint64_t mtime_ms = 0;
  uint8_t etag[16] = {};
  uint16_t part_count = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<std::pair<std::string, std::string>> checksums;
  uint64_t seq = 0;  // the record's change sequence (changes.cc)
};

// The change feed (changes.cc; docs/events.md). One committed OBJECT
// (a version or a delete marker) or DELETE (a version or an unversioned
// key removed) record of the log.
struct ChangeEvent {
  uint64_t seq = 0;
  bool deleted = false;        // DELETE record, or a delete marker
  bool delete_marker = false;  // an OBJECT record that is a delete marker
  std::string bucket;
  std::string key;
  std::string version_id;  // "null" for the null version
  uint64_t size = 0;
  uint8_t etag[16] = {};
  uint16_t part_count = 0;
  uint64_t time_ms = 0;  // OBJECT mtime; 0 for DELETE records (no time)
};

struct ChangesPage {
  std::vector<ChangeEvent> events;
  uint64_t next_seq = 0;       // where the next call continues
  uint64_t committed_seq = 0;  // the newest committed seq when read
  uint64_t oldest_seq = 0;     // kChangesExpired: where the feed resumes
};

// What the index and the log hold (stats.cc), counted on demand.
struct EngineCensus {
  uint64_t buckets = 0;
  uint64_t keys = 0;
  uint64_t versions = 0;  // delete markers included
  uint64_t objects = 0;   // current versions that are not markers
  uint64_t delete_markers = 0;
  uint64_t logical_bytes = 0;       // body bytes of every version
  uint64_t current_bytes = 0;       // body bytes of current versions
  uint64_t live_log_bytes = 0;      // log bytes of live versions' records
  uint64_t log_bytes = 0;           // log data bytes written (next address)
  uint64_t key_bytes = 0;           // bytes of bucket + key strings indexed
  uint64_t index_memory_bytes = 0;  // estimate (stats.cc)
  uint64_t segments = 0;            // segment ids present on some drive
  uint64_t segment_file_bytes = 0;  // size of one segment file
  uint32_t shards = 0;
};

class Engine {
 public:
  static Status Open(const EngineOptions& options,
                     std::unique_ptr<Engine>* out);
  ~Engine();  // Close()s if open
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Drains queued writes, writes a snapshot, releases the drives. Later
  // calls fail with kClosed.
  Status Close();
  const EngineInfo& info() const { return info_; }
  EngineStats stats() const;

  // Queues a write; `done` runs once, on the committer thread, after the
  // write's group is durable on every drive (OK) or failed. A Submit that
  // fails (closed, queue full, bad argument) returns the error and never
  // calls `done`.
  Status Submit(WriteRequest request, WriteDone done);

  // A kPut whose ETag (MD5 of the body) is computed first, on a reader
  // thread, so the caller's thread never hashes.
  Status SubmitPut(WriteRequest request, WriteDone done);

  // Large bodies: BeginUpload gives an id; AppendUpload hashes each piece
  // (in order, on a reader thread) and writes it as a FRAGMENT record;
  // kCommitUpload publishes an OBJECT over every fragment with the MD5 of
  // all pieces as its ETag; AbortUpload forgets the upload (its fragments
  // stay dead in the log). `body` is borrowed until `done` runs.
  uint64_t BeginUpload();
  Status AppendUpload(uint64_t upload_id, const uint8_t* body, uint64_t len,
                      WriteDone done);
  void AbortUpload(uint64_t upload_id);

  // Reads. version_id empty: the current version.
  Status Head(const std::string& bucket, const std::string& key,
              const std::string& version_id, ObjectInfo* out);
  // Body bytes [offset, offset + length) (clipped to the size); a delete
  // marker answers kNotFound.
  Status Get(const std::string& bucket, const std::string& key,
             const std::string& version_id, uint64_t offset, uint64_t length,
             ObjectInfo* info, std::string* body);
  // Get's body bytes straight into `out` (capacity bytes; kOutOfRange if
  // the clipped range is longer), *got the bytes written: large reads
  // land in the caller's buffer with no intermediate copy.
  Status GetInto(const std::string& bucket, const std::string& key,
                 const std::string& version_id, uint64_t offset,
                 uint64_t length, uint8_t* out, uint64_t capacity,
                 uint64_t* got);
  const KeyDirectory& directory() const { return directory_; }
  // A read served from memory only (never touches disk; any thread, the JS
  // thread included): true and *info / *record when the version is a
  // cached small object (not a delete marker); false otherwise, and the
  // caller reads with Get. The body is record->bytes from
  // record->header_bytes on.
  bool GetCached(const std::string& bucket, const std::string& key,
                 const std::string& version_id, ObjectInfo* info,
                 std::shared_ptr<const CachedRecord>* record);

  // Scrub (and heal, with options.heal) the log from options.start_address
  // to the end written when it starts; runs on the caller's thread,
  // concurrently with reads and writes. Healing writes each rebuilt chunk
  // at its own offset and fdatasyncs before it counts as healed.
  Status Scrub(const ScrubOptions& options, ScrubReport* report);
  // Stripes whose reads needed parity since open (queued for Heal).
  std::vector<std::pair<uint64_t, uint32_t>> DamagedStripes() const;

  // Runs `task` on a reader thread. kClosed after Close.
  Status Post(std::function<void()> task);

  // Space reclamation (compaction.cc, docs/gc.md). Compact copies the live
  // records of a sealed segment to the head of the log through the
  // committer, switches the index to the copies (compare-and-swap), then
  // makes a snapshot durable on every drive and frees the segment. Runs on
  // the caller's thread, one compaction at a time; reads and writes go on.
  Status Compact(uint64_t segment, const CompactOptions& options,
                 CompactReport* report);
  SpaceStats Space() const;
  // The change feed (changes.cc): committed change events with seq >=
  // from_seq in commit order, at most max_events, read from the log (call
  // it on a reader thread: it reads disk). Only records that are durable
  // and published appear; voided groups and relocated copies never do.
  // kChangesExpired (out->oldest_seq set) when records the caller needs
  // are no longer in the log.
  Status ReadChanges(uint64_t from_seq, uint32_t max_events, ChangesPage* out);
  // Counts the index (shared lock, page by page) and the segments; reads
  // no data. O(versions): call it on a reader thread.
  Status Census(EngineCensus* out);
  // The newest seq whose group is durable and published (0: none).
  uint64_t CommittedSeq() const { return committed_seq_.load(); }
  // Degraded bookkeeping as persisted (tests, tools).
  DegradedState Degraded() const;
  // Blocks until the auto heal has nothing left it can do now (every
  // missed range of a drive that is up healed) or `timeout_ms` passed;
  // false on timeout.
  bool WaitHealIdle(uint64_t timeout_ms);

 private:
  struct Drive;
  struct Segment;
  // A put's ETag, computed on a reader thread while the put already holds
  // its place in the queue (so puts commit in submission order).
  struct EtagJob {
    bool done = false;  // guarded by mu_
    uint8_t etag[16] = {};
  };
  struct Pending {
    WriteRequest request;
    WriteDone done;
    uint64_t bytes = 0;
    std::shared_ptr<EtagJob> etag_job;  // kPut through SubmitPut
  };
  // wake = false queues without waking the committer (compaction.cc queues
  // a batch of copies, then wakes it once, so they share a group).
  Status Enqueue(WriteRequest request, WriteDone done,
                 std::shared_ptr<EtagJob> etag_job, bool wake = true);
  struct Staged;  // a record placed in the open group
  struct Upload;
  void DrainUpload(std::shared_ptr<Upload> upload);

  Engine() = default;
  Status OpenDrives(const EngineOptions& options);
  // zero_fill: write zeros over the new files (options_.zero_segments
  // and a roll by small groups; see CreateSegment).
  Status CreateSegment(uint64_t segment_id, bool zero_fill);
  Status OpenSegment(uint64_t segment_id, bool must_exist, Segment** out);
  Status Recover();
  Status LoadSnapshot(bool* loaded);
  Status WriteSnapshot(bool every_drive = false);

  void CommitterLoop();
  void TakeGroup(std::vector<Pending>* group);
  void RunGroup(std::vector<Pending>* group);
  // *wrote: stripes were used (false: refused before any I/O, e.g. too few
  // drives up for the quorum; then nothing needs voiding).
  Status WriteGroupBytes(const std::string& log_bytes, uint64_t* group_start,
                         bool* wrote);
  Status Decide(const Pending& p, std::vector<Staged>* staged, uint64_t seq);

  // Reads [address, address + len) of the logical log, verifying every
  // chunk and reconstructing from parity when one is bad.
  Status ReadLog(uint64_t address, uint64_t len, uint8_t* out);
  Status ReadBody(const VersionMeta& meta, uint64_t offset, uint64_t length,
                  uint8_t* out);
  void ReadDrives(const std::vector<int>& fds,
                  std::vector<io::AlignedBuffer>* bufs, size_t want,
                  uint64_t offset, std::vector<size_t>* got);
  // The payload size of the OBJECT record `meta` names, from its header.
  Status ReadPayloadBytes(const VersionMeta& meta, uint64_t* out);
  Status ReadStripe(uint64_t segment, uint32_t stripe, uint32_t count,
                    std::vector<std::vector<uint8_t>>* data,
                    std::vector<log::ChunkTrailer>* trailers,
                    std::vector<bool>* valid);
  Status ReadRecordHeader(const VersionMeta& meta, log::ObjectRecord* object);
  Status HeadOf(const std::string& bucket, const std::string& key,
                const VersionMeta& meta, ObjectInfo* out);
  // The read cache's side of reads: whether a version's record is cached,
  // and its verified bytes (from the cache, or read, checked and inserted).
  bool Cacheable(const VersionMeta& meta) const;
  Status ReadRecordCached(const VersionMeta& meta,
                          std::shared_ptr<const CachedRecord>* out);
  uint64_t NowMs() const;
  void ReaderLoop();
  const std::string& DriveDir(uint32_t drive) const;
  bool DriveAbsent(uint32_t drive) const;  // gone at open: never written
  Status FormatReplacement(const std::string& dir, uint32_t index,
                           const log::FormatInfo& ref, log::FormatInfo* out);
  Status RestoreFormat(const std::string& dir, uint32_t index,
                       const log::FormatInfo& ref, log::FormatInfo* out);
  void NoteDamage(uint64_t segment, uint32_t stripe);
  Status ScrubSegment(uint64_t segment, uint32_t first, uint32_t end,
                      const ScrubOptions& options, ScrubReport* report);
  // Compaction (compaction.cc).
  Status ProbeSegmentsAtOpen();
  // A record a full scan replays by seq (compaction.cc, ApplyScanRecords).
  struct ScanRecord {
    uint64_t seq = 0;
    log::RecordType type = log::RecordType::kGroup;
    bool versioned = false;
    std::string bucket, key, version_id;  // OBJECT / DELETE
    VersionMeta meta;                     // OBJECT
    log::BucketRecord bucket_record;      // BUCKET
  };
  void ApplyScanRecords(std::vector<ScanRecord>* records);
  Status RecomputeUsage();
  Status CheckRelocation(const WriteRequest& r) const;
  void PublishRelocation(const WriteRequest& r, uint64_t address);
  void ReplayRelocated(const std::string& bucket, const std::string& key,
                       const VersionMeta& meta, bool versioned);
  void UsageBeforeObject(const std::string& bucket, const std::string& key,
                         bool keep_previous);
  void UsageBeforeDelete(const std::string& bucket, const std::string& key,
                         const std::string& version_id);
  // `list`: the extent list when meta.extents (inline bodies: unused).
  void UsageAfterObject(const VersionMeta& meta, uint64_t payload_bytes,
                        const std::string& list);
  Status ReclaimSegment(uint64_t segment);
  Status FinishReclaim(uint64_t segment, Segment* seg);
  Status FreeSegmentFiles(uint64_t segment, Segment* seg);
  bool SegmentFreed(uint64_t segment) const { return usage_.Freed(segment); }
  Status LiveInSegment(uint64_t segment, uint64_t* records);
  // Change feed helpers (changes.cc).
  struct FeedGroup {
    uint64_t address = 0;  // of the GROUP record (a stripe start)
    log::GroupRecord group;
  };
  Status CollectTombstones(
      uint64_t segment,
      std::vector<std::shared_ptr<WriteRequest::Relocation>>* out);
  Status TryGroupStart(uint64_t segment, uint32_t stripe, FeedGroup* out);
  Status FindGroup(uint64_t address, uint64_t limit, FeedGroup* out,
                   bool* found);
  Status SegmentFirstSeq(uint64_t segment, uint64_t limit, uint64_t* first);
  Status LocateSeq(uint64_t seq, uint64_t limit, uint64_t* address);
  // Calls `each(header, variable part)` for the group's records in order
  // (payloads are not read) until it returns false. *damaged: the group
  // cannot be read (beyond parity); nothing was called.
  Status ReadGroupRecords(const FeedGroup& group,
                          const std::function<bool(const log::RecordHeader&,
                                                   std::string_view)>& each,
                          bool* damaged);

  // Degraded writes (degraded.cc).
  uint32_t Quorum() const { return info_.write_quorum; }
  uint64_t DownMaskOf(const Segment& seg) const;
  Status ProbeDrive(Segment* seg, uint32_t drive);
  // Tries the segment's down drives again when the probe interval has
  // passed (true then, whatever the outcome).
  bool ProbeDownDrives(Segment* seg, uint64_t only_mask = ~uint64_t{0});
  // Opens/closes missed ranges for drives that went down / came back at
  // log address `at`; true when the state changed.
  bool NoteDriveTransitions(uint64_t down_mask, uint64_t at);
  Status PersistDegraded();
  Status PruneVoidsAtOpen(uint64_t* pruned);
  Status RejoinDrive(uint32_t d);
  Status LoadDegraded();
  void CloseRangesOfUpDrives(uint64_t down_mask, uint64_t at);
  void HealLoop();
  bool HealStep();  // one batch; false when nothing can be done now
  uint64_t HealQueueStripes(uint64_t log_end) const;
  bool HealWorkLocked() const;  // degraded_mu_ held

  EngineOptions options_;
  EngineInfo info_;
  log::Layout layout_;
  io::Fs* fs_ = nullptr;
  bool use_direct_ = false;
  uint8_t store_id_[16] = {};
  std::vector<std::unique_ptr<Drive>> drives_;
  std::unique_ptr<ec::ReedSolomonCodec> codec_;
  io::IoEngine io_;
  // Runs CreateSegment's per-drive work in parallel; used by whichever one
  // thread creates segments (Recover during Open, then the committer).
  io::TaskPool segment_pool_;
  bool read_ring_ = false;  // ReadDrives uses io_uring (set by Open)
  KeyDirectory directory_;
  std::unique_ptr<ReadCache> cache_;  // null when cache_bytes == 0

  std::mutex segments_mu_;
  std::map<uint64_t, std::unique_ptr<Segment>> segments_;  // segments_mu_

  // Committer state: the committer thread only (and Open/Recover before it
  // starts).
  uint64_t next_group_seq_ = 1;
  uint64_t next_seq_ = 1;
  uint64_t tail_segment_ = 0;
  uint32_t tail_stripe_ = 0;
  uint64_t void_start_ = 0;  // carried by the next group's GROUP record
  uint64_t void_end_ = 0;
  uint64_t groups_since_snapshot_ = 0;
  bool started_ = false;  // Open completed: threads run
  bool failed_ = false;   // a void group could not be written: read-only
  Status failure_;

  std::mutex mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;                            // guarded by mu_
  uint64_t queued_bytes_ = 0;                            // guarded by mu_
  bool closing_ = false;                                 // guarded by mu_
  bool closed_ = false;                                  // guarded by mu_
  std::map<uint64_t, std::shared_ptr<Upload>> uploads_;  // guarded by mu_
  uint64_t next_upload_id_ = 1;                          // guarded by mu_
  std::thread committer_;

  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::deque<std::function<void()>> read_queue_;  // guarded by read_mu_
  bool read_stopping_ = false;                    // guarded by read_mu_
  std::vector<std::thread> readers_;

  // Change feed: the end address of the last published group and the
  // newest published seq (committer writes, readers read); caches of
  // immutable facts about the published log (changes.cc).
  std::atomic<uint64_t> published_end_{0};
  std::atomic<uint64_t> committed_seq_{0};
  std::mutex changes_mu_;
  std::map<uint64_t, uint64_t> segment_first_seq_;  // changes_mu_
  std::map<uint64_t, uint64_t> chain_next_;         // changes_mu_
  std::map<uint64_t, uint64_t> resume_at_;          // changes_mu_

  mutable std::mutex stats_mu_;
  EngineStats stats_;  // guarded by stats_mu_
  // (segment, stripe) found damaged by reads; guarded by stats_mu_.
  std::set<std::pair<uint64_t, uint32_t>> damaged_stripes_;

  // Space reclamation (compaction.cc).
  SegmentUsage usage_;
  // Head/Get hold it shared from the index lookup to the last byte read;
  // freeing a segment takes it exclusively, so no read that found an old
  // address is still reading it when its space goes.
  mutable std::shared_mutex reclaim_mu_;
  std::mutex compact_mu_;       // one compaction at a time
  bool usage_unknown_ = false;  // an extent list was unreadable at open
  std::atomic<bool> gc_running_{false};
  std::atomic<uint64_t> gc_segment_{0}, gc_moved_{0}, gc_total_{0};
  std::atomic<uint64_t> gc_segments_compacted_{0}, gc_bytes_moved_{0},
      gc_bytes_reclaimed_{0};
  // Degraded writes (degraded.cc).
  mutable std::mutex degraded_mu_;
  std::condition_variable heal_cv_;
  DegradedState degraded_;             // guarded by degraded_mu_
  uint64_t down_mask_ = 0;             // guarded by degraded_mu_
  bool heal_stopping_ = false;         // guarded by degraded_mu_
  bool heal_busy_ = false;             // guarded by degraded_mu_
  std::mutex persist_mu_;              // one degraded.dat writer at a time
  uint64_t degraded_changes_ = 0;      // guarded by degraded_mu_
  uint64_t persisted_changes_ = 0;     // guarded by degraded_mu_
  uint64_t last_probe_ms_ = 0;         // committer
  uint64_t last_heal_persist_ms_ = 0;  // healer
  std::thread healer_;
};

}  // namespace engine
}  // namespace tessera
