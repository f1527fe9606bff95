// Index snapshots: Index::SaveSnapshot and Index::LoadSnapshot. The file
// format is documented in docs/format.md ("Index snapshot").
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "checksum/crc.h"
#include "index/index.h"
#include "index/key_hash.h"

// Memory orders in this file: reader paths name each order where it is used.
// Every `relaxed` access without its own comment is writer-private: a load of
// the writer's own earlier store (ordered by the writer mutex), or a store
// into a node/table/record that no reader can reach yet (it is published
// later by one seq_cst store, which orders these stores before it), or a
// statistic.

namespace tessera {
namespace index {
namespace {

constexpr char kMagic[8] = {'T', 'S', 'I', 'D', 'X', 'S', 'N', 'P'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kHeaderBytes = 64;
constexpr uint32_t kVersionEntryBytes = kRecordHeaderBytes;  // 52

void PutU16(std::string* b, uint16_t v) {
  b->append(reinterpret_cast<char*>(&v), 2);
}
void PutU32(std::string* b, uint32_t v) {
  b->append(reinterpret_cast<char*>(&v), 4);
}

Status WriteAll(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write " + what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status Corrupt(const std::string& path, const std::string& why) {
  return Status(StatusCode::kCorrupt, "index snapshot " + path + ": " + why);
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Closes the fd on every path out of a function.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Status Index::SaveSnapshot(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "open " + tmp);
  FdCloser closer{fd};
  std::string header(kHeaderBytes, '\0');
  TS_RETURN_IF_ERROR(WriteAll(fd, header.data(), header.size(), tmp));

  std::lock_guard<std::mutex> lock(writer_mu_);
  uint64_t keys = 0, versions = 0, body_bytes = 0;
  uint32_t crc = 0;
  std::string buf;
  buf.reserve(1 << 20);
  auto flush = [&]() -> Status {
    crc = crc32c::Extend(crc, buf.data(), buf.size());
    body_bytes += buf.size();
    Status s = WriteAll(fd, buf.data(), buf.size(), tmp);
    buf.clear();
    return s;
  };
  {
    // The writer mutex stops every change; the guard is for form (Seek and
    // IdAt are reader operations).
    ReadGuard guard;
    KeyOrderTree::Cursor c;
    for (bool valid = tree_.Seek(std::string_view(), true, &c); valid;
         valid = tree_.Next(&c)) {
      const char* head = arena_.At(tree_.IdAt(c));
      const std::string_view key = RecordKey(head);
      PutU16(&buf, static_cast<uint16_t>(key.size()));
      buf.append(key);
      const size_t count_at = buf.size();
      PutU32(&buf, 0);
      uint32_t n = 0;
      for (uint32_t id = tree_.IdAt(c); id != 0; ++n) {
        const char* r = arena_.At(id);
        const size_t at = buf.size();
        buf.append(r, kVersionEntryBytes);
        // The file keeps only the public flags and no key length.
        uint64_t w2 = LoadU64(&buf[at + 16]);
        w2 &= (uint64_t{1} << 48) - 1;
        w2 |= uint64_t{static_cast<uint8_t>(RecordFlags(r) & kFlagsPublicMask)}
              << 59;
        StoreU64(&buf[at + 16], w2);
        id = (RecordFlags(r) & kFlagHasOlder)
                 ? RecordNext(r)->load(std::memory_order_relaxed)
                 : 0;
      }
      std::memcpy(&buf[count_at], &n, 4);
      ++keys;
      versions += n;
      if (buf.size() >= (1u << 20)) TS_RETURN_IF_ERROR(flush());
    }
  }
  TS_RETURN_IF_ERROR(flush());
  TS_ASSERT(keys == keys_.load(std::memory_order_relaxed));
  TS_ASSERT(versions == versions_);

  std::memcpy(&header[0], kMagic, 8);
  std::memcpy(&header[8], &kFormatVersion, 4);
  std::memcpy(&header[12], &kHeaderBytes, 4);
  std::memcpy(&header[16], &keys, 8);
  std::memcpy(&header[24], &versions, 8);
  std::memcpy(&header[32], &body_bytes, 8);
  std::memcpy(&header[40], &seed_, 8);
  std::memcpy(&header[48], &crc, 4);
  const uint32_t header_crc = crc32c::Extend(0, header.data(), 60);
  std::memcpy(&header[60], &header_crc, 4);
  if (::pwrite(fd, header.data(), kHeaderBytes, 0) != kHeaderBytes) {
    return Status::FromErrno(errno == 0 ? EIO : errno, "pwrite " + tmp);
  }
  if (::fdatasync(fd) != 0) return Status::FromErrno(errno, "fdatasync " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::FromErrno(errno, "rename " + tmp);
  }
  const std::string dir = DirOf(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::FromErrno(errno, "open " + dir);
  FdCloser dir_closer{dfd};
  if (::fsync(dfd) != 0) return Status::FromErrno(errno, "fsync " + dir);
  return Status::Ok();
}

Status Index::LoadSnapshot(const std::string& path,
                           std::unique_ptr<Index>* out) {
  TS_ASSERT(out != nullptr);
  out->reset();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  FdCloser closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "fstat " + path);
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  if (file_bytes < kHeaderBytes)
    return Corrupt(path, "shorter than its header");
  void* map = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return Status::FromErrno(errno, "mmap " + path);
  struct Unmap {
    void* p;
    size_t n;
    ~Unmap() { ::munmap(p, n); }
  } unmap{map, file_bytes};
  ::madvise(map, file_bytes, MADV_SEQUENTIAL);
  const char* base = static_cast<const char*>(map);

  uint32_t version, header_bytes, body_crc, reserved0, reserved1, header_crc;
  uint64_t keys, versions, body_bytes, seed;
  std::memcpy(&version, base + 8, 4);
  std::memcpy(&header_bytes, base + 12, 4);
  std::memcpy(&keys, base + 16, 8);
  std::memcpy(&versions, base + 24, 8);
  std::memcpy(&body_bytes, base + 32, 8);
  std::memcpy(&seed, base + 40, 8);
  std::memcpy(&body_crc, base + 48, 4);
  std::memcpy(&reserved0, base + 52, 4);
  std::memcpy(&reserved1, base + 56, 4);
  std::memcpy(&header_crc, base + 60, 4);
  if (std::memcmp(base, kMagic, 8) != 0) return Corrupt(path, "bad magic");
  if (crc32c::Extend(0, base, 60) != header_crc)
    return Corrupt(path, "header checksum mismatch");
  if (version != kFormatVersion) {
    return Status(StatusCode::kUnsupported,
                  "index snapshot " + path + ": format version " +
                      std::to_string(version) +
                      " is not supported (expected 1)");
  }
  if (header_bytes != kHeaderBytes || reserved0 != 0 || reserved1 != 0 ||
      seed == 0) {
    return Corrupt(path, "bad header fields");
  }
  if (file_bytes != kHeaderBytes + body_bytes) {
    return Corrupt(path, "size " + std::to_string(file_bytes) +
                             " != header + body " +
                             std::to_string(kHeaderBytes + body_bytes) +
                             " (truncated or extended)");
  }
  const char* p = base + kHeaderBytes;
  const char* end = p + body_bytes;
  if (crc32c::Extend(0, p, body_bytes) != body_crc)
    return Corrupt(path, "body checksum mismatch");
  // Every body byte is now known to be what the writer wrote. The structural
  // checks below still guard against a writer bug or a forged checksum.
  if (keys > versions || versions > body_bytes / kVersionEntryBytes) {
    return Corrupt(path, "impossible key/version counts");
  }

  IndexOptions options;
  options.hash_seed = seed;
  options.expected_keys = keys;
  std::unique_ptr<Index> idx(new Index(options));
  std::vector<uint32_t> heads;
  heads.reserve(keys);
  std::vector<const char*> chain;
  struct PendingInsert {
    uint32_t id;
    uint64_t hash;
  };
  constexpr uint64_t kPrefetchDistance = 16;
  PendingInsert pending[kPrefetchDistance];
  uint64_t pending_count = 0;  // keys pushed so far
  std::string_view prev_key;
  uint64_t seen_versions = 0, key_bytes = 0;
  for (uint64_t k = 0; k < keys; ++k) {
    uint16_t klen;
    if (end - p < 2) return Corrupt(path, "truncated key length");
    std::memcpy(&klen, p, 2);
    p += 2;
    if (klen < 1 + kBucketBytesMin || klen > kIndexKeyBytesMax ||
        end - p < klen + 4) {
      return Corrupt(path, "bad key length");
    }
    const std::string_view key(p, klen);
    p += klen;
    const uint8_t blen = static_cast<uint8_t>(key[0]);
    if (blen < kBucketBytesMin || blen > kBucketBytesMax || 1u + blen > klen) {
      return Corrupt(path, "bad bucket length in key");
    }
    if (k > 0 && !(prev_key < key)) return Corrupt(path, "keys out of order");
    prev_key = key;
    uint32_t n;
    std::memcpy(&n, p, 4);
    p += 4;
    if (n == 0 || static_cast<uint64_t>(end - p) / kVersionEntryBytes < n) {
      return Corrupt(path, "bad version count");
    }
    chain.clear();
    for (uint32_t v = 0; v < n; ++v) {
      const char* e = p + uint64_t{v} * kVersionEntryBytes;
      const uint64_t w2 = LoadU64(e + 16);
      if (((w2 >> 48) & 0x7FF) != 0 ||
          (static_cast<uint8_t>(w2 >> 59) & ~kFlagsPublicMask) != 0) {
        return Corrupt(path, "bad version entry flags");
      }
      chain.push_back(e);
    }
    p += uint64_t{n} * kVersionEntryBytes;
    // Oldest first, so each record knows its next-older id.
    uint32_t next = 0;
    for (size_t v = chain.size(); v-- > 0;) {
      RecordFields f;
      DecodeRecord(chain[v], &f);
      next = idx->NewRecord(f, v == 0 ? key : std::string_view(), next);
    }
    heads.push_back(next);
    // Hash inserts are random accesses: prefetch each key's home group and
    // insert it kPrefetchDistance keys later, so the misses overlap.
    const uint64_t h = HashIndexKey(key, seed);
    idx->hash_.Prefetch(h);
    PendingInsert& slot = pending[pending_count % kPrefetchDistance];
    if (pending_count >= kPrefetchDistance) {
      // The slot holds key pending_count - 16, prefetched 16 keys ago.
      idx->hash_.Insert(slot.id, slot.hash, &idx->retire_);
    }
    slot = PendingInsert{next, h};
    ++pending_count;
    seen_versions += n;
    key_bytes += klen - 1u;
  }
  // Key j (0-based) sits in pending[j % 16]; keys below n - 16 are in.
  const uint64_t first_left =
      pending_count > kPrefetchDistance ? pending_count - kPrefetchDistance : 0;
  for (uint64_t i = first_left; i < pending_count; ++i) {
    const PendingInsert& pi = pending[i % kPrefetchDistance];
    idx->hash_.Insert(pi.id, pi.hash, &idx->retire_);
  }
  if (p != end) return Corrupt(path, "trailing bytes after the last key");
  if (seen_versions != versions) return Corrupt(path, "version count mismatch");
  idx->tree_.BulkLoad(heads, &idx->retire_);
  idx->keys_.store(keys, std::memory_order_relaxed);
  idx->versions_ = versions;
  idx->key_bytes_ = key_bytes;
  TS_ASSERT(idx->tree_.size() == keys && idx->hash_.size() == keys);
  *out = std::move(idx);
  return Status::Ok();
}

}  // namespace index
}  // namespace tessera
