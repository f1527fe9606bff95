#include "engine/engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdlib>
#include <cstring>
#include <future>
#include <random>
#include <set>

#include "checksum/crc.h"
#include "core/ts_assert.h"
#include "ec/reed_solomon.h"
#include "engine/engine_internal.h"
#include "engine/kill_points.h"
#include "engine/segment.h"
#include "io/aligned_buffer.h"
#include "io/uring.h"

namespace tessera {
namespace engine {

using log::Layout;

// A record placed in the group being built, with what to publish once the
// group is durable.
struct Engine::Staged {
  size_t pending = 0;  // index into the group
  log::RecordType type = log::RecordType::kObject;
  uint8_t flags = 0;
  uint64_t seq = 0;
  std::string var;
  const uint8_t* payload = nullptr;
  uint64_t payload_bytes = 0;
  std::string owned_payload;  // extent lists
  uint32_t payload_crc = 0;
  uint64_t address = 0;  // assigned at placement
  uint32_t header_bytes = 0;
  uint64_t size = 0;  // object bytes (OBJECT)
  uint64_t mtime_ms = 0;
  WriteResult result;
};

namespace {

constexpr uint32_t kSnapshotMagic = 0x50534e53;  // "SNSP"
constexpr uint32_t kSnapshotVersion = 3;
constexpr uint32_t kReadBatchStripes =
    256;  // 1 MiB per data drive at 4 KiB chunks
constexpr uint64_t kZeroChunkBytes = 1u << 20;
// ReadDrives' per-thread ring: one read per data drive of a batch.
constexpr uint32_t kReadRingEntries = 32;
// A group of at least this many data bytes rolls to a segment that is not
// zero-filled (see WriteGroupBytes): large stripes amortize the journal
// commit their first write into unwritten extents costs, while zero-filling
// would double the bytes a stream of large objects writes.
constexpr uint64_t kLargeGroupBytes = 1u << 20;

std::string Hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s.push_back(digits[p[i] >> 4]);
    s.push_back(digits[p[i] & 15]);
  }
  return s;
}

std::string SegmentName(uint64_t id) {
  char buf[40];
  snprintf(buf, sizeof(buf), "seg-%016" PRIx64 ".dat", id);
  return buf;
}

Status InvalidArg(const std::string& m) {
  return Status(StatusCode::kInvalidArgument, m);
}

bool Exists(io::Fs* fs, const std::string& path, bool* is_dir) {
  io::FileStat st;
  Status s = fs->Stat(path, &st);
  if (!s.ok()) return false;
  if (is_dir) *is_dir = st.is_directory;
  return true;
}

// Directory emptiness for create. The Fs interface has no directory
// listing, so this asks the real file system when that is what we run on
// (test file systems start empty by construction).
bool DirIsEmpty(io::Fs* fs, const std::string& dir) {
  if (fs != io::DefaultFs()) return true;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return true;
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// Writes `bytes` to dir/name durably: tmp file, fdatasync, rename, fsync of
// the directory (../shared/TESTING.md rule 3).
Status WriteFileDurably(io::Fs* fs, const std::string& dir,
                        const std::string& name, const std::string& bytes) {
  const std::string tmp = dir + "/" + name + ".tmp";
  const std::string final_path = dir + "/" + name;
  int fd = -1;
  if (Exists(fs, tmp, nullptr)) TS_RETURN_IF_ERROR(fs->Unlink(tmp));
  TS_RETURN_IF_ERROR(fs->Open(tmp, io::kOpenWrite | io::kOpenCreate, &fd));
  Status s = fs->Pwrite(fd, bytes.data(), bytes.size(), 0);
  if (s.ok()) s = fs->Fdatasync(fd);
  Status c = fs->Close(fd);
  TS_RETURN_IF_ERROR(s);
  TS_RETURN_IF_ERROR(c);
  KILL_POINT("file.before_rename");
  TS_RETURN_IF_ERROR(fs->Rename(tmp, final_path));
  KILL_POINT("file.before_dir_sync");
  return fs->FsyncDir(dir);
}

Status ReadWholeFile(io::Fs* fs, const std::string& path, std::string* out) {
  int fd = -1;
  TS_RETURN_IF_ERROR(fs->Open(path, io::kOpenRead, &fd));
  io::FileStat st;
  Status s = fs->Fstat(fd, &st);
  if (s.ok() && st.size_bytes > (uint64_t{1} << 34)) {
    s = Status(StatusCode::kCorrupt, path + " is implausibly large");
  }
  if (s.ok()) {
    out->assign(st.size_bytes, '\0');
    size_t got = 0;
    s = fs->Pread(fd, &(*out)[0], out->size(), 0, &got);
    if (s.ok() && got != out->size()) out->resize(got);
  }
  Status c = fs->Close(fd);
  TS_RETURN_IF_ERROR(s);
  return c;
}

// Little-endian append/read helpers for the snapshot body.
void Put64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; i++) s->push_back(char(v >> (8 * i)));
}
void PutStr(std::string* s, const std::string& v) {
  Put64(s, v.size());
  s->append(v);
}
struct Cursor {
  const std::string& s;
  size_t pos = 0;
  bool ok = true;
  uint64_t U64() {
    if (!ok || s.size() - pos < 8) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | uint8_t(s[pos + i]);
    pos += 8;
    return v;
  }
  std::string Str(size_t max) {
    const uint64_t n = U64();
    if (!ok || n > max || s.size() - pos < n) {
      ok = false;
      return std::string();
    }
    std::string v = s.substr(pos, n);
    pos += n;
    return v;
  }
};

}  // namespace

// For degraded.cc.
Status DurableFileWrite(io::Fs* fs, const std::string& dir,
                        const std::string& name, const std::string& bytes) {
  return WriteFileDurably(fs, dir, name, bytes);
}
Status ReadFileBytes(io::Fs* fs, const std::string& path, std::string* out) {
  return ReadWholeFile(fs, path, out);
}

// ---------------------------------------------------------------- open

Status Engine::Open(const EngineOptions& options,
                    std::unique_ptr<Engine>* out) {
  TS_ASSERT(out != nullptr);
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  e->fs_ = options.fs ? options.fs : io::DefaultFs();
  if (options.cache_bytes > 0) {
    e->cache_ = std::make_unique<ReadCache>(options.cache_bytes);
  }
  TS_RETURN_IF_ERROR(e->OpenDrives(options));

  io::IoEngineOptions io_options;
  io_options.fs = options.fs;  // nullptr keeps io_uring possible
  io_options.backend = options.io_backend;
  io_options.group_commit_delay_us = options.group_commit_delay_us;
  io_options.files_max = 1u << 16;
  TS_RETURN_IF_ERROR(e->io_.Start(io_options));
  e->info_.io_backend = e->io_.backend_name();
  // Reads through io_uring only where writes use it: the real file system
  // (a test layer in options.fs sees every Pread) and a kernel that allows
  // it.
  e->read_ring_ =
      options.fs == nullptr && std::string(e->io_.backend_name()) == "io_uring";
  // The calling thread runs one drive's iteration itself.
  TS_RETURN_IF_ERROR(e->segment_pool_.Start(
      options.parallel_segment_create ? e->layout_.shards() - 1 : 0));

  Status s = e->Recover();
  if (!s.ok()) {
    e->io_.Stop();
    return s;
  }
  e->started_ = true;
  e->committer_ = std::thread([raw = e.get()] { raw->CommitterLoop(); });
  if (options.auto_heal) {
    e->healer_ = std::thread([raw = e.get()] { raw->HealLoop(); });
  }
  const uint32_t readers = std::max<uint32_t>(1, options.reader_threads);
  for (uint32_t i = 0; i < readers; i++) {
    e->readers_.emplace_back([raw = e.get()] { raw->ReaderLoop(); });
  }
  TS_ASSERT(e->segments_.count(e->tail_segment_) == 1);
  *out = std::move(e);
  return Status::Ok();
}

Status Engine::OpenDrives(const EngineOptions& options) {
  std::vector<std::string> dirs = options.drives;
  const bool explicit_drives = !dirs.empty();
  if (!explicit_drives) {
    if (options.path.empty()) return InvalidArg("a path or drives is needed");
    bool is_dir = false;
    if (!Exists(fs_, options.path, &is_dir)) {
      if (!options.create) {
        return Status(StatusCode::kNotFound, "no store at " + options.path);
      }
      TS_RETURN_IF_ERROR(fs_->Mkdir(options.path));
    }
  }
  // Read every FORMAT that exists; the geometry comes from disk on reopen.
  std::vector<log::FormatInfo> formats;
  std::vector<bool> has_format;
  std::vector<bool> absent;  // reopen: drive directories that are gone
  uint32_t count = uint32_t(dirs.size());
  if (!explicit_drives) {
    // Default layout: drive-0..; how many comes from drive-0's FORMAT or
    // the options.
    // Any drive's valid FORMAT tells (drive 0 may be gone or its FORMAT
    // unreadable or corrupt); the first error is reported when none is
    // valid.
    log::FormatInfo f0;
    bool found = false;
    Status first_bad;
    for (uint32_t i = 0; i < log::shards_max && !found; i++) {
      const std::string p =
          options.path + "/drive-" + std::to_string(i) + "/FORMAT";
      if (!Exists(fs_, p, nullptr)) continue;
      std::string bytes;
      Status s = ReadWholeFile(fs_, p, &bytes);
      if (s.ok()) {
        s = log::DecodeFormat(reinterpret_cast<const uint8_t*>(bytes.data()),
                              bytes.size(), &f0);
      }
      if (s.ok()) {
        found = true;
      } else if (first_bad.ok()) {
        first_bad = Status(s.code(), p + ": " + s.message(), s.sys_errno());
      }
    }
    if (found) {
      count = f0.data_shards + f0.parity_shards;
    } else if (!first_bad.ok()) {
      return first_bad;
    } else {
      // Creating: 4+2 unless told otherwise.
      count = (options.data_shards ? options.data_shards : 4) +
              (options.parity_shards ? options.parity_shards : 2);
    }
    for (uint32_t i = 0; i < count; i++) {
      dirs.push_back(options.path + "/drive-" + std::to_string(i));
    }
  }
  if (count < 2 || count > log::shards_max) {
    return InvalidArg("a store needs 2.." + std::to_string(log::shards_max) +
                      " drives, got " + std::to_string(count));
  }
  // Duplicates: the same directory given twice (by dev+inode on the real
  // file system, by path otherwise).
  {
    std::set<std::pair<uint64_t, uint64_t>> seen_ids;
    std::map<std::string, size_t> seen_paths;
    for (size_t i = 0; i < dirs.size(); i++) {
      struct stat st;
      if (fs_ == io::DefaultFs() && ::stat(dirs[i].c_str(), &st) == 0) {
        if (!seen_ids.insert({uint64_t(st.st_dev), uint64_t(st.st_ino)})
                 .second) {
          return InvalidArg("drive " + dirs[i] +
                            " is the same directory as another drive");
        }
      }
      if (!seen_paths.emplace(dirs[i], i).second) {
        return InvalidArg("drive " + dirs[i] + " is listed twice");
      }
    }
  }
  formats.resize(count);
  has_format.assign(count, false);
  // A FORMAT that exists but cannot be read (EIO), fails its checksum or is
  // truncated: the drive is down for this open (docs/durability.md,
  // "Damaged FORMAT"), as is a non-empty directory without one.
  std::vector<std::string> bad_format(count);
  size_t with = 0;
  for (uint32_t i = 0; i < count; i++) {
    const std::string p = dirs[i] + "/FORMAT";
    if (!Exists(fs_, p, nullptr)) continue;
    std::string bytes;
    Status s = ReadWholeFile(fs_, p, &bytes);
    if (s.ok()) {
      s = log::DecodeFormat(reinterpret_cast<const uint8_t*>(bytes.data()),
                            bytes.size(), &formats[i]);
    }
    if (!s.ok()) {
      bad_format[i] = p + ": " + s.message();
      continue;
    }
    has_format[i] = true;
    with++;
  }
  if (with == 0) {
    for (uint32_t i = 0; i < count; i++) {
      if (!bad_format[i].empty()) {
        return Status(StatusCode::kQuorum,
                      "no drive has a valid FORMAT (" + bad_format[i] + ")");
      }
    }
    if (!options.create) {
      return Status(StatusCode::kNotFound, "no store on these drives");
    }
    const uint32_t k = options.data_shards ? options.data_shards
                       : explicit_drives   ? 0
                                           : 4;
    const uint32_t m = options.parity_shards ? options.parity_shards
                       : explicit_drives     ? 0
                                             : 2;
    if (k < 1 || m < 1 || k + m != count) {
      return InvalidArg(
          "dataShards + parityShards must equal the number of "
          "drives (" +
          std::to_string(count) + ")");
    }
    Layout l{k, m, options.chunk_bytes, 1};
    if (!l.Valid()) {
      return InvalidArg("chunkBytes must be a power of two in 4096..65536");
    }
    uint32_t stripes = options.segment_stripes;
    if (stripes == 0) {
      stripes = uint32_t((uint64_t{32} << 20) / l.stripe_data_bytes() + 1);
    }
    layout_ = Layout{k, m, options.chunk_bytes, stripes};
    std::random_device rd;
    for (int i = 0; i < 16; i++) store_id_[i] = uint8_t(rd());
    const uint64_t created = NowMs();
    for (uint32_t i = 0; i < count; i++) {
      bool is_dir = false;
      if (Exists(fs_, dirs[i], &is_dir)) {
        if (!is_dir) return InvalidArg(dirs[i] + " is not a directory");
        if (!DirIsEmpty(fs_, dirs[i])) {
          return InvalidArg("cannot create a store on " + dirs[i] +
                            ": the directory is not empty");
        }
      } else {
        TS_RETURN_IF_ERROR(fs_->Mkdir(dirs[i]));
      }
    }
    for (uint32_t i = 0; i < count; i++) {
      log::FormatInfo f;
      f.drive_index = i;
      f.data_shards = layout_.data_shards;
      f.parity_shards = layout_.parity_shards;
      f.chunk_bytes = layout_.chunk_bytes;
      f.segment_stripes = layout_.segment_stripes;
      memcpy(f.store_id, store_id_, 16);
      f.created_ms = created;
      std::string bytes;
      log::EncodeFormat(f, &bytes);
      TS_RETURN_IF_ERROR(fs_->Mkdir(dirs[i] + "/segments"));
      TS_RETURN_IF_ERROR(fs_->Mkdir(dirs[i] + "/snapshots"));
      TS_RETURN_IF_ERROR(WriteFileDurably(fs_, dirs[i], "FORMAT", bytes));
      formats[i] = f;
      has_format[i] = true;
    }
    if (!explicit_drives) TS_RETURN_IF_ERROR(fs_->FsyncDir(options.path));
    info_.created = true;
  } else {
    size_t first = 0;
    while (!has_format[first]) first++;
    const log::FormatInfo& ref = formats[first];
    absent.assign(count, false);
    uint32_t absent_count = 0;
    for (uint32_t i = 0; i < count; i++) {
      // Holds data: a damaged FORMAT, a segments/ directory, or (on the
      // real file system) anything at all; an empty directory is a new disk.
      const bool held = !has_format[i] && Exists(fs_, dirs[i], nullptr) &&
                        (!bad_format[i].empty() ||
                         Exists(fs_, dirs[i] + "/segments", nullptr) ||
                         (fs_ == io::DefaultFs() && !DirIsEmpty(fs_, dirs[i])));
      if (held && options.replace_empty_drives) {
        // A drive whose FORMAT is damaged or missing but whose segment
        // headers prove it is drive i of this store gets its FORMAT back.
        TS_RETURN_IF_ERROR(RestoreFormat(dirs[i], i, ref, &formats[i]));
        has_format[i] = true;
      } else if (held) {
        // Down for this open, like a gone drive; never written or locked.
        absent[i] = true;
        absent_count++;
        info_.drives_format_bad++;
        continue;
      }
      if (!has_format[i] && !options.replace_empty_drives &&
          !Exists(fs_, dirs[i], nullptr)) {
        // Gone (not an empty directory, which may be a new disk and waits
        // for the operator's word): the store opens degraded without it.
        absent[i] = true;
        absent_count++;
        continue;
      }
      if (!has_format[i] && options.replace_empty_drives) {
        TS_RETURN_IF_ERROR(FormatReplacement(dirs[i], i, ref, &formats[i]));
        has_format[i] = true;
      }
      if (!has_format[i]) {
        return Status(StatusCode::kQuorum,
                      "drive " + dirs[i] + " has no FORMAT file while " +
                          dirs[first] + " belongs to store " +
                          Hex(ref.store_id, 16) +
                          " (to format it as a replacement drive, open with "
                          "replaceEmptyDrives)");
      }
      const log::FormatInfo& f = formats[i];
      if (memcmp(f.store_id, ref.store_id, 16) != 0) {
        return InvalidArg("drive " + dirs[i] + " belongs to store " +
                          Hex(f.store_id, 16) + ", not to store " +
                          Hex(ref.store_id, 16) + " of " + dirs[first]);
      }
      if (f.data_shards != ref.data_shards ||
          f.parity_shards != ref.parity_shards ||
          f.chunk_bytes != ref.chunk_bytes ||
          f.segment_stripes != ref.segment_stripes) {
        return Status(StatusCode::kCorrupt,
                      "drive " + dirs[i] + " disagrees on the store geometry");
      }
      if (f.drive_index != i) {
        const std::string other =
            f.drive_index < count ? dirs[f.drive_index] : "(none)";
        return InvalidArg("drive " + dirs[i] + " holds drive index " +
                          std::to_string(f.drive_index) +
                          " but was given at position " + std::to_string(i) +
                          " (swapped with " + other + "?)");
      }
    }
    if (count - absent_count < ref.data_shards) {
      return Status(StatusCode::kQuorum,
                    std::to_string(absent_count) + " of " +
                        std::to_string(count) +
                        " drives are missing or have no valid FORMAT; at "
                        "least " +
                        std::to_string(ref.data_shards) + " are needed");
    }
    if (ref.data_shards + ref.parity_shards != count) {
      return InvalidArg("the store has " +
                        std::to_string(ref.data_shards + ref.parity_shards) +
                        " drives, " + std::to_string(count) + " were given");
    }
    if ((options.data_shards != 0 && options.data_shards != ref.data_shards) ||
        (options.parity_shards != 0 &&
         options.parity_shards != ref.parity_shards)) {
      return InvalidArg(
          "the store on disk is " + std::to_string(ref.data_shards) + "+" +
          std::to_string(ref.parity_shards) + ", but " +
          std::to_string(options.data_shards) + "+" +
          std::to_string(options.parity_shards) + " was asked for");
    }
    layout_ = Layout{ref.data_shards, ref.parity_shards, ref.chunk_bytes,
                     ref.segment_stripes};
    memcpy(store_id_, ref.store_id, 16);
  }
  // LOCK every drive (flock is per open file description, so a second open
  // in this same process fails too).
  for (uint32_t i = 0; i < count; i++) {
    auto d = std::make_unique<Drive>();
    d->dir = dirs[i];
    if (!absent.empty() && absent[i]) {
      d->absent = true;
      drives_.push_back(std::move(d));
      continue;
    }
    TS_RETURN_IF_ERROR(fs_->Open(
        d->dir + "/LOCK", io::kOpenWrite | io::kOpenCreate, &d->lock_fd));
    Status s = fs_->Flock(d->lock_fd);
    if (!s.ok()) {
      (void)fs_->Close(d->lock_fd).ok();
      for (auto& held : drives_) {
        if (held->lock_fd >= 0) (void)fs_->Close(held->lock_fd).ok();
      }
      drives_.clear();
      if (s.code() == StatusCode::kLocked) {
        return Status(StatusCode::kLocked,
                      "the store is open elsewhere (" + d->dir + "/LOCK)");
      }
      return s;
    }
    drives_.push_back(std::move(d));
  }
  // O_DIRECT: probed on the first drive, applied to all.
  io::DirectIoProbe probe;
  size_t probe_drive = 0;
  while (probe_drive + 1 < drives_.size() && drives_[probe_drive]->absent) {
    probe_drive++;
  }
  TS_RETURN_IF_ERROR(io::ProbeDirectIo(fs_, dirs[probe_drive], &probe));
  TS_RETURN_IF_ERROR(io::ResolveDirectIo(options.direct_io, dirs[probe_drive],
                                         probe, &use_direct_));
  TS_RETURN_IF_ERROR(ec::ReedSolomonCodec::Create(
      int(layout_.data_shards), int(layout_.parity_shards),
      ec::EcBackend::kBuiltin, nullptr, &codec_));

  const uint64_t group_cap = layout_.segment_data_bytes() / 2;
  options_.group_bytes_max =
      std::max<uint64_t>(layout_.stripe_data_bytes(),
                         std::min(options.group_bytes_max, group_cap));
  info_.store_id = Hex(store_id_, 16);
  info_.data_shards = layout_.data_shards;
  info_.parity_shards = layout_.parity_shards;
  info_.chunk_bytes = layout_.chunk_bytes;
  info_.segment_stripes = layout_.segment_stripes;
  info_.direct_io = use_direct_;
  info_.record_bytes_max = options_.group_bytes_max - log::group_record_bytes -
                           log::record_header_bytes_max;
  usage_.Reset(layout_);
  {
    const uint32_t k = layout_.data_shards, n = layout_.shards();
    const uint32_t q =
        options.write_quorum ? options.write_quorum : std::min(k + 1, n);
    if (q < k || q > n) {
      return InvalidArg("writeQuorum must be in " + std::to_string(k) + ".." +
                        std::to_string(n) + " (dataShards..drives), got " +
                        std::to_string(q));
    }
    info_.write_quorum = q;
  }
  TS_ASSERT(drives_.size() == layout_.shards());
  TS_ASSERT(layout_.Valid());
  return Status::Ok();
}

