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
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "engine/key_directory.h"
#include "engine/md5.h"
#include "io/fs.h"
#include "io/io_engine.h"
#include "io/probe.h"
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
  // Format an empty directory found where a drive lost its FORMAT as that
  // drive (issue 7, drive replacement); heal then rebuilds its chunks.
  bool replace_empty_drives = false;
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
};

struct EngineStats {
  uint64_t groups = 0;
  uint64_t writes = 0;
  uint64_t fdatasync_groups_failed = 0;
  uint64_t chunks_read = 0;
  uint64_t chunks_bad = 0;  // failed trailer checks on read
  uint64_t stripes_reconstructed = 0;
  uint64_t next_address = 0;
};

// Scrub and heal (scrub.cc): read every chunk of the log written so far,
// verify it, and (heal) rewrite the bad ones in place from parity.
struct ScrubOptions {
  bool heal = false;                // rewrite missing/corrupt chunks
  uint64_t start_address = 0;       // resume here (a cursor from a report)
  uint64_t rate_bytes_per_sec = 0;  // 0: unlimited
  const std::atomic<bool>* cancel = nullptr;  // set: stop after this batch
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
  uint64_t headers_healed = 0;
  uint64_t stripes_unrecoverable = 0;  // fewer than k agreeing chunks
  uint64_t stripes_empty = 0;       // no valid chunk at all (torn tail or lost)
  std::vector<std::string> damage;  // first 100 findings, human-readable
};

enum class Condition { kNone, kIfNoneMatch, kIfMatch };

struct WriteRequest {
  enum class Kind {
    kPut,
    kDelete,
    kBucketCreate,
    kBucketDelete,
    kBucketSettings,
    kFragment,      // a piece of a large body (needs upload_id)
    kCommitUpload,  // an OBJECT over the upload's fragments
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
};

struct WriteResult {
  std::string version_id;
  uint8_t etag[16] = {};  // MD5 of the body (puts and commits)
  bool delete_marker = false;
  uint64_t seq = 0;
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
  const KeyDirectory& directory() const { return directory_; }

  // Scrub (and heal, with options.heal) the log from options.start_address
  // to the end written when it starts; runs on the caller's thread,
  // concurrently with reads and writes. Healing writes each rebuilt chunk
  // at its own offset and fdatasyncs before it counts as healed.
  Status Scrub(const ScrubOptions& options, ScrubReport* report);
  // Stripes whose reads needed parity since open (queued for Heal).
  std::vector<std::pair<uint64_t, uint32_t>> DamagedStripes() const;

  // Runs `task` on a reader thread. kClosed after Close.
  Status Post(std::function<void()> task);

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
  Status Enqueue(WriteRequest request, WriteDone done,
                 std::shared_ptr<EtagJob> etag_job);
  struct Staged;  // a record placed in the open group
  struct Upload;
  void DrainUpload(std::shared_ptr<Upload> upload);

  Engine() = default;
  Status OpenDrives(const EngineOptions& options);
  Status CreateSegment(uint64_t segment_id);
  Status OpenSegment(uint64_t segment_id, bool must_exist, Segment** out);
  Status Recover();
  Status LoadSnapshot(bool* loaded);
  Status WriteSnapshot();

  void CommitterLoop();
  void TakeGroup(std::vector<Pending>* group);
  void RunGroup(std::vector<Pending>* group);
  Status WriteGroupBytes(const std::string& log_bytes, uint64_t* group_start);
  Status Decide(const Pending& p, std::vector<Staged>* staged, uint64_t seq);

  // Reads [address, address + len) of the logical log, verifying every
  // chunk and reconstructing from parity when one is bad.
  Status ReadLog(uint64_t address, uint64_t len, uint8_t* out);
  Status ReadStripe(uint64_t segment, uint32_t stripe, uint32_t count,
                    std::vector<std::vector<uint8_t>>* data,
                    std::vector<log::ChunkTrailer>* trailers,
                    std::vector<bool>* valid);
  Status ReadRecordHeader(const VersionMeta& meta, log::ObjectRecord* object);
  uint64_t NowMs() const;
  void ReaderLoop();
  const std::string& DriveDir(uint32_t drive) const;
  Status FormatReplacement(const std::string& dir, uint32_t index,
                           const log::FormatInfo& ref, log::FormatInfo* out);
  void NoteDamage(uint64_t segment, uint32_t stripe);
  Status ScrubSegment(uint64_t segment, uint32_t first, uint32_t end,
                      const ScrubOptions& options, ScrubReport* report);
  // Change feed helpers (changes.cc).
  struct FeedGroup;
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

  EngineOptions options_;
  EngineInfo info_;
  log::Layout layout_;
  io::Fs* fs_ = nullptr;
  bool use_direct_ = false;
  uint8_t store_id_[16] = {};
  std::vector<std::unique_ptr<Drive>> drives_;
  std::unique_ptr<ec::ReedSolomonCodec> codec_;
  io::IoEngine io_;
  KeyDirectory directory_;

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
};

}  // namespace engine
}  // namespace tessera