// ------------------------------------------------------------- segments

Status Engine::CreateSegment(uint64_t id, bool zero_fill) {
  TS_ASSERT(layout_.Valid());
  auto seg = std::make_unique<Segment>();
  seg->id = id;
  seg->Init(layout_.shards());
  const uint32_t n = layout_.shards();
  const int flags = io::kOpenRead | io::kOpenWrite | io::kOpenCreate |
                    io::kOpenExclusive | (use_direct_ ? io::kOpenDirect : 0);
  io::AlignedBuffer zeros;
  if (zero_fill) {
    TS_RETURN_IF_ERROR(io::AlignedBuffer::Allocate(kZeroChunkBytes, &zeros));
  }
  std::vector<io::AlignedBuffer> headers(n);
  for (uint32_t d = 0; d < n; d++) {
    TS_RETURN_IF_ERROR(
        io::AlignedBuffer::Allocate(log::segment_header_bytes, &headers[d]));
    log::SegmentHeader h;
    h.segment_id = id;
    h.drive_index = d;
    memcpy(h.store_id, store_id_, 16);
    log::EncodeSegmentHeader(h, headers[d].data());
  }
  // Each drive's file is made durable on its own (one blocking round trip
  // after another: fallocate, zeros, header, fdatasync, directory fsync),
  // every drive at once on segment_pool_ (docs/engine.md, "Segment
  // preparation"). Only this drive's slots are touched by its iteration.
  std::vector<int> fds(n, -1);
  std::vector<Status> statuses(n);
  std::vector<uint8_t> tried(n, 0);  // not vector<bool>: one byte per writer
  segment_pool_.Run(n, [&](size_t i) {
    const uint32_t d = uint32_t(i);
    if (drives_[d]->absent) return;  // down for this whole open
    tried[d] = 1;
    const std::string dir = drives_[d]->dir + "/segments";
    int fd = -1;
    Status status = fs_->Open(dir + "/" + SegmentName(id), flags, &fd);
    if (!status.ok()) {
      statuses[d] = status;
      return;
    }
    fds[d] = fd;
    status = fs_->Fallocate(fd, 0, layout_.segment_file_bytes());
    if (status.ok()) KILL_POINT("segment.after_allocate");
    if (status.ok() && zero_fill) {
      // Fallocated extents are "unwritten": the first write into each one
      // converts it, a metadata change that makes every commit's fdatasync
      // a journal commit. Writing zeros once here makes later commits
      // plain overwrites, so their fdatasync only flushes data.
      for (uint64_t off = 0; status.ok() && off < layout_.segment_file_bytes();
           off += kZeroChunkBytes) {
        const uint64_t len = std::min<uint64_t>(
            kZeroChunkBytes, layout_.segment_file_bytes() - off);
        status = fs_->Pwrite(fd, zeros.data(), len, off);
      }
    }
    if (status.ok()) {
      status = fs_->Pwrite(fd, headers[d].data(), headers[d].size(), 0);
    }
    if (status.ok()) status = fs_->Fdatasync(fd);
    if (status.ok()) KILL_POINT("segment.before_dir_sync");
    if (status.ok()) status = fs_->FsyncDir(dir);
    statuses[d] = status;
  });
  // Every drive is tried (a down drive too: this is also how it comes
  // back); the segment takes writes when a write quorum of drives has it.
  uint32_t ok_count = 0;
  Status first_error;
  for (uint32_t d = 0; d < n; d++) {
    if (!tried[d]) continue;
    Status status = statuses[d];
    if (fds[d] < 0) {
      if (first_error.ok()) first_error = status;
      continue;
    }
    const int fd = fds[d];
    seg->fds[d].store(fd);
    const std::string dir = drives_[d]->dir + "/segments";
    uint32_t file_id = 0;
    if (status.ok()) {
      status = io_.AddFile(fd, dir + "/" + SegmentName(id), &file_id);
    }
    if (!status.ok()) {
      // This drive is down for the segment; its chunks count as missing.
      if (first_error.ok()) first_error = status;
      (void)fs_->Close(fd).ok();
      seg->fds[d].store(-1);
      continue;
    }
    seg->io_files[d] = file_id;
    seg->drive_ok[d] = true;
    ok_count++;
  }
  seg->writable = ok_count >= Quorum();
  // The id is used either way (never reused), so the next roll takes the
  // next one.
  usage_.NoteSegment(id, false);
  std::lock_guard<std::mutex> lock(segments_mu_);
  segments_[id] = std::move(seg);
  TS_ASSERT(segments_.count(id) == 1);
  if (ok_count < Quorum()) {
    return Status(StatusCode::kQuorum,
                  "segment " + SegmentName(id) + " could be created on " +
                      std::to_string(ok_count) +
                      " drives, the write quorum "
                      "is " +
                      std::to_string(Quorum()) +
                      (first_error.ok() ? "" : ": " + first_error.message()),
                  first_error.sys_errno());
  }
  return Status::Ok();
}

// Opens an existing segment on every drive that has it; *out is nullptr
// when no drive has it.
Status Engine::OpenSegment(uint64_t id, bool must_exist, Segment** out) {
  TS_ASSERT(out != nullptr);
  *out = nullptr;
  {
    std::lock_guard<std::mutex> lock(segments_mu_);
    auto it = segments_.find(id);
    if (it != segments_.end()) {
      *out = it->second.get();
      return Status::Ok();
    }
  }
  auto seg = std::make_unique<Segment>();
  seg->id = id;
  seg->Init(layout_.shards());
  io::AlignedBuffer header;
  TS_RETURN_IF_ERROR(
      io::AlignedBuffer::Allocate(log::segment_header_bytes, &header));
  uint32_t present = 0, healthy = 0;
  const int flags =
      io::kOpenRead | io::kOpenWrite | (use_direct_ ? io::kOpenDirect : 0);
  for (uint32_t d = 0; d < layout_.shards(); d++) {
    if (drives_[d]->absent) continue;  // down for this whole open
    const std::string path = drives_[d]->dir + "/segments/" + SegmentName(id);
    if (!Exists(fs_, path, nullptr)) continue;
    int fd = -1;
    Status s = fs_->Open(path, flags, &fd);
    if (!s.ok()) continue;  // unreadable: its chunks count as missing
    seg->fds[d].store(fd);
    present++;
    size_t got = 0;
    s = fs_->Pread(fd, header.data(), header.size(), 0, &got);
    log::SegmentHeader h;
    if (s.ok() && got == header.size() &&
        log::DecodeSegmentHeader(header.data(), got, &h).ok() &&
        h.segment_id == id && h.drive_index == d &&
        memcmp(h.store_id, store_id_, 16) == 0) {
      healthy++;
      // Header flags (offset 40), bit 0: freed by compaction (format.md).
      if (header.data()[40] & 1) seg->freed = true;
      seg->drive_ok[d] = true;  // registered with the IoEngine if the tail
    }
  }
  if (present == 0) {
    if (must_exist) {
      return Status(StatusCode::kCorrupt, "segment " + SegmentName(id) +
                                              " is missing on every drive");
    }
    return Status::Ok();
  }
  seg->writable = healthy >= Quorum() && !seg->freed;
  std::lock_guard<std::mutex> lock(segments_mu_);
  // Two readers can open the same segment at once (parallel reads after a
  // reopen): the first one in wins; replacing it would free a Segment the
  // other reader is using.
  auto [it, inserted] = segments_.try_emplace(id, std::move(seg));
  if (!inserted) {
    for (int fd : seg->fds) {
      if (fd >= 0) (void)fs_->Close(fd).ok();
    }
  }
  *out = it->second.get();
  return Status::Ok();
}

// ---------------------------------------------------------------- reads

// Reads `count` stripes starting at `stripe` from every drive; a chunk is
// valid when its trailer verifies and names this segment, stripe and drive.
Status Engine::ReadStripe(uint64_t segment, uint32_t stripe, uint32_t count,
                          std::vector<std::vector<uint8_t>>* data,
                          std::vector<log::ChunkTrailer>* trailers,
                          std::vector<bool>* valid) {
  TS_ASSERT(count >= 1 && stripe + count <= layout_.segment_stripes);
  Segment* seg = nullptr;
  TS_RETURN_IF_ERROR(OpenSegment(segment, false, &seg));
  const uint32_t n = layout_.shards();
  const uint32_t c = layout_.chunk_bytes;
  data->assign(n, std::vector<uint8_t>());
  trailers->assign(size_t(n) * count, log::ChunkTrailer());
  valid->assign(size_t(n) * count, false);
  if (seg == nullptr) return Status::Ok();
  io::AlignedBuffer buf;
  TS_RETURN_IF_ERROR(io::AlignedBuffer::Allocate(size_t(count) * c, &buf));
  uint64_t read = 0;
  for (uint32_t d = 0; d < n; d++) {
    if (seg->fds[d] < 0) continue;
    size_t got = 0;
    Status s = fs_->Pread(seg->fds[d], buf.data(), buf.size(),
                          layout_.StripeFileOffset(stripe), &got);
    if (!s.ok()) got = 0;
    (*data)[d].assign(buf.data(), buf.data() + size_t(count) * c);
    for (uint32_t i = 0; i < count; i++) {
      if (size_t(i + 1) * c > got) break;
      read++;
      log::ChunkTrailer t;
      const uint8_t* chunk = (*data)[d].data() + size_t(i) * c;
      if (log::OpenChunk(chunk, c, &t).ok() && t.segment_id == segment &&
          t.stripe_index == stripe + i && t.drive_index == d) {
        (*trailers)[size_t(i) * n + d] = t;
        (*valid)[size_t(i) * n + d] = true;
      }
    }
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.chunks_read += read;
  TS_ASSERT(valid->size() == size_t(n) * count);
  return Status::Ok();
}

namespace {

// Makes stripe i of `data` whole: picks the group_seq that at least k valid
// chunks agree on (or `want_seq` when nonzero), then rebuilds the missing
// or disagreeing data chunks from parity. False when fewer than k agree.
bool RepairStripe(const Layout& l, const ec::ReedSolomonCodec& codec,
                  uint32_t i, uint64_t want_seq,
                  std::vector<std::vector<uint8_t>>* data,
                  const std::vector<log::ChunkTrailer>& trailers,
                  std::vector<bool>* valid, uint64_t* group_seq, uint8_t* flags,
                  bool* reconstructed) {
  const uint32_t n = l.shards();
  std::map<uint64_t, uint32_t> votes;
  for (uint32_t d = 0; d < n; d++) {
    if ((*valid)[size_t(i) * n + d])
      votes[trailers[size_t(i) * n + d].group_seq]++;
  }
  uint64_t seq = 0;
  uint32_t best = 0;
  for (const auto& v : votes) {
    if ((want_seq == 0 || v.first == want_seq) && v.second > best) {
      seq = v.first;
      best = v.second;
    }
  }
  *reconstructed = false;
  if (best < l.data_shards) return false;
  int missing[log::shards_max];
  int missing_count = 0;
  uint8_t f = 0;
  for (uint32_t d = 0; d < n; d++) {
    const bool ok = (*valid)[size_t(i) * n + d] &&
                    trailers[size_t(i) * n + d].group_seq == seq;
    if (ok) {
      f = trailers[size_t(i) * n + d].flags;
    } else {
      missing[missing_count++] = int(d);
      if ((*data)[d].empty()) {
        (*data)[d].assign(size_t(l.chunk_bytes) * (trailers.size() / n), 0);
      }
    }
  }
  if (missing_count > 0) {
    // Reconstruct needs at most m missing; with >= k agreeing it holds.
    TS_ASSERT(uint32_t(missing_count) <= l.parity_shards);
    uint8_t* ptrs[log::shards_max];
    for (uint32_t d = 0; d < n; d++) {
      ptrs[d] = (*data)[d].data() + size_t(i) * l.chunk_bytes;
    }
    codec.Reconstruct(l.payload_bytes(), ptrs, missing, missing_count);
    *reconstructed = true;
  }
  *group_seq = seq;
  *flags = f;
  return true;
}

}  // namespace

namespace {
// The calling thread's ring for ReadDrives, created on its first use;
// nullptr when io_uring cannot be set up here. Each reader thread has its
// own (an IoUring is used by one thread), freed when the thread ends.
thread_local bool read_ring_broken = false;  // see ReadDrives

io::IoUring* ThreadReadRing() {
  thread_local std::unique_ptr<io::IoUring> ring;
  thread_local bool tried = false;
  if (!tried) {
    tried = true;
    auto r = std::make_unique<io::IoUring>();
    if (r->Init(kReadRingEntries).ok()) ring = std::move(r);
  }
  return read_ring_broken ? nullptr : ring.get();
}
}  // namespace

// Reads `want` bytes at `offset` of each drive file in `fds` (-1: skip,
// got 0) into bufs[d]. With io_uring (the real file system only: the test
// layers interpose on Pread) every drive's read is in flight at once, so
// the device queue is as deep as the drives a batch touches; otherwise one
// pread after another. A failed or short read leaves got[d] short, and the
// caller treats the missing chunks as bad (rebuilt from parity).
void Engine::ReadDrives(const std::vector<int>& fds,
                        std::vector<io::AlignedBuffer>* bufs, size_t want,
                        uint64_t offset, std::vector<size_t>* got) {
  TS_ASSERT(got != nullptr && got->size() == fds.size());
  TS_ASSERT(bufs != nullptr && bufs->size() == fds.size());
  io::IoUring* ring = read_ring_ ? ThreadReadRing() : nullptr;
  uint32_t live = 0;
  for (int fd : fds) live += fd >= 0 ? 1 : 0;
  if (ring != nullptr && live > 1) {
    std::vector<io::UringOp> ops(fds.size());
    std::vector<struct iovec> iov(fds.size());
    std::vector<io::UringOp*> ptrs;
    for (size_t d = 0; d < fds.size(); d++) {
      if (fds[d] < 0) continue;
      iov[d].iov_base = (*bufs)[d].data();
      iov[d].iov_len = want;
      ops[d].kind = io::UringOp::kReadv;
      ops[d].fd = fds[d];
      ops[d].offset = offset;
      ops[d].iov = &iov[d];
      ops[d].iovcnt = 1;
      ptrs.push_back(&ops[d]);
    }
    if (ring->Run(&ptrs).ok()) {
      for (size_t d = 0; d < fds.size(); d++) {
        (*got)[d] = fds[d] >= 0 && ops[d].status.ok() ? ops[d].bytes : 0;
      }
      return;
    }
    // The ring itself failed (io_uring_enter, not a read): reads may still
    // be in flight into these buffers, so this thread never uses its ring
    // again and the buffers are abandoned to the kernel (deliberately
    // leaked, once per thread at most) for fresh ones read one by one.
    read_ring_broken = true;
    new std::vector<io::AlignedBuffer>(std::move(*bufs));  // NOLINT: leaked
    bufs->clear();
    bufs->resize(fds.size());
    for (size_t d = 0; d < fds.size(); d++) {
      if (!io::AlignedBuffer::Allocate(want, &(*bufs)[d]).ok()) {
        for (size_t& g : *got) g = 0;  // every chunk missing: a clean error
        return;
      }
    }
  }
  for (size_t d = 0; d < fds.size(); d++) {
    (*got)[d] = 0;
    if (fds[d] < 0) continue;
    size_t n = 0;
    if (fs_->Pread(fds[d], (*bufs)[d].data(), want, offset, &n).ok()) {
      (*got)[d] = n;
    }
  }
}

Status Engine::ReadLog(uint64_t address, uint64_t len, uint8_t* out) {
  const uint32_t k = layout_.data_shards;
  const uint32_t c = layout_.chunk_bytes;
  const uint32_t dpay = layout_.payload_bytes();
  // One aligned buffer per data drive, reused by every batch: the chunks
  // are read straight into it, verified there and copied out once. The
  // buffers are this thread's and outlive the call (session 4): a fresh
  // set per read was zero-filled and faulted in again every time, as many
  // bytes as the read itself. At most k x 1 MiB (a batch) per thread that
  // reads; ReadLog is never re-entered on one thread.
  thread_local std::vector<io::AlignedBuffer> thread_bufs;
  if (thread_bufs.size() != k) thread_bufs.resize(k);
  std::vector<io::AlignedBuffer>& bufs = thread_bufs;
  uint64_t done = 0;
  while (done < len) {
    const log::Location loc = log::Locate(layout_, address + done);
    // Stripes of this segment that the rest of the range touches.
    const uint64_t seg_left = layout_.segment_data_bytes() -
                              (address + done) % layout_.segment_data_bytes();
    const uint64_t span = std::min(len - done, seg_left);
    const uint64_t last =
        (address + done + span - 1) % layout_.segment_data_bytes();
    const uint32_t last_stripe = uint32_t(last / layout_.stripe_data_bytes());
    const uint32_t count =
        std::min(kReadBatchStripes, last_stripe - loc.stripe + 1);
    const uint64_t batch_bytes =
        std::min(span, uint64_t(count) * layout_.stripe_data_bytes() -
                           (uint64_t(loc.data_chunk) * dpay + loc.byte));
    Segment* seg = nullptr;
    TS_RETURN_IF_ERROR(OpenSegment(loc.segment, false, &seg));
    if (seg == nullptr) {
      return Status(StatusCode::kCorrupt, "log address " +
                                              std::to_string(address + done) +
                                              " is in a missing segment");
    }
    // Which data drives the batch touches: all of them unless it is
    // inside one stripe.
    std::vector<bool> touch(layout_.shards(), false);
    if (count == 1) {
      const uint64_t first_byte = uint64_t(loc.data_chunk) * dpay + loc.byte;
      const uint64_t last_byte = first_byte + batch_bytes - 1;
      for (uint64_t j = first_byte / dpay; j <= last_byte / dpay; j++) {
        touch[j] = true;
      }
    } else {
      for (uint32_t j = 0; j < k; j++) touch[j] = true;
    }
    std::vector<log::ChunkTrailer> trailers(size_t(layout_.shards()) * count);
    std::vector<bool> valid(size_t(layout_.shards()) * count, false);
    std::vector<const uint8_t*> src(k, nullptr);
    bool all_good = true;
    uint64_t read = 0, bad = 0;
    const size_t want = size_t(count) * c;
    std::vector<size_t> got(k, 0);
    std::vector<int> fds(k, -1);
    for (uint32_t d = 0; d < k; d++) {
      if (!touch[d]) continue;
      if (bufs[d].size() < want) {
        const size_t cap =
            size_t(std::min<uint64_t>(
                kReadBatchStripes,
                (len - done) / layout_.stripe_data_bytes() + 2)) *
            c;
        TS_RETURN_IF_ERROR(
            io::AlignedBuffer::Allocate(std::max(cap, want), &bufs[d]));
      }
      fds[d] = seg->fds[d];
    }
    ReadDrives(fds, &bufs, want, layout_.StripeFileOffset(loc.stripe), &got);
    for (uint32_t d = 0; d < k; d++) {
      if (!touch[d]) continue;
      src[d] = bufs[d].data();
      for (uint32_t i = 0; i < count; i++) {
        read++;
        log::ChunkTrailer t;
        if (size_t(i + 1) * c <= got[d] &&
            log::OpenChunk(bufs[d].data() + size_t(i) * c, c, &t).ok() &&
            t.segment_id == loc.segment && t.stripe_index == loc.stripe + i &&
            t.drive_index == d) {
          trailers[size_t(i) * layout_.shards() + d] = t;
          valid[size_t(i) * layout_.shards() + d] = true;
        } else {
          all_good = false;
          bad++;
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.chunks_read += read;
      stats_.chunks_bad += bad;
    }
    std::vector<std::vector<uint8_t>> full;
    if (!all_good) {
      // Degraded: read every chunk of the batch and rebuild what is bad.
      TS_RETURN_IF_ERROR(
          ReadStripe(loc.segment, loc.stripe, count, &full, &trailers, &valid));
      for (uint32_t i = 0; i < count; i++) {
        uint64_t seq = 0;
        uint8_t flags = 0;
        bool rebuilt = false;
        if (!RepairStripe(layout_, *codec_, i, 0, &full, trailers, &valid, &seq,
                          &flags, &rebuilt)) {
          return Status(StatusCode::kCorrupt,
                        "stripe " + std::to_string(loc.stripe + i) +
                            " of segment " + std::to_string(loc.segment) +
                            " has fewer than " + std::to_string(k) +
                            " intact chunks");
        }
        if (rebuilt) {
          std::lock_guard<std::mutex> lock(stats_mu_);
          stats_.stripes_reconstructed++;
        }
        if (rebuilt) NoteDamage(loc.segment, loc.stripe + i);
      }
      for (uint32_t d = 0; d < k; d++) src[d] = full[d].data();
    }
    // Copy the batch's bytes out in logical order.
    uint64_t copied = 0;
    uint32_t stripe = 0, j = loc.data_chunk, byte = loc.byte;
    while (copied < batch_bytes) {
      const uint64_t n = std::min<uint64_t>(dpay - byte, batch_bytes - copied);
      TS_ASSERT(src[j] != nullptr);
      memcpy(out + done + copied, src[j] + size_t(stripe) * c + byte, n);
      copied += n;
      byte = 0;
      if (++j == k) {
        j = 0;
        stripe++;
      }
    }
    done += batch_bytes;
  }
  TS_ASSERT(done == len);
  return Status::Ok();
}

namespace {
void FillInfo(const VersionMeta& meta, const log::ObjectRecord& rec,
              ObjectInfo* out) {
  out->version_id = VersionIdString(meta);
  out->delete_marker = meta.delete_marker;
  out->size = meta.size;
  out->mtime_ms = meta.mtime_ms;
  memcpy(out->etag, meta.etag, 16);
  out->part_count = meta.part_count;
  out->content_type = rec.content_type;
  out->metadata = rec.metadata;
  out->checksums = rec.checksums;
  out->seq = meta.seq;
}
}  // namespace

// ------------------------------------------------------------ read cache
//
// Entries are keyed by the log address of the version's OBJECT record and
// hold that record's bytes exactly as read (every chunk CRC-verified, the
// record header's CRC and the payload CRC checked before insertion).
// docs/engine.md ("Read cache") argues why no stale byte is reachable:
// lookups always go through the KeyDirectory first, and an address names
// one immutable record for ever.

// Only inline bodies are cached: their payload is the body, so its length
// is meta.size (the index keeps no separate payload length).
bool Engine::Cacheable(const VersionMeta& meta) const {
  return cache_ != nullptr && !meta.extents && !meta.delete_marker &&
         meta.size <= options_.cache_object_bytes_max;
}

namespace {
bool Matches(const CachedRecord& r, const VersionMeta& meta) {
  return r.seq == meta.seq && r.header_bytes == meta.header_bytes &&
         r.bytes.size() == meta.header_bytes + meta.size;
}

Status DoesNotVerify(const VersionMeta& meta) {
  return Status(
      StatusCode::kCorrupt,
      "object record at " + std::to_string(meta.address) + " does not verify");
}

// Decodes the record header just read for `meta` (its header_bytes bytes)
// and checks that it is the object record the index points at.
Status DecodeIndexedHeader(const VersionMeta& meta, const std::string& bytes,
                           log::RecordHeader* h) {
  size_t needed = 0;
  Status s = log::DecodeRecordHeader(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), h, &needed);
  if (!s.ok() || h->type != log::RecordType::kObject || h->seq != meta.seq) {
    return DoesNotVerify(meta);
  }
  return Status::Ok();
}
}  // namespace

Status Engine::ReadRecordCached(const VersionMeta& meta,
                                std::shared_ptr<const CachedRecord>* out) {
  TS_ASSERT(Cacheable(meta));
  if (std::shared_ptr<const CachedRecord> hit = cache_->Lookup(meta.address)) {
    if (Matches(*hit, meta)) {
      *out = std::move(hit);
      return Status::Ok();
    }
    cache_->Erase(meta.address);  // cannot happen (addresses are unique)
  }
  auto rec = std::make_shared<CachedRecord>();
  rec->seq = meta.seq;
  rec->header_bytes = meta.header_bytes;
  rec->bytes.assign(meta.header_bytes + meta.size, '\0');
  uint8_t* data = reinterpret_cast<uint8_t*>(&rec->bytes[0]);
  TS_RETURN_IF_ERROR(ReadLog(meta.address, rec->bytes.size(), data));
  log::RecordHeader h;
  size_t needed = 0;
  Status s = log::DecodeRecordHeader(data, rec->bytes.size(), &h, &needed);
  if (!s.ok() || h.type != log::RecordType::kObject || h.seq != meta.seq ||
      h.header_bytes != meta.header_bytes || h.payload_bytes != meta.size ||
      crc32c::Extend(0, data + h.header_bytes, h.payload_bytes) !=
          h.payload_crc32c) {
    return DoesNotVerify(meta);
  }
  TS_RETURN_IF_ERROR(log::DecodeObjectVar(
      std::string_view(rec->bytes)
          .substr(log::record_header_fixed_bytes,
                  h.header_bytes - log::record_header_fixed_bytes),
      &rec->object));
  rec->object.bucket.clear();
  rec->object.key.clear();
  rec->object.version_id.clear();
  cache_->Insert(meta.address, rec);
  *out = std::move(rec);
  return Status::Ok();
}

bool Engine::GetCached(const std::string& bucket, const std::string& key,
                       const std::string& version_id, ObjectInfo* info,
                       std::shared_ptr<const CachedRecord>* record) {
  TS_ASSERT(info != nullptr && record != nullptr);
  if (cache_ == nullptr) return false;
  VersionMeta meta;
  if (!directory_.Lookup(bucket, key, version_id, &meta).ok()) return false;
  if (!Cacheable(meta)) return false;
  std::shared_ptr<const CachedRecord> hit =
      cache_->Lookup(meta.address, /*count_miss=*/false);
  if (hit == nullptr || !Matches(*hit, meta)) return false;
  FillInfo(meta, hit->object, info);
  if (version_id.empty()) {
    info->is_latest = true;
  } else {
    VersionMeta current;
    info->is_latest = directory_.Lookup(bucket, key, "", &current).ok() &&
                      current.seq == meta.seq;
  }
  *record = std::move(hit);
  return true;
}

Status Engine::ReadRecordHeader(const VersionMeta& meta,
                                log::ObjectRecord* object) {
  if (Cacheable(meta)) {
    // One read of the whole small record: the body read that follows a
    // head is then a cache hit.
    std::shared_ptr<const CachedRecord> rec;
    TS_RETURN_IF_ERROR(ReadRecordCached(meta, &rec));
    *object = rec->object;
    return Status::Ok();
  }
  std::string bytes(meta.header_bytes, '\0');
  TS_RETURN_IF_ERROR(ReadLog(meta.address, meta.header_bytes,
                             reinterpret_cast<uint8_t*>(&bytes[0])));
  log::RecordHeader h;
  TS_RETURN_IF_ERROR(DecodeIndexedHeader(meta, bytes, &h));
  return log::DecodeObjectVar(
      std::string_view(bytes).substr(log::record_header_fixed_bytes), object);
}

Status Engine::ReadPayloadBytes(const VersionMeta& meta, uint64_t* out) {
  TS_ASSERT(out != nullptr);
  TS_ASSERT(meta.header_bytes >= log::record_header_fixed_bytes);
  std::string bytes(meta.header_bytes, '\0');
  TS_RETURN_IF_ERROR(ReadLog(meta.address, meta.header_bytes,
                             reinterpret_cast<uint8_t*>(&bytes[0])));
  log::RecordHeader h;
  TS_RETURN_IF_ERROR(DecodeIndexedHeader(meta, bytes, &h));
  *out = h.payload_bytes;
  TS_ASSERT(h.header_bytes == meta.header_bytes);
  return Status::Ok();
}

Status Engine::Head(const std::string& bucket, const std::string& key,
                    const std::string& version_id, ObjectInfo* out) {
  TS_ASSERT(out != nullptr);
  std::shared_lock<std::shared_mutex> hold(reclaim_mu_);  // compaction.cc
  VersionMeta meta;
  TS_RETURN_IF_ERROR(directory_.Lookup(bucket, key, version_id, &meta));
  return HeadOf(bucket, key, meta, out);
}

Status Engine::HeadOf(const std::string& bucket, const std::string& key,
                      const VersionMeta& meta, ObjectInfo* out) {
  VersionMeta current;
  TS_RETURN_IF_ERROR(directory_.Lookup(bucket, key, "", &current));
  log::ObjectRecord rec;
  TS_RETURN_IF_ERROR(ReadRecordHeader(meta, &rec));
  FillInfo(meta, rec, out);
  out->is_latest = current.seq == meta.seq;
  if (meta.delete_marker) {
    return Status(StatusCode::kNotFound, "the version is a delete marker");
  }
  return Status::Ok();
}

Status Engine::Get(const std::string& bucket, const std::string& key,
                   const std::string& version_id, uint64_t offset,
                   uint64_t length, ObjectInfo* info, std::string* body) {
  TS_ASSERT(info != nullptr && body != nullptr);
  // One lookup for both the info and the body: a second lookup could see a
  // newer version committed in between, and info and body must belong
  // together. The reclaim lock (compaction.cc) is held from the lookup to
  // the last byte read.
  std::shared_lock<std::shared_mutex> hold(reclaim_mu_);
  VersionMeta meta;
  TS_RETURN_IF_ERROR(directory_.Lookup(bucket, key, version_id, &meta));
  TS_RETURN_IF_ERROR(HeadOf(bucket, key, meta, info));
  if (offset > meta.size) offset = meta.size;
  length = std::min(length, meta.size - offset);
  body->assign(length, '\0');
  if (length == 0) return Status::Ok();
  return ReadBody(meta, offset, length,
                  reinterpret_cast<uint8_t*>(&(*body)[0]));
}

Status Engine::GetInto(const std::string& bucket, const std::string& key,
                       const std::string& version_id, uint64_t offset,
                       uint64_t length, uint8_t* out, uint64_t capacity,
                       uint64_t* got) {
  TS_ASSERT(got != nullptr && (out != nullptr || capacity == 0));
  *got = 0;
  std::shared_lock<std::shared_mutex> hold(reclaim_mu_);  // as in Get
  VersionMeta meta;
  TS_RETURN_IF_ERROR(directory_.Lookup(bucket, key, version_id, &meta));
  if (meta.delete_marker) {  // Get's answer (HeadOf), without the header read
    return Status(StatusCode::kNotFound, "the version is a delete marker");
  }
  if (offset > meta.size) offset = meta.size;
  length = std::min(length, meta.size - offset);
  if (length > capacity) {
    return Status(StatusCode::kOutOfRange,
                  "the read is " + std::to_string(length) +
                      " bytes, the target holds " + std::to_string(capacity));
  }
  if (length == 0) return Status::Ok();
  TS_RETURN_IF_ERROR(ReadBody(meta, offset, length, out));
  *got = length;
  return Status::Ok();
}

// Body bytes [offset, offset + length) of `meta` (already clipped to its
// size) into `out`; the caller holds reclaim_mu_ shared.
Status Engine::ReadBody(const VersionMeta& meta, uint64_t offset,
                        uint64_t length, uint8_t* out) {
  TS_ASSERT(offset + length <= meta.size && length > 0);
  const uint64_t payload = meta.address + meta.header_bytes;
  if (!meta.extents) {
    // Every byte served passed its chunk's CRC32C; a whole-object read also
    // checks the record's payload CRC.
    if (Cacheable(meta)) {
      std::shared_ptr<const CachedRecord> rec;
      TS_RETURN_IF_ERROR(ReadRecordCached(meta, &rec));
      memcpy(out, rec->bytes.data() + rec->header_bytes + offset, length);
      return Status::Ok();
    }
    TS_RETURN_IF_ERROR(ReadLog(payload + offset, length, out));
    return Status::Ok();
  }
  // The index keeps only the header's size; the extent list's size is in
  // the record header.
  uint64_t list_bytes = 0;
  TS_RETURN_IF_ERROR(ReadPayloadBytes(meta, &list_bytes));
  std::string list(list_bytes, '\0');
  TS_RETURN_IF_ERROR(
      ReadLog(payload, list_bytes, reinterpret_cast<uint8_t*>(&list[0])));
  std::vector<log::Extent> extents;
  TS_RETURN_IF_ERROR(log::DecodeExtents(list, meta.size, &extents));
  uint64_t pos = 0;  // body offset of the current extent
  const uint32_t frag_header = log::record_header_fixed_bytes + 16;
  for (const log::Extent& e : extents) {
    const uint64_t lo = std::max(pos, offset);
    const uint64_t hi = std::min(pos + e.length, offset + length);
    if (lo < hi) {
      TS_RETURN_IF_ERROR(ReadLog(e.address + frag_header + (lo - pos), hi - lo,
                                 out + (lo - offset)));
    }
    pos += e.length;
  }
  TS_ASSERT(pos == meta.size);
  return Status::Ok();
}

// ---------------------------------------------------------------- writes

uint64_t Engine::NowMs() const {
  if (options_.now_ms != 0) return options_.now_ms;
  return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());
}

uint64_t Engine::BeginUpload() {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_upload_id_++;
  auto upload = std::make_shared<Upload>();
  upload->id = id;
  uploads_[id] = upload;
  TS_ASSERT(id != 0);
  return id;
}

void Engine::AbortUpload(uint64_t upload_id) {
  std::lock_guard<std::mutex> lock(mu_);
  uploads_.erase(upload_id);
}

Status Engine::SubmitPut(WriteRequest request, WriteDone done) {
  TS_ASSERT(request.kind == WriteRequest::Kind::kPut);
  TS_ASSERT(done != nullptr);
  if (request.body_bytes > info_.record_bytes_max) {
    return Status(StatusCode::kOutOfRange,
                  "an inline body is at most " +
                      std::to_string(info_.record_bytes_max) + " bytes");
  }
  auto job = std::make_shared<EtagJob>();
  const uint8_t* body = request.body;
  const uint64_t len = request.body_bytes;
  TS_RETURN_IF_ERROR(Enqueue(std::move(request), std::move(done), job));
  // The body stays borrowed until `done` runs, which is after this hash:
  // the committer does not take the put before the job is done.
  Status s = Post([this, job, body, len] {
    Md5 md5;
    md5.Update(body, len);
    uint8_t etag[16];
    md5.Final(etag);
    {
      std::lock_guard<std::mutex> lock(mu_);
      memcpy(job->etag, etag, 16);
      job->done = true;
    }
    queue_cv_.notify_all();
  });
  // Readers stop only after the committer drained the queue, and the
  // committer waits for this job, so Post cannot be refused here.
  TS_ASSERT(s.ok());
  return Status::Ok();
}

Status Engine::AppendUpload(uint64_t upload_id, const uint8_t* body,
                            uint64_t len, WriteDone done) {
  TS_ASSERT(done != nullptr);
  if (len > info_.record_bytes_max) {
    return Status(StatusCode::kOutOfRange,
                  "an upload piece is at most " +
                      std::to_string(info_.record_bytes_max) + " bytes");
  }
  std::shared_ptr<Upload> upload;
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || closed_) {
      return Status(StatusCode::kClosed, "the store is closed");
    }
    auto it = uploads_.find(upload_id);
    if (it == uploads_.end()) {
      return Status(StatusCode::kNotFound, "no such upload");
    }
    upload = it->second;
    Pending p;
    p.request.kind = WriteRequest::Kind::kFragment;
    p.request.upload_id = upload_id;
    p.request.body = body;
    p.request.body_bytes = len;
    // Settle the count before the caller hears of the completion, so a
    // commit issued right after the last append sees every piece settled.
    p.done = [this, upload, done = std::move(done)](const Status& status,
                                                    const WriteResult& result) {
      {
        std::lock_guard<std::mutex> settle_lock(mu_);
        TS_ASSERT(upload->unsettled > 0);
        upload->unsettled--;
      }
      done(status, result);
    };
    upload->unsettled++;
    upload->pending.push_back(std::move(p));
    start = !upload->draining;
    upload->draining = true;
  }
  if (!start) return Status::Ok();
  Status s = Post([this, upload] { DrainUpload(upload); });
  TS_ASSERT(s.ok() || s.code() == StatusCode::kClosed);
  return Status::Ok();
}

void Engine::DrainUpload(std::shared_ptr<Upload> upload) {
  for (;;) {
    Pending p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (upload->pending.empty()) {
        upload->draining = false;
        return;
      }
      p = std::move(upload->pending.front());
      upload->pending.pop_front();
    }
    upload->md5.Update(p.request.body, p.request.body_bytes);
    p.request.bucket = "-";  // fragments belong to no bucket
    Status s = Submit(p.request, p.done);
    if (!s.ok()) p.done(s, WriteResult());
  }
}

Status Engine::Submit(WriteRequest request, WriteDone done) {
  return Enqueue(std::move(request), std::move(done), nullptr);
}

Status Engine::Enqueue(WriteRequest request, WriteDone done,
                       std::shared_ptr<EtagJob> etag_job, bool wake) {
  TS_ASSERT(done != nullptr);
  using Kind = WriteRequest::Kind;
  // Fragments, relocated fragments and reclaims (compaction.cc) belong to
  // no bucket ("-"); every bucket name fits the index (3..63 bytes, the S3
  // rule lib/store enforces first).
  const bool bucketless =
      request.kind == Kind::kFragment || request.kind == Kind::kReclaim ||
      (request.kind == Kind::kRelocate && request.key.empty());
  const size_t bucket_min = bucketless ? 1 : 3;
  if (request.bucket.size() < bucket_min ||
      request.bucket.size() > log::bucket_bytes_max) {
    return InvalidArg("bucket name must be 3..63 bytes");
  }
  if (request.key.size() > log::object_key_bytes_max) {
    return InvalidArg("key is longer than 1024 bytes");
  }
  const bool keyed = request.kind == Kind::kPut ||
                     request.kind == Kind::kDelete ||
                     request.kind == Kind::kCommitUpload;
  if (keyed && request.key.empty()) return InvalidArg("key is empty");
  if ((request.kind == Kind::kPut || request.kind == Kind::kFragment) &&
      request.body_bytes > info_.record_bytes_max) {
    return Status(StatusCode::kOutOfRange,
                  "an inline body or fragment is at most " +
                      std::to_string(info_.record_bytes_max) + " bytes");
  }
  size_t meta_bytes = 0;
  for (const auto& kv : request.metadata) {
    meta_bytes += kv.first.size() + kv.second.size();
  }
  if (meta_bytes > log::metadata_bytes_max) {
    return InvalidArg("the metadata map is larger than " +
                      std::to_string(log::metadata_bytes_max) + " bytes");
  }
  if (request.content_type.size() > log::content_type_bytes_max) {
    return InvalidArg("content type is longer than 1024 bytes");
  }
  Pending p;
  p.bytes = request.body_bytes + request.key.size() + 256;
  p.request = std::move(request);
  p.done = std::move(done);
  p.etag_job = std::move(etag_job);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || closed_) {
      return Status(StatusCode::kClosed, "the store is closed");
    }
    if (queued_bytes_ + p.bytes > options_.queued_bytes_max) {
      return Status(StatusCode::kOutOfRange,
                    "the write queue is full (" +
                        std::to_string(options_.queued_bytes_max) +
                        " bytes); wait for earlier writes");
    }
    queued_bytes_ += p.bytes;
    queue_.push_back(std::move(p));
  }
  if (wake) queue_cv_.notify_one();
  return Status::Ok();
}

namespace {
// The token two writes conflict on: bucket operations conflict with every
// write in that bucket, keyed writes with writes of the same key.
std::string ConflictKey(const WriteRequest& r) {
  using Kind = WriteRequest::Kind;
  if (r.kind == Kind::kFragment) return std::string();
  if (r.kind == Kind::kRelocate && r.key.empty()) return std::string();
  if (r.kind == Kind::kBucketCreate || r.kind == Kind::kBucketDelete ||
      r.kind == Kind::kBucketSettings) {
    return r.bucket;
  }
  return r.bucket + '\0' + r.key;
}
}  // namespace

void Engine::TakeGroup(std::vector<Pending>* group) {
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [this] {
    return !queue_.empty() && (queue_.front().etag_job == nullptr ||
                               queue_.front().etag_job->done);
  };
  queue_cv_.wait(lock, [&] { return ready() || (closing_ && queue_.empty()); });
  std::set<std::string> keys, buckets;
  uint64_t bytes = log::group_record_bytes;
  // Fill the tail segment rather than leave its end unused: a group that
  // does not fit rolls to a new segment, and the stripes left behind are
  // dead until the segment is compacted (docs/gc.md). Sizes below are upper
  // bounds, so a group within the room fits; the first write always goes.
  const uint64_t room =
      uint64_t(layout_.segment_stripes -
               std::min(tail_stripe_, layout_.segment_stripes)) *
      layout_.stripe_data_bytes();
  const uint64_t cap = std::max<uint64_t>(
      layout_.stripe_data_bytes(), std::min(options_.group_bytes_max, room));
  while (ready()) {
    Pending& p = queue_.front();
    // A reclaim (compaction.cc) runs alone, between groups.
    if (p.request.kind == WriteRequest::Kind::kReclaim && !group->empty()) {
      break;
    }
    if (p.etag_job != nullptr) {
      // A put with a part count carries its own (multipart) ETag.
      if (p.request.part_count == 0)
        memcpy(p.request.etag, p.etag_job->etag, 16);
      p.etag_job.reset();
    }
    const std::string token = ConflictKey(p.request);
    const bool bucket_op = token == p.request.bucket;
    if (!token.empty()) {
      if (keys.count(token) || buckets.count(p.request.bucket)) break;
      if (bucket_op && !group->empty()) {
        // A bucket operation conflicts with any write to its bucket.
        bool touches = false;
        for (const Pending& q : *group) {
          touches = touches || q.request.bucket == p.request.bucket;
        }
        if (touches) break;
      }
    }
    // A relocated copy's header is known exactly (compaction.cc): small
    // copies (tombstones) must not count as a largest-possible header each.
    const uint64_t size =
        p.request.relocation != nullptr
            ? log::record_header_fixed_bytes +
                  p.request.relocation->var.size() + p.request.body_bytes
            : p.request.body_bytes + log::record_header_bytes_max;
    if (!group->empty() && bytes + size > cap) break;
    bytes += size;
    if (!token.empty()) {
      keys.insert(token);
      if (bucket_op) buckets.insert(p.request.bucket);
    }
    queued_bytes_ -= p.bytes;
    group->push_back(std::move(p));
    queue_.pop_front();
    if (group->back().request.kind == WriteRequest::Kind::kReclaim) break;
  }
  TS_ASSERT(!group->empty() || closing_);
}

// Decides one write against the state after every earlier group and turns
// it into a staged record (or fails it).
Status Engine::Decide(const Pending& p, std::vector<Staged>* staged,
                      uint64_t seq) {
  using Kind = WriteRequest::Kind;
  const WriteRequest& r = p.request;
  Staged s;
  s.seq = seq;
  BucketInfo bucket;
  const bool have_bucket = directory_.GetBucket(r.bucket, &bucket);
  switch (r.kind) {
    case Kind::kRelocate: {  // compaction.cc
      TS_RETURN_IF_ERROR(CheckRelocation(r));
      s.type = r.relocation->type;
      s.flags = r.relocation->flags;
      s.seq = r.relocation->seq;
      s.var = r.relocation->var;
      s.payload =
          reinterpret_cast<const uint8_t*>(r.relocation->payload.data());
      s.payload_bytes = r.relocation->payload.size();
      s.payload_crc = crc32c::Extend(0, s.payload, s.payload_bytes);
      break;
    }
    case Kind::kReclaim:
      return InvalidArg("a reclaim is not a record");
    case Kind::kBucketCreate:
    case Kind::kBucketDelete:
    case Kind::kBucketSettings: {
      log::BucketRecord b;
      b.name = r.bucket;
      b.versioning = r.versioning;
      b.created_ms = NowMs();
      if (r.kind == Kind::kBucketCreate) {
        if (have_bucket) {
          return Status(StatusCode::kPreconditionFailed,
                        "bucket already exists");
        }
        b.op = log::BucketOp::kCreate;
      } else {
        if (!have_bucket)
          return Status(StatusCode::kNotFound, "no such bucket");
        if (r.kind == Kind::kBucketDelete) {
          if (directory_.BucketVersionCount(r.bucket) != 0) {
            return Status(StatusCode::kPreconditionFailed,
                          "bucket is not empty");
          }
          b.op = log::BucketOp::kDelete;
        } else {
          b.op = log::BucketOp::kSettings;
          b.created_ms = bucket.created_ms;
        }
      }
      s.type = log::RecordType::kBucket;
      log::EncodeBucketVar(b, &s.var);
      break;
    }
    case Kind::kFragment: {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (uploads_.count(r.upload_id) == 0) {
          return Status(StatusCode::kNotFound, "no such upload");
        }
      }
      if (r.body_bytes > info_.record_bytes_max) {
        return Status(StatusCode::kOutOfRange, "fragment too large");
      }
      s.type = log::RecordType::kFragment;
      log::EncodeFragmentVar(r.upload_id, 0, &s.var);
      s.payload = r.body;
      s.payload_bytes = r.body_bytes;
      s.payload_crc = crc32c::Extend(0, r.body, r.body_bytes);
      break;
    }
    case Kind::kPut:
    case Kind::kCommitUpload:
    case Kind::kDelete: {
      if (!have_bucket) return Status(StatusCode::kNotFound, "no such bucket");
      VersionMeta current;
      const bool exists =
          directory_.Lookup(r.bucket, r.key, "", &current).ok() &&
          !current.delete_marker;
      if (r.condition == Condition::kIfNoneMatch && exists) {
        return Status(StatusCode::kPreconditionFailed,
                      "ifNoneMatch: the object exists");
      }
      const bool targeted_delete =
          r.kind == Kind::kDelete && !r.version_id.empty();
      const bool if_match = r.condition == Condition::kIfMatch;
      if (if_match && !targeted_delete && !exists) {
        return Status(StatusCode::kNotFound, "ifMatch: no such key");
      }
      if (if_match && !targeted_delete &&
          (memcmp(current.etag, r.if_match_etag, 16) != 0 ||
           current.part_count != r.if_match_part_count ||
           (r.if_match_mtime_ms != 0 &&
            current.mtime_ms != r.if_match_mtime_ms))) {
        return Status(StatusCode::kPreconditionFailed,
                      "ifMatch: the ETag does not match");
      }
      const bool versioned = bucket.versioning == log::Versioning::kEnabled;
      if (targeted_delete) {
        VersionMeta target;
        TS_RETURN_IF_ERROR(
            directory_.Lookup(r.bucket, r.key, r.version_id, &target));
        if (if_match && (memcmp(target.etag, r.if_match_etag, 16) != 0 ||
                         (r.if_match_mtime_ms != 0 &&
                          target.mtime_ms != r.if_match_mtime_ms))) {
          return Status(StatusCode::kPreconditionFailed,
                        "ifMatch: the version changed");
        }
        log::DeleteRecord d{r.bucket, r.key, r.version_id};
        s.type = log::RecordType::kDelete;
        log::EncodeDeleteVar(d, &s.var);
        s.result.version_id = r.version_id;
        s.result.delete_marker = target.delete_marker;
        break;
      }
      if (r.kind == Kind::kDelete &&
          bucket.versioning == log::Versioning::kUnversioned) {
        log::DeleteRecord d{r.bucket, r.key, ""};
        s.type = log::RecordType::kDelete;
        log::EncodeDeleteVar(d, &s.var);
        break;
      }
      log::ObjectRecord o;
      o.bucket = r.bucket;
      o.key = r.key;
      o.mtime_ms = NowMs();
      s.type = log::RecordType::kObject;
      s.flags = versioned ? log::kObjectVersioned : log::kObjectNullVersion;
      VersionMeta meta;
      meta.seq = seq;
      meta.null_version = !versioned;
      o.version_id = VersionIdString(meta);
      if (r.kind == Kind::kDelete) {
        s.flags |= log::kObjectDeleteMarker;
        s.result.delete_marker = true;
      } else {
        o.content_type = r.content_type;
        o.part_count = r.part_count;
        o.metadata = r.metadata;
        o.checksums = r.checksums;
        if (r.kind == Kind::kPut) {
          o.size = r.body_bytes;
          memcpy(o.etag, r.etag, 16);
          s.payload = r.body;
          s.payload_bytes = r.body_bytes;
        } else {
          std::vector<log::Extent> extents;
          {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = uploads_.find(r.upload_id);
            if (it == uploads_.end()) {
              return Status(StatusCode::kNotFound, "no such upload");
            }
            if (it->second->unsettled != 0) {
              return Status(StatusCode::kInvalidArgument,
                            "commit while pieces of the upload are in flight");
            }
            extents = it->second->extents;
            Md5 md5 =
                it->second->md5;  // every piece is hashed (unsettled == 0)
            md5.Final(o.etag);
            // A multipart object keeps the ETag its writer computed.
            if (r.part_count != 0) memcpy(o.etag, r.etag, 16);
          }
          for (const log::Extent& e : extents) o.size += e.length;
          log::EncodeExtents(extents, &s.owned_payload);
          s.payload = reinterpret_cast<const uint8_t*>(s.owned_payload.data());
          s.payload_bytes = s.owned_payload.size();
          s.flags |= log::kObjectExtents;
        }
        s.payload_crc = crc32c::Extend(0, s.payload, s.payload_bytes);
      }
      log::EncodeObjectVar(o, &s.var);
      memcpy(s.result.etag, o.etag, 16);
      s.size = o.size;
      s.mtime_ms = o.mtime_ms;
      s.result.version_id = o.version_id;
      break;
    }
  }
  s.result.seq = seq;
  s.header_bytes = uint32_t(log::record_header_fixed_bytes + s.var.size());
  staged->push_back(std::move(s));
  return Status::Ok();
}

// Places `log_bytes` (a GROUP record followed by records, already encoded
// except for the GROUP record's position fields, which this fills) at the
// tail, encodes parity, writes one buffer per drive and waits until every
// drive's fdatasync returned.
Status Engine::WriteGroupBytes(const std::string& records,
                               uint64_t* group_start, bool* wrote) {
  *wrote = false;
  const uint64_t used = log::group_record_bytes + records.size();
  const uint32_t stripes = uint32_t((used + layout_.stripe_data_bytes() - 1) /
                                    layout_.stripe_data_bytes());
  TS_ASSERT(stripes <= layout_.segment_stripes);
  Segment* seg = nullptr;
  {
    std::lock_guard<std::mutex> lock(segments_mu_);
    seg = segments_[tail_segment_].get();
  }
  // Down drives are tried again (at most every drive_probe_interval_ms); a
  // segment left without a write quorum is given up only then, so a store
  // with too few drives fails writes fast instead of creating segments.
  const bool probed = seg != nullptr && ProbeDownDrives(seg);
  const bool full = seg != nullptr && seg->writable &&
                    tail_stripe_ + stripes > layout_.segment_stripes;
  if (seg != nullptr && !seg->writable && !probed) {
    return Status(StatusCode::kQuorum, "fewer than the write quorum of " +
                                           std::to_string(Quorum()) +
                                           " drives are up");
  }
  if (seg == nullptr || !seg->writable || full) {
    // Zero-fill only for rolls by small groups: a large group is a stream
    // of big stripes, whose fdatasyncs amortize converting unwritten
    // extents (docs/engine.md, "Segment preparation").
    const bool zero_fill =
        options_.zero_segments &&
        (options_.zero_large_rolls || used < kLargeGroupBytes);
    Status created = CreateSegment(tail_segment_ + 1, zero_fill);
    tail_segment_++;
    tail_stripe_ = 0;
    std::lock_guard<std::mutex> lock(segments_mu_);
    seg = segments_[tail_segment_].get();
    TS_ASSERT(seg != nullptr);
    if (!created.ok()) {
      std::lock_guard<std::mutex> slock(stats_mu_);
      stats_.next_address = layout_.StripeAddress(tail_segment_, 0);
      return created;  // no stripe used
    }
  }
  const uint64_t start = layout_.StripeAddress(tail_segment_, tail_stripe_);
  // Drives that went down or came back since the last group: the missed
  // ranges open or close here (persisted by RunGroup before any write of
  // this group is acknowledged).
  (void)NoteDriveTransitions(DownMaskOf(*seg), start);
  log::GroupRecord g;
  g.group_seq = next_group_seq_++;
  g.segment_id = tail_segment_;
  g.first_stripe = tail_stripe_;
  g.stripe_count = stripes;
  g.used_bytes = used;
  g.void_start = void_start_;
  g.void_end = void_end_;
  std::string var, header;
  log::EncodeGroupVar(g, &var);
  log::EncodeRecordHeader(log::RecordType::kGroup, 0, 0, var, 0, 0, &header);
  TS_ASSERT(header.size() == log::group_record_bytes);

  // Scatter the logical bytes into per-drive buffers, then parity, then
  // trailers.
  const uint32_t n = layout_.shards();
  const uint32_t c = layout_.chunk_bytes;
  const uint32_t dpay = layout_.payload_bytes();
  std::vector<io::AlignedBuffer> bufs(n);
  for (uint32_t d = 0; d < n; d++) {
    TS_RETURN_IF_ERROR(
        io::AlignedBuffer::Allocate(size_t(stripes) * c, &bufs[d]));
  }
  auto scatter = [&](uint64_t pos, const char* src, uint64_t len) {
    while (len > 0) {
      const uint32_t stripe = uint32_t(pos / layout_.stripe_data_bytes());
      const uint64_t in = pos % layout_.stripe_data_bytes();
      const uint32_t j = uint32_t(in / dpay);
      const uint32_t byte = uint32_t(in % dpay);
      const uint64_t m = std::min<uint64_t>(dpay - byte, len);
      memcpy(bufs[j].data() + size_t(stripe) * c + byte, src, m);
      pos += m;
      src += m;
      len -= m;
    }
  };
  scatter(0, header.data(), header.size());
  scatter(header.size(), records.data(), records.size());
  for (uint32_t s = 0; s < stripes; s++) {
    uint8_t* ptrs[log::shards_max];
    for (uint32_t d = 0; d < n; d++) ptrs[d] = bufs[d].data() + size_t(s) * c;
    codec_->Encode(dpay, ptrs);
    for (uint32_t d = 0; d < n; d++) {
      log::ChunkTrailer t;
      t.segment_id = tail_segment_;
      t.stripe_index = tail_stripe_ + s;
      t.drive_index = uint8_t(d);
      t.flags = s == 0 ? log::kChunkGroupStart : 0;
      t.group_seq = g.group_seq;
      log::SealChunk(t, ptrs[d], c);
    }
  }
  // One write request per drive that is up, all queued together: each
  // drive's write and fdatasync succeed or fail on their own, and the group
  // is durable when a write quorum of them succeeded.
  std::vector<std::vector<io::IoOp>> requests;
  std::vector<uint32_t> request_drive;
  for (uint32_t d = 0; d < n; d++) {
    if (!seg->drive_ok[d]) continue;
    requests.push_back(
        {io::IoOp{seg->io_files[d], layout_.StripeFileOffset(tail_stripe_),
                  bufs[d].data(), bufs[d].size()}});
    request_drive.push_back(d);
  }
  TS_ASSERT(requests.size() >= Quorum());
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    size_t pending = 0;
    std::vector<Status> status;
  } outcome;
  outcome.pending = requests.size();
  outcome.status.resize(requests.size());
  std::vector<io::IoEngine::WriteDone> dones;
  for (size_t i = 0; i < requests.size(); i++) {
    dones.push_back([&outcome, i](const Status& s) {
      std::lock_guard<std::mutex> lock(outcome.mu);
      outcome.status[i] = s;
      if (--outcome.pending == 0) outcome.cv.notify_all();
    });
  }
  KILL_POINT("group.before_write");
  Status submitted = io_.SubmitWrites(std::move(requests), std::move(dones));
  if (submitted.ok()) {
    std::unique_lock<std::mutex> lock(outcome.mu);
    outcome.cv.wait(lock, [&] { return outcome.pending == 0; });
  } else {
    for (Status& s : outcome.status) s = submitted;
  }
  *wrote = true;
  uint32_t durable = 0;
  Status first_error;
  for (size_t i = 0; i < outcome.status.size(); i++) {
    if (outcome.status[i].ok()) {
      durable++;
      continue;
    }
    // Its file is sealed (never fdatasync'd again): the drive is down and
    // its chunks of this group count as missing.
    if (first_error.ok()) first_error = outcome.status[i];
    seg->drive_ok[request_drive[i]] = false;
  }
  Status result;
  if (durable < Quorum()) {
    result =
        Status(StatusCode::kQuorum,
               "the commit is durable on " + std::to_string(durable) + " of " +
                   std::to_string(n) + " drives, the write quorum is " +
                   std::to_string(Quorum()) + ": " + first_error.message(),
               first_error.sys_errno());
  }
  uint32_t ok_drives = 0;
  for (uint32_t d = 0; d < n; d++) ok_drives += seg->drive_ok[d] ? 1 : 0;
  if (ok_drives < Quorum()) seg->writable = false;  // the next group rolls
  (void)NoteDriveTransitions(DownMaskOf(*seg), start);
  // Whatever happened, these stripes are used: never written again.
  tail_stripe_ += stripes;
  *group_start = start;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.groups++;
    if (result.ok() && durable < n) stats_.groups_degraded++;
    stats_.next_address = layout_.StripeAddress(tail_segment_, tail_stripe_);
  }
  if (result.ok()) {
    void_start_ = void_end_ = 0;  // the void is durable now
  } else {
    // The next group carries a void over this one (and RunGroup records it
    // in degraded.dat first).
    const uint64_t end = layout_.StripeAddress(tail_segment_, tail_stripe_);
    if (void_end_ == 0) void_start_ = start;
    void_end_ = end;
  }
  return result;
}

void Engine::RunGroup(std::vector<Pending>* group) {
  std::vector<Staged> staged;
  std::vector<Status> outcome(group->size());
  // The first new seq of the group (relocated copies keep older seqs, so
  // neither the first nor the last staged record tells it).
  uint64_t group_first_seq = 0;
  for (size_t i = 0; i < group->size(); i++) {
    if (failed_) {
      outcome[i] = failure_;
      continue;
    }
    const size_t before = staged.size();
    if (group_first_seq == 0) group_first_seq = next_seq_;
    outcome[i] = Decide((*group)[i], &staged, next_seq_);
    if (staged.size() > before) {
      staged.back().pending = i;
      // Relocated copies keep their original seq.
      if ((*group)[i].request.kind != WriteRequest::Kind::kRelocate) {
        next_seq_++;
      }
    }
  }
  if (!staged.empty()) {
    // Encode records back to back after the GROUP record.
    std::string records;
    std::vector<uint64_t> offsets;
    for (Staged& s : staged) {
      std::string header;
      log::EncodeRecordHeader(s.type, s.flags, s.seq, s.var, s.payload_bytes,
                              s.payload_crc, &header);
      offsets.push_back(log::group_record_bytes + records.size());
      records += header;
      records.append(reinterpret_cast<const char*>(s.payload), s.payload_bytes);
    }
    uint64_t start = 0;
    bool wrote = false;
    Status w = WriteGroupBytes(records, &start, &wrote);
    const uint64_t group_end = stats().next_address;
    // Degraded bookkeeping first: a group a drive missed is acknowledged
    // only once degraded.dat says so on enough drives.
    if (w.ok()) {
      Status p = PersistDegraded();
      if (!p.ok()) {
        w = Status(p.code(),
                   "the commit is durable but its degraded bookkeeping is "
                   "not: " +
                       p.message(),
                   p.sys_errno());
      }
    }
    if (w.ok()) KILL_POINT("group.after_sync");
    if (w.ok()) {
      for (size_t i = 0; i < staged.size(); i++) {
        Staged& s = staged[i];
        s.address = start + offsets[i];
        s.result.address = s.address;
        const WriteRequest& r = (*group)[s.pending].request;
        if (r.kind == WriteRequest::Kind::kRelocate) {
          PublishRelocation(r, s.address);  // compaction.cc
          continue;
        }
        usage_.NoteRecord(s.address / layout_.segment_data_bytes(), s.seq);
        switch (s.type) {
          case log::RecordType::kBucket: {
            log::BucketRecord b;
            Status d = log::DecodeBucketVar(s.var, &b);
            TS_ASSERT(d.ok());
            directory_.ApplyBucket(b);
            break;
          }
          case log::RecordType::kDelete:
            UsageBeforeDelete(r.bucket, r.key, r.version_id);
            directory_.ApplyDelete(r.bucket, r.key, r.version_id);
            break;
          case log::RecordType::kFragment: {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = uploads_.find(r.upload_id);
            if (it != uploads_.end()) {
              it->second->extents.push_back(
                  log::Extent{s.address, s.payload_bytes, s.payload_crc});
            }
            break;
          }
          case log::RecordType::kObject: {
            VersionMeta meta;
            meta.seq = s.seq;
            meta.null_version = (s.flags & log::kObjectNullVersion) != 0;
            meta.delete_marker = (s.flags & log::kObjectDeleteMarker) != 0;
            meta.extents = (s.flags & log::kObjectExtents) != 0;
            meta.address = s.address;
            meta.header_bytes = s.header_bytes;
            meta.size = s.size;
            if (meta.extents) {
              std::lock_guard<std::mutex> lock(mu_);
              uploads_.erase(r.upload_id);
            }
            meta.mtime_ms = s.mtime_ms;
            if (!meta.delete_marker) {
              memcpy(meta.etag, s.result.etag, 16);
              meta.part_count = r.part_count;
            }
            UsageBeforeObject(r.bucket, r.key,
                              (s.flags & log::kObjectVersioned) != 0);
            directory_.ApplyObject(r.bucket, r.key, meta,
                                   (s.flags & log::kObjectVersioned) != 0);
            UsageAfterObject(meta, s.payload_bytes, s.owned_payload);
            break;
          }
          case log::RecordType::kGroup:
            TS_ASSERT(false);
        }
      }
      groups_since_snapshot_++;
      // The change feed may now read this group (changes.cc).
      published_end_.store(layout_.StripeAddress(tail_segment_, tail_stripe_));
      committed_seq_.store(next_seq_ - 1);
    } else {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.fdatasync_groups_failed++;
    }
    for (Staged& s : staged) {
      outcome[s.pending] = w;
      if (!w.ok()) {
        const WriteRequest& r = (*group)[s.pending].request;
        if (r.kind == WriteRequest::Kind::kFragment) AbortUpload(r.upload_id);
      }
    }
    if (!w.ok()) {
      // Nobody saw the failed group's seqs: the next group takes them
      // again, so committed records keep consecutive seqs (the change feed
      // tells lost records from gaps by that; docs/events.md).
      if (group_first_seq != 0) next_seq_ = group_first_seq;
    }
    if (!w.ok() && wrote) {
      // Make the failed group's void durable now, so a restart can never
      // resurrect what was reported as failed: in degraded.dat (m+1 copies
      // outlive any group that k chunks can still rebuild), else as an
      // empty group in the log.
      {
        std::lock_guard<std::mutex> lock(degraded_mu_);
        degraded_.voids.push_back({start, group_end});
      }
      Status v = PersistDegraded();
      uint64_t ignored = 0;
      bool ignored_wrote = false;
      if (!v.ok()) v = WriteGroupBytes(std::string(), &ignored, &ignored_wrote);
      if (!v.ok()) {
        failed_ = true;
        failure_ = Status(
            v.code(),
            "the store is read-only after a failed commit: " + v.message(),
            v.sys_errno());
      }
    }
  }
  KILL_POINT("group.after_publish");
  std::vector<WriteResult> results(group->size());
  for (const Staged& s : staged) results[s.pending] = s.result;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.writes += group->size();
  }
  for (size_t i = 0; i < group->size(); i++) {
    (*group)[i].done(outcome[i], results[i]);
  }
}

namespace {
// The engine's CPU-heavy threads (hashing, parity) yield to the host's
// threads, the JS event loop above all: on a saturated machine the loop
// then waits less for a core (docs/engine.md, "Threads").
void LowerThisThreadPriority(int nice) {
#ifdef __linux__
  if (nice > 0) {
    (void)setpriority(PRIO_PROCESS, id_t(syscall(SYS_gettid)), nice);
  }
#else
  (void)nice;
#endif
}
}  // namespace

void Engine::CommitterLoop() {
  LowerThisThreadPriority(options_.worker_nice);
  for (;;) {
    std::vector<Pending> group;
    TakeGroup(&group);
    if (group.empty()) break;  // closing and drained
    if (group.size() == 1 &&
        group[0].request.kind == WriteRequest::Kind::kReclaim) {
      Status r =
          failed_ ? failure_ : ReclaimSegment(group[0].request.reclaim_segment);
      group[0].done(r, WriteResult());  // compaction.cc
      continue;
    }
    RunGroup(&group);
    if (options_.snapshot_every_groups != 0 &&
        groups_since_snapshot_ >= options_.snapshot_every_groups && !failed_) {
      (void)WriteSnapshot().ok();  // best effort; the log stays the truth
    }
  }
}

void Engine::ReaderLoop() {
  LowerThisThreadPriority(options_.worker_nice);
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(read_mu_);
      read_cv_.wait(lock,
                    [this] { return !read_queue_.empty() || read_stopping_; });
      if (read_queue_.empty()) return;
      task = std::move(read_queue_.front());
      read_queue_.pop_front();
    }
    task();
  }
}

Status Engine::Post(std::function<void()> task) {
  TS_ASSERT(task != nullptr);
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    if (read_stopping_)
      return Status(StatusCode::kClosed, "the store is closed");
    read_queue_.push_back(std::move(task));
  }
  read_cv_.notify_one();
  return Status::Ok();
}

EngineStats Engine::stats() const {
  EngineStats s;
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    s = stats_;
  }
  if (cache_ != nullptr) {
    const ReadCacheStats c = cache_->stats();
    s.cache_hits = c.hits;
    s.cache_misses = c.misses;
    s.cache_bytes = c.bytes;
    s.cache_entries = c.entries;
    s.cache_rejected = c.rejected;
  }
  s.heal_queue = HealQueueStripes(s.next_address);
  std::lock_guard<std::mutex> lock(degraded_mu_);
  s.degraded_drive_mask = down_mask_;
  s.degraded_drives = uint32_t(__builtin_popcountll(down_mask_));
  return s;
}

Status Engine::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || closing_) {
      return Status(StatusCode::kClosed, "the store is already closed");
    }
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  // A compaction finishes a free off the committer (FinishReclaim): wait
  // for it before the descriptors close (its next submit fails: closing).
  { std::lock_guard<std::mutex> no_compaction(compact_mu_); }
  {
    std::lock_guard<std::mutex> lock(degraded_mu_);
    heal_stopping_ = true;
  }
  heal_cv_.notify_all();
  if (healer_.joinable()) healer_.join();
  if (!failed_) (void)PersistDegraded().ok();  // the heal's progress
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    read_stopping_ = true;
  }
  read_cv_.notify_all();
  for (std::thread& t : readers_) t.join();
  readers_.clear();
  // An open that ignored the snapshots (verify) leaves them as they are.
  Status s =
      failed_ || options_.ignore_snapshot ? Status::Ok() : WriteSnapshot();
  io_.Stop();
  {
    std::lock_guard<std::mutex> lock(segments_mu_);
    for (auto& kv : segments_) {
      for (int fd : kv.second->fds) {
        if (fd >= 0) (void)fs_->Close(fd).ok();
      }
      for (int fd : kv.second->extra_fds) (void)fs_->Close(fd).ok();
    }
    segments_.clear();
  }
  for (auto& d : drives_) {
    if (d->lock_fd >= 0) (void)fs_->Close(d->lock_fd).ok();
  }
  drives_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  return s;
}

Engine::~Engine() {
  bool open = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    open = !closed_ && !closing_;
  }
  if (open && started_) {
    (void)Close().ok();
    return;
  }
  if (started_) return;
  // Open failed part way: release what it took, write nothing.
  io_.Stop();
  for (auto& kv : segments_) {
    for (int fd : kv.second->fds) {
      if (fd >= 0) (void)fs_->Close(fd).ok();
    }
  }
  for (auto& d : drives_) {
    if (d->lock_fd >= 0) (void)fs_->Close(d->lock_fd).ok();
  }
}

// ------------------------------------------------------------- snapshot
//
// snapshots/snapshot.dat on every drive (docs/format.md, "Snapshot"):
//   magic u32 | version u32 | store_id[16] | body_bytes u64 | crc32c u32 |
//   body: tail_segment u64, tail_stripe u64, next_seq u64,
//         next_group_seq u64, bucket count u64, buckets (name, versioning,
//         created_ms, version count), index_bytes u64, then the index
//         snapshot (docs/format.md, "Index snapshot"), which verifies itself.
// One file holds both so they can never be mixed from two cuts. Written
// tmp -> fdatasync -> rename -> fsync(dir) through the engine's Fs. A
// snapshot describes the state after every group before (tail_segment,
// tail_stripe).
//
// The index reads and writes its snapshot by path with plain POSIX calls,
// while the engine's files go through io::Fs (an in-memory CrashFs in tests),
// so the index bytes pass through a scratch file: in the first drive's
// snapshots directory when it exists on the real file system, else in the
// system temp directory. The scratch file is never trusted across a restart
// (it is rewritten from snapshot.dat before every load).

namespace {

std::string ScratchPath(const std::string& drive_dir) {
  static std::atomic<uint64_t> counter{0};
  std::string dir = drive_dir + "/snapshots";
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    const char* tmp = getenv("TMPDIR");
    dir = (tmp != nullptr && tmp[0] != '\0') ? tmp : "/tmp";
  }
  return dir + "/.index-scratch-" + std::to_string(getpid()) + "-" +
         std::to_string(counter.fetch_add(1));
}

bool ReadRealFile(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    out->resize(size_t(st.st_size));
    size_t done = 0;
    while (ok && done < out->size()) {
      const ssize_t n = ::read(fd, &(*out)[done], out->size() - done);
      if (n <= 0) {
        ok = n < 0 && errno == EINTR;
        if (!ok) break;
        continue;
      }
      done += size_t(n);
    }
  }
  ::close(fd);
  return ok;
}

bool WriteRealFile(const std::string& path, const char* p, size_t n) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = true;
  while (ok && n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) {
      p += w;
      n -= size_t(w);
    }
  }
  return ::close(fd) == 0 && ok;
}

}  // namespace

Status Engine::WriteSnapshot(bool every_drive) {
  TS_ASSERT(!drives_.empty());
  const std::vector<KeyDirectory::BucketState> buckets =
      directory_.BucketStates();
  const std::string scratch = ScratchPath(drives_[0]->dir);
  std::string index_bytes;
  Status saved = directory_.SaveIndex(scratch);
  const bool read = saved.ok() && ReadRealFile(scratch, &index_bytes);
  ::unlink(scratch.c_str());
  TS_RETURN_IF_ERROR(saved);
  if (!read) {
    return Status(StatusCode::kIo, "cannot read back the index snapshot");
  }
  std::string body;
  body.reserve(index_bytes.size() + 4096);
  Put64(&body, tail_segment_);
  Put64(&body, tail_stripe_);
  Put64(&body, next_seq_);
  Put64(&body, next_group_seq_);
  Put64(&body, buckets.size());
  for (const KeyDirectory::BucketState& b : buckets) {
    PutStr(&body, b.info.name);
    Put64(&body, uint64_t(b.info.versioning));
    Put64(&body, b.info.created_ms);
    Put64(&body, b.versions);
  }
  Put64(&body, index_bytes.size());
  body += index_bytes;
  std::string().swap(index_bytes);
  std::string file;
  uint8_t head[36];
  memset(head, 0, sizeof(head));
  for (int i = 0; i < 4; i++) head[i] = uint8_t(kSnapshotMagic >> (8 * i));
  for (int i = 0; i < 4; i++)
    head[4 + i] = uint8_t(kSnapshotVersion >> (8 * i));
  memcpy(head + 8, store_id_, 16);
  for (int i = 0; i < 8; i++)
    head[24 + i] = uint8_t(uint64_t(body.size()) >> (8 * i));
  uint32_t crc = crc32c::Extend(0, head, 32);
  crc = crc32c::Extend(crc, body.data(), body.size());
  for (int i = 0; i < 4; i++) head[32 + i] = uint8_t(crc >> (8 * i));
  file.reserve(sizeof(head) + body.size());
  file.assign(reinterpret_cast<const char*>(head), sizeof(head));
  file += body;
  Status first_error;
  uint32_t written = 0;
  for (auto& d : drives_) {
    if (d->absent) continue;
    Status s =
        WriteFileDurably(fs_, d->dir + "/snapshots", "snapshot.dat", file);
    if (s.ok()) {
      written++;
    } else if (first_error.ok()) {
      first_error = s;
    }
  }
  groups_since_snapshot_ = 0;
  TS_ASSERT(written <= drives_.size());
  if (every_drive && written != drives_.size()) return first_error;
  return written > 0 ? Status::Ok() : first_error;
}

Status Engine::LoadSnapshot(bool* loaded) {
  *loaded = false;
  // Candidates newest first: a drive whose snapshot fails the index's own
  // verification gives way to the next one, then to a full scan.
  // Reads and verifies one drive's file; the body without its header.
  auto read_verified = [this](const std::string& path, std::string* body) {
    if (!Exists(fs_, path, nullptr)) return false;
    if (!ReadWholeFile(fs_, path, body).ok() || body->size() < 36) {
      return false;
    }
    const uint8_t* h = reinterpret_cast<const uint8_t*>(body->data());
    uint32_t magic = 0, version = 0, crc = 0;
    uint64_t len = 0;
    for (int i = 3; i >= 0; i--) magic = (magic << 8) | h[i];
    for (int i = 3; i >= 0; i--) version = (version << 8) | h[4 + i];
    for (int i = 7; i >= 0; i--) len = (len << 8) | h[24 + i];
    for (int i = 3; i >= 0; i--) crc = (crc << 8) | h[32 + i];
    if (magic != kSnapshotMagic || version != kSnapshotVersion ||
        memcmp(h + 8, store_id_, 16) != 0 || len != body->size() - 36) {
      return false;
    }
    uint32_t want = crc32c::Extend(0, h, 32);
    want = crc32c::Extend(want, h + 36, len);
    if (want != crc) return false;
    body->erase(0, 36);
    return true;
  };
  // Candidates newest first (one body in memory at a time): a copy that
  // fails the index's own verification gives way to the next, then to a
  // full scan. Only each copy's header and log position are read to order
  // them (not the whole file six times): the position is not yet verified,
  // but a copy is used only after its CRC passes below, so the copy loaded
  // is still the valid one with the highest position.
  auto read_position = [this](const std::string& path, uint64_t* pos) {
    if (!Exists(fs_, path, nullptr)) return false;
    int fd = -1;
    if (!fs_->Open(path, io::kOpenRead, &fd).ok()) return false;
    io::FileStat st;
    uint8_t h[52];
    size_t got = 0;
    const bool read = fs_->Fstat(fd, &st).ok() &&
                      fs_->Pread(fd, h, sizeof(h), 0, &got).ok() &&
                      got == sizeof(h);
    (void)fs_->Close(fd).ok();
    if (!read) return false;
    uint32_t magic = 0, version = 0;
    uint64_t len = 0, segment = 0, stripe = 0;
    for (int i = 3; i >= 0; i--) magic = (magic << 8) | h[i];
    for (int i = 3; i >= 0; i--) version = (version << 8) | h[4 + i];
    for (int i = 7; i >= 0; i--) len = (len << 8) | h[24 + i];
    for (int i = 7; i >= 0; i--) segment = (segment << 8) | h[36 + i];
    for (int i = 7; i >= 0; i--) stripe = (stripe << 8) | h[44 + i];
    if (magic != kSnapshotMagic || version != kSnapshotVersion ||
        memcmp(h + 8, store_id_, 16) != 0 || len != st.size_bytes - 36) {
      return false;
    }
    *pos = layout_.StripeAddress(segment, 0) +
           stripe * layout_.stripe_data_bytes();
    return true;
  };
  std::vector<std::pair<uint64_t, std::string>> candidates;  // pos, path
  for (auto& d : drives_) {
    const std::string path = d->dir + "/snapshots/snapshot.dat";
    uint64_t pos = 0;
    if (read_position(path, &pos)) candidates.emplace_back(pos, path);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const std::pair<uint64_t, std::string>& a,
                      const std::pair<uint64_t, std::string>& b) {
                     return a.first > b.first;
                   });
  for (const auto& cand : candidates) {
    std::string body;
    if (!read_verified(cand.second, &body)) continue;
    Cursor c{body};
    const uint64_t seg = c.U64();
    const uint64_t stripe = c.U64();
    const uint64_t next_seq = c.U64();
    const uint64_t next_group_seq = c.U64();
    std::vector<KeyDirectory::BucketState> buckets;
    const uint64_t nb = c.U64();
    for (uint64_t i = 0; c.ok && i < nb && i < (1u << 20); i++) {
      KeyDirectory::BucketState b;
      b.info.name = c.Str(log::bucket_bytes_max);
      const uint64_t v = c.U64();
      if (v > 2) c.ok = false;
      b.info.versioning = log::Versioning(v);
      b.info.created_ms = c.U64();
      b.versions = c.U64();
      buckets.push_back(b);
    }
    const uint64_t index_bytes = c.U64();
    if (!c.ok || nb != buckets.size() || index_bytes != body.size() - c.pos ||
        stripe > layout_.segment_stripes) {
      continue;
    }
    const std::string scratch = ScratchPath(drives_[0]->dir);
    const bool staged =
        WriteRealFile(scratch, body.data() + c.pos, size_t(index_bytes));
    Status s = staged ? directory_.LoadIndex(scratch, buckets)
                      : Status(StatusCode::kIo, "cannot stage snapshot");
    ::unlink(scratch.c_str());
    if (!s.ok()) continue;  // try an older copy, then a full scan
    tail_segment_ = seg;
    tail_stripe_ = uint32_t(stripe);
    next_seq_ = next_seq;
    next_group_seq_ = next_group_seq;
    *loaded = true;
    break;
  }
  return Status::Ok();
}

// ------------------------------------------------------------- recovery

namespace {
struct ChainGroup {
  uint64_t segment = 0;
  uint32_t stripe = 0;
  log::GroupRecord group;
};
}  // namespace

Status Engine::Recover() {
  bool from_snapshot = false;
  if (!options_.ignore_snapshot) {
    TS_RETURN_IF_ERROR(LoadSnapshot(&from_snapshot));
  }
  info_.recovered_from_snapshot = from_snapshot;
  TS_RETURN_IF_ERROR(LoadDegraded());
  const uint64_t start_segment = tail_segment_;
  const uint32_t start_stripe = tail_stripe_;
  // Segments that exist, from the start on (ids are consecutive).
  std::vector<uint64_t> segments;
  for (uint64_t id = start_segment;; id++) {
    Segment* seg = nullptr;
    TS_RETURN_IF_ERROR(OpenSegment(id, false, &seg));
    if (seg == nullptr) break;
    // A full scan passes over freed segments (docs/gc.md, "Full scan").
    if (seg->freed) continue;
    segments.push_back(id);
  }
  if (segments.empty()) {
    TS_RETURN_IF_ERROR(CreateSegment(start_segment, options_.zero_segments));
    tail_segment_ = start_segment;
    tail_stripe_ = 0;
    published_end_.store(layout_.StripeAddress(start_segment, start_stripe));
    committed_seq_.store(next_seq_ - 1);
    TS_RETURN_IF_ERROR(ProbeSegmentsAtOpen());  // compaction.cc
    // After the probe, so that every older segment has its entry.
    if (from_snapshot) usage_.BoundMaxSeq(start_segment, next_seq_ - 1);
    TS_RETURN_IF_ERROR(PruneVoidsAtOpen(&info_.voids_pruned));  // degraded.cc
    return RecomputeUsage();
  }
  const uint32_t k = layout_.data_shards;
  const uint32_t dpay = layout_.payload_bytes();
  uint64_t max_group_seq = next_group_seq_ - 1;

  // Pass 1: the chain of group starts, with every void range, and how far
  // anything at all was written (junk included).
  std::vector<ChainGroup> chain;
  std::vector<std::pair<uint64_t, uint64_t>> voids;
  {
    // Failed groups whose void went to degraded.dat.
    std::lock_guard<std::mutex> lock(degraded_mu_);
    voids = degraded_.voids;
  }
  uint64_t written_end = layout_.StripeAddress(start_segment, start_stripe);
  auto try_group_start = [&](uint64_t seg, uint32_t stripe, ChainGroup* out,
                             bool* any_valid) -> Status {
    std::vector<std::vector<uint8_t>> data;
    std::vector<log::ChunkTrailer> trailers;
    std::vector<bool> valid;
    TS_RETURN_IF_ERROR(ReadStripe(seg, stripe, 1, &data, &trailers, &valid));
    *any_valid = false;
    for (uint32_t d = 0; d < layout_.shards(); d++) {
      if (valid[d]) {
        *any_valid = true;
        max_group_seq = std::max(max_group_seq, trailers[d].group_seq);
      }
    }
    uint64_t seq = 0;
    uint8_t flags = 0;
    bool rebuilt = false;
    if (!RepairStripe(layout_, *codec_, 0, 0, &data, trailers, &valid, &seq,
                      &flags, &rebuilt) ||
        (flags & log::kChunkGroupStart) == 0) {
      return Status(StatusCode::kNotFound, "no group start");
    }
    // The GROUP record sits at the start of data chunk 0 (it is smaller
    // than one chunk payload).
    static_assert(log::group_record_bytes <= log::chunk_bytes_min - 32, "");
    log::RecordHeader h;
    size_t needed = 0;
    Status s = log::DecodeRecordHeader(data[0].data(), dpay, &h, &needed);
    log::GroupRecord g;
    if (s.ok() && h.type == log::RecordType::kGroup &&
        h.header_bytes == log::group_record_bytes) {
      s = log::DecodeGroupVar(
          std::string_view(reinterpret_cast<const char*>(data[0].data()) +
                               log::record_header_fixed_bytes,
                           h.header_bytes - log::record_header_fixed_bytes),
          &g);
    } else if (s.ok()) {
      s = Status(StatusCode::kCorrupt, "not a GROUP record");
    }
    if (!s.ok() || g.group_seq != seq || g.segment_id != seg ||
        g.first_stripe != stripe ||
        uint64_t(stripe) + g.stripe_count > layout_.segment_stripes ||
        g.used_bytes > uint64_t(g.stripe_count) * layout_.stripe_data_bytes()) {
      return Status(StatusCode::kNotFound, "no group start");
    }
    out->segment = seg;
    out->stripe = stripe;
    out->group = g;
    return Status::Ok();
  };
  std::vector<std::pair<uint64_t, uint64_t>> junk_gaps;  // not yet voided
  for (uint64_t seg : segments) {
    uint32_t s = seg == start_segment ? start_stripe : 0;
    while (s < layout_.segment_stripes) {
      ChainGroup cg;
      bool any = false;
      Status st = try_group_start(seg, s, &cg, &any);
      if (st.ok()) {
        chain.push_back(cg);
        if (cg.group.void_end > cg.group.void_start) {
          voids.push_back({cg.group.void_start, cg.group.void_end});
        }
        s += cg.group.stripe_count;
        written_end = std::max(written_end, layout_.StripeAddress(seg, s));
        continue;
      }
      if (st.code() != StatusCode::kNotFound) return st;
      // Chain break: look further in this segment for the next group start,
      // noting whether anything was written in between.
      const uint32_t gap_start = s;
      bool gap_has_data = any;
      if (any) {
        written_end = std::max(written_end, layout_.StripeAddress(seg, s + 1));
      }
      s++;
      // Batched: read many stripes at once and try a group start only where
      // at least k chunks carry the group-start flag.
      bool found = false;
      while (s < layout_.segment_stripes && !found) {
        const uint32_t count =
            std::min(kReadBatchStripes, layout_.segment_stripes - s);
        std::vector<std::vector<uint8_t>> batch;
        std::vector<log::ChunkTrailer> trailers;
        std::vector<bool> valid;
        TS_RETURN_IF_ERROR(
            ReadStripe(seg, s, count, &batch, &trailers, &valid));
        uint32_t i = 0;
        for (; i < count; i++) {
          uint32_t flagged = 0;
          for (uint32_t d = 0; d < layout_.shards(); d++) {
            const size_t at = size_t(i) * layout_.shards() + d;
            if (!valid[at]) continue;
            max_group_seq = std::max(max_group_seq, trailers[at].group_seq);
            gap_has_data = true;
            written_end =
                std::max(written_end, layout_.StripeAddress(seg, s + i + 1));
            if (trailers[at].flags & log::kChunkGroupStart) flagged++;
          }
          if (flagged >= k) {
            st = try_group_start(seg, s + i, &cg, &any);
            if (st.ok()) {
              found = true;
              break;
            }
            if (st.code() != StatusCode::kNotFound) return st;
          }
        }
        s += i;
      }
      if (gap_has_data) {
        junk_gaps.push_back({layout_.StripeAddress(seg, gap_start),
                             layout_.StripeAddress(seg, s)});
      }
    }
  }
  auto voided = [&](uint64_t a) {
    for (const auto& v : voids) {
      if (a >= v.first && a < v.second) return true;
    }
    return false;
  };

  // Pass 2: replay every group that is complete and not voided.
  uint64_t log_end = layout_.StripeAddress(start_segment, start_stripe);
  uint64_t replayed = 0;
  // Without a snapshot, records are replayed by seq once all are read
  // (compaction.cc, ApplyScanRecords); after one, in log order, and copies
  // of tombstones are passed over (their originals are in the snapshot or
  // replayed).
  std::vector<ScanRecord> scanned;
  uint64_t max_seq = next_seq_ - 1;
  for (size_t i = 0; i < chain.size(); i++) {
    const ChainGroup& cg = chain[i];
    const uint64_t addr = layout_.StripeAddress(cg.segment, cg.stripe);
    if (voided(addr)) continue;
    std::vector<std::vector<uint8_t>> data;
    std::vector<log::ChunkTrailer> trailers;
    std::vector<bool> valid;
    TS_RETURN_IF_ERROR(ReadStripe(cg.segment, cg.stripe, cg.group.stripe_count,
                                  &data, &trailers, &valid));
    bool complete = true;
    for (uint32_t s = 0; s < cg.group.stripe_count && complete; s++) {
      uint64_t seq = 0;
      uint8_t flags = 0;
      bool rebuilt = false;
      complete = RepairStripe(layout_, *codec_, s, cg.group.group_seq, &data,
                              trailers, &valid, &seq, &flags, &rebuilt) &&
                 (s == 0) == ((flags & log::kChunkGroupStart) != 0);
    }
    if (!complete) {
      // Torn (the tail) or damaged beyond parity (mid-log): either way its
      // records are not replayed and nothing is truncated. Only a group at
      // the end of the chain can be a torn tail.
      continue;
    }
    // Logical bytes of the group.
    std::string bytes(
        size_t(cg.group.stripe_count) * layout_.stripe_data_bytes(), '\0');
    for (uint32_t s = 0; s < cg.group.stripe_count; s++) {
      for (uint32_t j = 0; j < k; j++) {
        memcpy(&bytes[(size_t(s) * k + j) * dpay],
               data[j].data() + size_t(s) * layout_.chunk_bytes, dpay);
      }
    }
    uint64_t pos = log::group_record_bytes;
    while (pos < cg.group.used_bytes) {
      log::RecordHeader h;
      size_t needed = 0;
      Status s = log::DecodeRecordHeader(
          reinterpret_cast<const uint8_t*>(bytes.data()) + pos,
          cg.group.used_bytes - pos, &h, &needed);
      if (!s.ok() ||
          pos + h.header_bytes + h.payload_bytes > cg.group.used_bytes) {
        break;  // cannot happen for a group whose chunks all verified
      }
      const std::string_view var(
          bytes.data() + pos + log::record_header_fixed_bytes,
          h.header_bytes - log::record_header_fixed_bytes);
      const char* payload = bytes.data() + pos + h.header_bytes;
      max_seq = std::max(max_seq, h.seq);
      if ((h.flags & log::kRecordRelocated) == 0) {
        usage_.NoteRecord(cg.segment, h.seq);
      }
      const bool relocated = (h.flags & log::kRecordRelocated) != 0;
      if (crc32c::Extend(0, payload, h.payload_bytes) == h.payload_crc32c) {
        switch (h.type) {
          case log::RecordType::kBucket: {
            log::BucketRecord b;
            if (!log::DecodeBucketVar(var, &b).ok()) break;
            if (!from_snapshot) {
              ScanRecord r;
              r.seq = h.seq;
              r.type = h.type;
              r.bucket_record = b;
              scanned.push_back(std::move(r));
            } else if (!relocated) {
              directory_.ApplyBucket(b);
            }
            break;
          }
          case log::RecordType::kDelete: {
            log::DeleteRecord d;
            if (!log::DecodeDeleteVar(var, &d).ok()) break;
            if (!from_snapshot) {
              ScanRecord r;
              r.seq = h.seq;
              r.type = h.type;
              r.bucket = std::move(d.bucket);
              r.key = std::move(d.key);
              r.version_id = std::move(d.version_id);
              scanned.push_back(std::move(r));
            } else if (!relocated) {
              directory_.ApplyDelete(d.bucket, d.key, d.version_id);
            }
            break;
          }
          case log::RecordType::kObject: {
            log::ObjectRecord o;
            if (!log::DecodeObjectVar(var, &o).ok()) break;
            VersionMeta meta;
            meta.seq = h.seq;
            meta.null_version = (h.flags & log::kObjectNullVersion) != 0;
            meta.delete_marker = (h.flags & log::kObjectDeleteMarker) != 0;
            meta.extents = (h.flags & log::kObjectExtents) != 0;
            meta.address = addr + pos;
            meta.header_bytes = h.header_bytes;
            meta.size = o.size;
            meta.mtime_ms = o.mtime_ms;
            memcpy(meta.etag, o.etag, 16);
            meta.part_count = o.part_count;
            if (!from_snapshot) {
              ScanRecord r;
              r.seq = h.seq;
              r.type = h.type;
              r.versioned = (h.flags & log::kObjectVersioned) != 0;
              r.bucket = std::move(o.bucket);
              r.key = std::move(o.key);
              r.meta = meta;
              scanned.push_back(std::move(r));
              break;
            }
            if (relocated) {  // compaction.cc
              ReplayRelocated(o.bucket, o.key, meta,
                              (h.flags & log::kObjectVersioned) != 0);
              break;
            }
            directory_.ApplyObject(o.bucket, o.key, meta,
                                   (h.flags & log::kObjectVersioned) != 0);
            break;
          }
          case log::RecordType::kFragment:
          case log::RecordType::kGroup:
            break;
        }
      }
      pos += h.header_bytes + h.payload_bytes;
    }
    replayed++;
    log_end =
        addr + uint64_t(cg.group.stripe_count) * layout_.stripe_data_bytes();
  }
  if (!from_snapshot) ApplyScanRecords(&scanned);
  next_seq_ = max_seq + 1;
  next_group_seq_ = max_group_seq + 1;
  info_.recovery_groups_replayed = replayed;

  // The tail: new groups go after everything ever written; if junk lies
  // between the last replayed group and there, the first new group voids
  // it so that the next recovery skips it.
  uint64_t junk_start = written_end;
  for (size_t i = chain.size(); i-- > 0;) {
    const uint64_t a = layout_.StripeAddress(chain[i].segment, chain[i].stripe);
    if (a >= log_end && !voided(a)) junk_start = std::min(junk_start, a);
  }
  for (const auto& g : junk_gaps) {
    if (g.first >= log_end && !voided(g.first)) {
      junk_start = std::min(junk_start, g.first);
    }
  }
  if (junk_start < written_end) {
    void_start_ = junk_start;
    void_end_ = written_end;
    info_.recovery_void_bytes = written_end - junk_start;
  }
  const log::Location end = log::Locate(layout_, written_end);
  tail_segment_ = end.segment;
  tail_stripe_ = end.stripe;
  if (segments.back() > tail_segment_) {
    // A segment was created (its header is durable) but holds no group:
    // continue in it, so the next roll never meets an existing file.
    tail_segment_ = segments.back();
    tail_stripe_ = 0;
  }
  Segment* tail = nullptr;
  TS_RETURN_IF_ERROR(OpenSegment(tail_segment_, false, &tail));
  if (tail == nullptr) {
    Status c = CreateSegment(tail_segment_, options_.zero_segments);
    // Too few drives for writes: open for reads; writes fail with kQuorum.
    if (!c.ok() && c.code() != StatusCode::kQuorum) return c;
    std::lock_guard<std::mutex> lock(segments_mu_);
    tail = segments_[tail_segment_].get();
  } else {
    for (uint32_t d = 0; d < layout_.shards(); d++) {
      if (!tail->drive_ok[d]) continue;
      uint32_t file_id = 0;
      TS_RETURN_IF_ERROR(io_.AddFile(
          tail->fds[d], drives_[d]->dir + "/segments/" + SegmentName(tail->id),
          &file_id));
      tail->io_files[d] = file_id;
    }
  }
  // Drives that were down and are back: what they missed is complete now
  // (heal rebuilds it); drives still down keep their ranges open.
  // Drives recorded as down are tried again now (only those: a drive with a
  // rotten segment header is left for scrub to report and heal to fix).
  if (tail != nullptr) {
    uint64_t recorded = 0;
    {
      std::lock_guard<std::mutex> lock(degraded_mu_);
      for (const MissedRange& r : degraded_.missed) {
        if (r.end == kOpenEnd) recorded |= uint64_t{1} << r.drive;
      }
    }
    (void)ProbeDownDrives(tail, recorded);
  }
  // (Also when the tail takes no writes, e.g. a segment whose creation a
  // crash cut short: the drive's own probe decides.)
  if (tail != nullptr) {
    CloseRangesOfUpDrives(DownMaskOf(*tail),
                          layout_.StripeAddress(tail_segment_, tail_stripe_));
  }
  // A non-writable tail makes the first group roll to a new segment.
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.next_address = layout_.StripeAddress(tail_segment_, tail_stripe_);
  }
  published_end_.store(log_end);
  committed_seq_.store(next_seq_ - 1);
  // Space accounting reads extent lists, so after the log end is known.
  TS_RETURN_IF_ERROR(ProbeSegmentsAtOpen());  // compaction.cc
  // Segments before the snapshot's position were not replayed: the newest
  // seq bounds theirs (gc.md). After the probe, which gives every segment
  // its entry (before it, they had none, so the bound missed them and a
  // retainFromSeq hold did not cover them after a reopen).
  if (from_snapshot) usage_.BoundMaxSeq(start_segment, next_seq_ - 1);
  TS_RETURN_IF_ERROR(PruneVoidsAtOpen(&info_.voids_pruned));  // degraded.cc
  TS_RETURN_IF_ERROR(RecomputeUsage());
  TS_ASSERT(next_seq_ >= 1 && next_group_seq_ >= 1);
  return Status::Ok();
}

// A replacement drive: an empty (or absent) directory where drive `index`
// was lost gets that drive's FORMAT (the store's geometry and id, copied
// from `ref`) and empty segments/ and snapshots/; heal then rebuilds its
// chunks, recreating each segment file.
Status Engine::FormatReplacement(const std::string& dir, uint32_t index,
                                 const log::FormatInfo& ref,
                                 log::FormatInfo* out) {
  TS_ASSERT(out != nullptr);
  TS_ASSERT(index < ref.data_shards + ref.parity_shards);
  bool is_dir = false;
  if (Exists(fs_, dir, &is_dir)) {
    if (!is_dir) return InvalidArg(dir + " is not a directory");
    if (!DirIsEmpty(fs_, dir)) {
      return InvalidArg("cannot use " + dir +
                        " as a replacement drive: it is not empty");
    }
  } else {
    TS_RETURN_IF_ERROR(fs_->Mkdir(dir));
  }
  log::FormatInfo f = ref;
  f.drive_index = index;
  std::string bytes;
  log::EncodeFormat(f, &bytes);
  TS_RETURN_IF_ERROR(fs_->Mkdir(dir + "/segments"));
  TS_RETURN_IF_ERROR(fs_->Mkdir(dir + "/snapshots"));
  TS_RETURN_IF_ERROR(WriteFileDurably(fs_, dir, "FORMAT", bytes));
  *out = f;
  info_.drives_replaced++;
  return Status::Ok();
}

// A drive whose FORMAT is damaged (unreadable, corrupt, truncated) or
// missing while its directory holds data: its FORMAT is written again as
// drive `index` of the store `ref` describes, but only when its segment
// headers prove that is what it is (at least one header, every one naming
// this store and this drive index). Anything else is refused: a foreign or
// swapped drive is never taken over.
Status Engine::RestoreFormat(const std::string& dir, uint32_t index,
                             const log::FormatInfo& ref, log::FormatInfo* out) {
  TS_ASSERT(out != nullptr);
  TS_ASSERT(index < ref.data_shards + ref.parity_shards);
  std::vector<std::string> names;
  const std::string seg_dir = dir + "/segments";
  if (fs_ == io::DefaultFs()) {
    if (DIR* d = opendir(seg_dir.c_str())) {
      while (struct dirent* e = readdir(d)) {
        if (strncmp(e->d_name, "seg-", 4) == 0) names.push_back(e->d_name);
      }
      closedir(d);
    }
  } else {
    // Test file systems have no listing: look for the first segment ids.
    for (uint64_t id = 0, misses = 0; misses < 64; id++) {
      const std::string name = SegmentName(id);
      if (Exists(fs_, seg_dir + "/" + name, nullptr)) {
        names.push_back(name);
        misses = 0;
      } else {
        misses++;
      }
    }
  }
  uint32_t proven = 0;
  for (const std::string& name : names) {
    int fd = -1;
    if (!fs_->Open(seg_dir + "/" + name, io::kOpenRead, &fd).ok()) continue;
    uint8_t h[log::segment_header_bytes];
    size_t got = 0;
    Status s = fs_->Pread(fd, h, sizeof(h), 0, &got);
    (void)fs_->Close(fd).ok();
    log::SegmentHeader sh;
    if (!s.ok() || got != sizeof(h) ||
        !log::DecodeSegmentHeader(h, got, &sh).ok()) {
      continue;  // rotten: heal rewrites it
    }
    if (memcmp(sh.store_id, ref.store_id, 16) != 0 || sh.drive_index != index) {
      return InvalidArg(
          "drive " + dir + " has no valid FORMAT and its " + name +
          " belongs to drive " + std::to_string(sh.drive_index) + " of store " +
          Hex(sh.store_id, 16) + ": not taken as drive " +
          std::to_string(index) + " of store " + Hex(ref.store_id, 16));
    }
    proven++;
  }
  if (proven == 0) {
    return InvalidArg("drive " + dir +
                      " has no valid FORMAT and no segment header that "
                      "shows which drive it is; empty it to use it as a "
                      "replacement drive");
  }
  bool is_dir = false;
  if (!Exists(fs_, dir + "/snapshots", &is_dir)) {
    TS_RETURN_IF_ERROR(fs_->Mkdir(dir + "/snapshots"));
  }
  log::FormatInfo f = ref;
  f.drive_index = index;
  std::string bytes;
  log::EncodeFormat(f, &bytes);
  TS_RETURN_IF_ERROR(WriteFileDurably(fs_, dir, "FORMAT", bytes));
  *out = f;
  info_.formats_restored++;
  return Status::Ok();
}

bool Engine::DriveAbsent(uint32_t drive) const {
  TS_ASSERT(drive < drives_.size());
  return drives_[drive]->absent;
}

const std::string& Engine::DriveDir(uint32_t drive) const {
  TS_ASSERT(drive < drives_.size());
  return drives_[drive]->dir;
}

}  // namespace engine
}  // namespace tessera
