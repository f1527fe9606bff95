#include "index/index.h"

#include <algorithm>
#include <cstring>
#include <random>

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

RecordFields FieldsFromMeta(const ObjectMeta& m) {
  RecordFields f;
  f.location = (uint64_t{m.segment} << 40) | m.offset;
  f.version_id = m.version_id;
  f.size = m.size;
  f.mtime_ms = m.mtime_ms;
  f.length = m.length;
  f.part_count = m.part_count;
  f.flags = m.flags & kFlagsPublicMask;
  std::memcpy(f.etag, m.etag, 16);
  return f;
}

// The id of the next-older version of record `r`, or 0.
uint32_t OlderOf(const char* r) {
  if ((RecordFlags(r) & kFlagHasOlder) == 0) return 0;
  // seq_cst: a shared id read under the epoch pin (see epoch.h); the writer
  // changes it to unlink an older version.
  return RecordNext(r)->load(std::memory_order_seq_cst);
}

// Smallest string greater than every string that starts with `p`; false
// when there is none (p is all 0xFF).
bool PrefixEnd(std::string_view p, std::string* out) {
  size_t n = p.size();
  while (n > 0 && static_cast<uint8_t>(p[n - 1]) == 0xFF) --n;
  if (n == 0) return false;
  out->assign(p.data(), n);
  (*out)[n - 1] = static_cast<char>(static_cast<uint8_t>(p[n - 1]) + 1);
  return true;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
}

}  // namespace

Condition Condition::IfAbsent() {
  Condition c;
  c.kind = Kind::kIfAbsent;
  return c;
}
Condition Condition::IfEtagMatches(const uint8_t etag[16], uint16_t parts) {
  Condition c;
  c.kind = Kind::kIfEtagMatches;
  std::memcpy(c.etag, etag, 16);
  c.part_count = parts;
  return c;
}
Condition Condition::IfVersionMatches(uint64_t version_id) {
  Condition c;
  c.kind = Kind::kIfVersionMatches;
  c.version_id = version_id;
  return c;
}

Index::Index(const IndexOptions& options)
    : hash_(&arena_), tree_(&arena_), seed_(options.hash_seed) {
  if (seed_ == 0) {
    std::random_device rd;
    seed_ = (uint64_t{rd()} << 32) | rd() | 1;
  }
  hash_.set_hash_seed(seed_);
  if (options.expected_keys > 0) hash_.Reserve(options.expected_keys, &retire_);
  TS_ASSERT(seed_ != 0);
}

Index::~Index() = default;

Status Index::MakeKey(std::string_view bucket, std::string_view key,
                      KeyBuf* out) {
  if (bucket.size() < kBucketBytesMin || bucket.size() > kBucketBytesMax) {
    return Status(StatusCode::kInvalidArgument,
                  "bucket name must be 3..63 bytes, got " +
                      std::to_string(bucket.size()));
  }
  if (key.size() > kObjectKeyBytesMax) {
    return Status(StatusCode::kInvalidArgument,
                  "object key must be at most 1024 bytes, got " +
                      std::to_string(key.size()));
  }
  // Internal key: bucket length byte, bucket, object key. Keys of one bucket
  // are contiguous and in byte order of the object key.
  out->bytes[0] = static_cast<char>(bucket.size());
  std::memcpy(out->bytes + 1, bucket.data(), bucket.size());
  if (!key.empty())
    std::memcpy(out->bytes + 1 + bucket.size(), key.data(), key.size());
  out->size = static_cast<uint32_t>(1 + bucket.size() + key.size());
  TS_ASSERT(out->size <= kIndexKeyBytesMax);
  return Status::Ok();
}

Status Index::CheckMeta(const ObjectMeta& m) {
  if (m.segment > kSegmentMax || m.offset > kSegmentOffsetMax) {
    return Status(StatusCode::kOutOfRange,
                  "segment must be < 2^24 and offset < 2^40");
  }
  if (m.size > kObjectSizeMax || m.mtime_ms > kMtimeMsMax) {
    return Status(StatusCode::kOutOfRange, "size and mtime_ms must be < 2^48");
  }
  if ((m.flags & ~kFlagsPublicMask) != 0) {
    return Status(StatusCode::kInvalidArgument,
                  "flags may only use kFlagDeleteMarker, kFlagUser1, "
                  "kFlagUser2");
  }
  return Status::Ok();
}

Status Index::CheckCondition(const Condition& cond, const char* head) {
  const bool present =
      head != nullptr && (RecordFlags(head) & kFlagDeleteMarker) == 0;
  switch (cond.kind) {
    case Condition::Kind::kNone:
      return Status::Ok();
    case Condition::Kind::kIfAbsent:
      if (!present) return Status::Ok();
      return Status(StatusCode::kPreconditionFailed, "object already exists");
    case Condition::Kind::kIfEtagMatches:
      if (present && std::memcmp(RecordEtag(head), cond.etag, 16) == 0 &&
          RecordPartCount(head) == cond.part_count) {
        return Status::Ok();
      }
      return Status(StatusCode::kPreconditionFailed, "ETag does not match");
    case Condition::Kind::kIfVersionMatches:
      if (head != nullptr && RecordVersionId(head) == cond.version_id) {
        return Status::Ok();
      }
      return Status(StatusCode::kPreconditionFailed,
                    "current version does not match");
  }
  return Status(StatusCode::kInternal, "unknown condition kind");
}

uint32_t Index::NewRecord(const RecordFields& fields, std::string_view key,
                          uint32_t next) {
  RecordFields f = fields;
  f.flags = static_cast<uint8_t>((f.flags & kFlagsPublicMask) |
                                 (next != 0 ? kFlagHasOlder : 0));
  const uint32_t bytes =
      RecordBytes(static_cast<uint32_t>(key.size()), next != 0);
  const uint32_t id = arena_.Allocate(bytes);
  TS_ASSERT_MSG(id != 0, "index: record arena exhausted (16 GiB)");
  EncodeRecord(arena_.At(id), f, key, next);
  return id;
}

void Index::RetireRecord(uint32_t id) {
  const uint32_t bytes = RecordTotalBytes(arena_.At(id));
  retire_.Retire([this, id, bytes] { arena_.Free(id, bytes); });
}

void Index::RetireChain(uint32_t head) {
  for (uint32_t id = head; id != 0;) {
    const uint32_t older = OlderOf(arena_.At(id));
    RetireRecord(id);
    --versions_;
    id = older;
  }
}

Status Index::Put(std::string_view bucket, std::string_view key,
                  const ObjectMeta& meta, PutMode mode, const Condition& cond) {
  KeyBuf ik;
  TS_RETURN_IF_ERROR(MakeKey(bucket, key, &ik));
  TS_RETURN_IF_ERROR(CheckMeta(meta));
  const std::string_view ikey = ik.view();
  const uint64_t h = HashIndexKey(bucket, key, seed_);
  const RecordFields fields = FieldsFromMeta(meta);

  std::lock_guard<std::mutex> lock(writer_mu_);
  const uint32_t cur = hash_.Find(ikey, h);
  const char* cur_r = cur != 0 ? arena_.At(cur) : nullptr;
  TS_RETURN_IF_ERROR(CheckCondition(cond, cur_r));
  if (cur == 0) {
    const uint32_t id = NewRecord(fields, ikey, 0);
    hash_.Insert(id, h, &retire_);
    tree_.Insert(id, &retire_);
    // relaxed: a count for statistics; readers do not synchronize on it.
    keys_.fetch_add(1, std::memory_order_relaxed);
    ++versions_;
    key_bytes_ += ikey.size() - 1;
    return Status::Ok();
  }
  uint32_t next = OlderOf(cur_r);
  if (mode == PutMode::kNewVersion) {
    // The current version lives on as a keyless older-version record.
    RecordFields old;
    DecodeRecord(cur_r, &old);
    next = NewRecord(old, std::string_view(), next);
    ++versions_;
  }
  const uint32_t id = NewRecord(fields, ikey, next);
  const uint32_t old_hash = hash_.Replace(ikey, h, id);
  const uint32_t old_tree = tree_.Replace(ikey, id);
  TS_ASSERT(old_hash == cur && old_tree == cur);
  RetireRecord(cur);
  return Status::Ok();
}

void Index::RemoveKeyLocked(std::string_view ikey, uint64_t hash,
                            uint32_t head) {
  const uint32_t erased = hash_.Erase(ikey, hash);
  TS_ASSERT(erased == head);
  tree_.Erase(ikey, &retire_);
  RetireChain(head);
  keys_.fetch_sub(1, std::memory_order_relaxed);
  key_bytes_ -= ikey.size() - 1;
}

Status Index::DeleteVersion(std::string_view bucket, std::string_view key,
                            uint64_t version_id) {
  KeyBuf ik;
  TS_RETURN_IF_ERROR(MakeKey(bucket, key, &ik));
  const std::string_view ikey = ik.view();
  const uint64_t h = HashIndexKey(bucket, key, seed_);
  std::lock_guard<std::mutex> lock(writer_mu_);
  const uint32_t head = hash_.Find(ikey, h);
  if (head == 0) return Status(StatusCode::kNotFound, "no such key");
  const char* head_r = arena_.At(head);
  const uint32_t older = OlderOf(head_r);
  if (RecordVersionId(head_r) == version_id) {
    if (older == 0) {
      RemoveKeyLocked(ikey, h, head);
      return Status::Ok();
    }
    // Promote the next older version to head (it gains the key bytes).
    const char* o = arena_.At(older);
    RecordFields f;
    DecodeRecord(o, &f);
    const uint32_t id = NewRecord(f, ikey, OlderOf(o));
    hash_.Replace(ikey, h, id);
    tree_.Replace(ikey, id);
    RetireRecord(head);
    RetireRecord(older);
    --versions_;
    return Status::Ok();
  }
  const char* prev = head_r;
  for (uint32_t id = older; id != 0;) {
    const char* r = arena_.At(id);
    const uint32_t next = OlderOf(r);
    if (RecordVersionId(r) == version_id) {
      // seq_cst: unlinks `id` (EBR); readers see the chain with or without it.
      RecordNext(prev)->store(next, std::memory_order_seq_cst);
      RetireRecord(id);
      --versions_;
      return Status::Ok();
    }
    prev = r;
    id = next;
  }
  return Status(StatusCode::kNotFound, "no such version");
}

Status Index::Relocate(std::string_view bucket, std::string_view key,
                       uint64_t version_id, uint32_t from_segment,
                       uint64_t from_offset, uint32_t to_segment,
                       uint64_t to_offset) {
  KeyBuf ik;
  TS_RETURN_IF_ERROR(MakeKey(bucket, key, &ik));
  if (to_segment > kSegmentMax || to_offset > kSegmentOffsetMax) {
    return Status(StatusCode::kOutOfRange, "location out of range");
  }
  const uint64_t from = (uint64_t{from_segment} << 40) | from_offset;
  const uint64_t to = (uint64_t{to_segment} << 40) | to_offset;
  const std::string_view ikey = ik.view();
  const uint64_t h = HashIndexKey(bucket, key, seed_);
  std::lock_guard<std::mutex> lock(writer_mu_);
  const uint32_t head = hash_.Find(ikey, h);
  if (head == 0) return Status(StatusCode::kNotFound, "no such key");
  const char* prev = nullptr;
  for (uint32_t id = head; id != 0;) {
    const char* r = arena_.At(id);
    const uint32_t next = OlderOf(r);
    if (RecordVersionId(r) == version_id) {
      RecordFields f;
      DecodeRecord(r, &f);
      if (f.location != from) {
        return Status(StatusCode::kPreconditionFailed,
                      "version lives elsewhere");
      }
      f.location = to;
      if (prev == nullptr) {
        // The head carries the key bytes; readers switch with the tables.
        const uint32_t fresh = NewRecord(f, ikey, next);
        const uint32_t old_hash = hash_.Replace(ikey, h, fresh);
        const uint32_t old_tree = tree_.Replace(ikey, fresh);
        TS_ASSERT(old_hash == head && old_tree == head);
      } else {
        const uint32_t fresh = NewRecord(f, std::string_view(), next);
        // seq_cst: links the copy (EBR); readers see the old or the new one.
        RecordNext(prev)->store(fresh, std::memory_order_seq_cst);
      }
      RetireRecord(id);
      return Status::Ok();
    }
    prev = r;
    id = next;
  }
  return Status(StatusCode::kNotFound, "no such version");
}

Status Index::Remove(std::string_view bucket, std::string_view key,
                     const Condition& cond) {
  KeyBuf ik;
  TS_RETURN_IF_ERROR(MakeKey(bucket, key, &ik));
  if (cond.kind == Condition::Kind::kIfAbsent) {
    return Status(StatusCode::kInvalidArgument,
                  "Remove does not take an if-absent condition");
  }
  const std::string_view ikey = ik.view();
  const uint64_t h = HashIndexKey(bucket, key, seed_);
  std::lock_guard<std::mutex> lock(writer_mu_);
  const uint32_t head = hash_.Find(ikey, h);
  if (head == 0) return Status(StatusCode::kNotFound, "no such key");
  TS_RETURN_IF_ERROR(CheckCondition(cond, arena_.At(head)));
  RemoveKeyLocked(ikey, h, head);
  return Status::Ok();
}

bool Index::GetVersion(std::string_view bucket, std::string_view key,
                       uint64_t version_id, ObjectMeta* out) const {
  if (!ValidReadKey(bucket, key)) return false;
  const uint64_t h = HashIndexKey(bucket, key, seed_);
  ReadGuard guard;
  for (uint32_t id = FindHead(bucket, key, h); id != 0;) {
    const char* r = arena_.At(id);
    if (RecordVersionId(r) == version_id) {
      MetaFromRecord(r, out);
      return true;
    }
    id = OlderOf(r);
  }
  return false;
}

void Index::GetMany(std::string_view bucket, const std::string_view* keys,
                    size_t n, ObjectMeta* out, bool* found) const {
  TS_ASSERT(n == 0 || (keys != nullptr && out != nullptr && found != nullptr));
  // Three passes over batches of kBatch keys: hash and prefetch the home
  // groups, then prefetch the candidate records, then look up for real. The
  // cache misses of a batch overlap instead of running one after another.
  constexpr size_t kBatch = 16;
  uint64_t h[kBatch];
  bool valid[kBatch];
  ReadGuard guard;
  for (size_t base = 0; base < n; base += kBatch) {
    const size_t m = std::min(kBatch, n - base);
    for (size_t i = 0; i < m; ++i) {
      valid[i] = ValidReadKey(bucket, keys[base + i]);
      if (!valid[i]) continue;
      h[i] = HashIndexKey(bucket, keys[base + i], seed_);
      hash_.Prefetch(h[i]);
    }
    for (size_t i = 0; i < m; ++i) {
      if (!valid[i]) continue;
      const uint32_t id = hash_.Candidate(h[i]);
      if (id != 0 && id != HashTable::kTombstone) {
        __builtin_prefetch(arena_.At(id));
        __builtin_prefetch(arena_.At(id) + 64);
      }
    }
    for (size_t i = 0; i < m; ++i) {
      const uint32_t id = valid[i] ? FindHead(bucket, keys[base + i], h[i]) : 0;
      found[base + i] = id != 0;
      if (id != 0) MetaFromRecord(arena_.At(id), &out[base + i]);
    }
  }
}

uint64_t Index::key_count() const {
  // relaxed: a statistic.
  return keys_.load(std::memory_order_relaxed);
}

IndexMemory Index::Memory() const {
  std::lock_guard<std::mutex> lock(writer_mu_);
  IndexMemory m;
  m.keys = keys_.load(std::memory_order_relaxed);
  m.versions = versions_;
  m.key_bytes = key_bytes_;
  m.record_bytes = arena_.bytes_live();
  m.arena_reserved = arena_.bytes_reserved();
  m.hash_bytes = hash_.bytes();
  m.tree_bytes = tree_.bytes();
  if (m.keys > 0) {
    m.bytes_per_object_excluding_keys =
        static_cast<double>(m.record_bytes - m.key_bytes + m.hash_bytes +
                            m.tree_bytes) /
        static_cast<double>(m.keys);
  }
  return m;
}

Status Index::List(const ListRequest& req, ListPage* page) const {
  TS_ASSERT(page != nullptr);
  class PageSink : public ListSink {
   public:
    explicit PageSink(ListPage* p) : page_(p) {}
    void Entry(std::string_view key, const ObjectMeta& meta) override {
      page_->entries.push_back(ListEntry{std::string(key), meta});
    }
    void CommonPrefix(std::string_view prefix) override {
      page_->common_prefixes.emplace_back(prefix);
    }

   private:
    ListPage* page_;
  };
  // The request may point into the previous page (its continuation): copy
  // it before clearing the page.
  ListRequest copy = req;
  const std::string continuation(req.continuation);
  copy.continuation = continuation;
  *page = ListPage();
  PageSink sink(page);
  return ListInto(copy, &sink, &page->truncated, &page->next_continuation);
}

Status Index::ListInto(const ListRequest& req, ListSink* sink, bool* truncated,
                       std::string* next_continuation) const {
  TS_ASSERT(sink != nullptr && truncated != nullptr);
  TS_ASSERT(next_continuation != nullptr);
  const std::string continuation(req.continuation);  // may alias the output
  *truncated = false;
  next_continuation->clear();
  if (req.max_keys < 1 || req.max_keys > kListKeysMax) {
    return Status(
        StatusCode::kOutOfRange,
        "max_keys must be in 1..10000, got " + std::to_string(req.max_keys));
  }
  KeyBuf ip;
  TS_RETURN_IF_ERROR(MakeKey(req.bucket, req.prefix, &ip));
  const std::string_view iprefix = ip.view();
  const size_t bucket_bytes = 1 + req.bucket.size();
  // Where to start: the prefix, after start_after, or after a continuation
  // ('K' + key: strictly after key; 'P' + common prefix: after all of it).
  std::string start(iprefix);
  bool inclusive = true;
  if (!continuation.empty()) {
    const char kind = continuation[0];
    if ((kind != 'K' && kind != 'P') ||
        continuation.size() - 1 > kObjectKeyBytesMax) {
      return Status(StatusCode::kInvalidArgument, "malformed continuation");
    }
    std::string last(iprefix.substr(0, bucket_bytes));
    last.append(continuation, 1, std::string::npos);
    if (kind == 'K') {
      if (last >= start) {
        start = last;
        inclusive = false;
      }
    } else {
      std::string end;
      if (!PrefixEnd(last, &end)) return Status::Ok();
      if (end > start) start = end;
    }
  } else if (!req.start_after.empty()) {
    if (req.start_after.size() > kObjectKeyBytesMax) {
      return Status(StatusCode::kInvalidArgument, "start_after too long");
    }
    std::string after(iprefix.substr(0, bucket_bytes));
    after.append(req.start_after);
    if (after >= start) {
      start = after;
      inclusive = false;
    }
  }
  const std::string_view delim = req.delimiter;
  ReadGuard guard;
  KeyOrderTree::Cursor c;
  bool valid = tree_.Seek(start, inclusive, &c);
  uint32_t items = 0;
  std::string seek_buf;
  std::string_view last_item;
  bool last_is_prefix = false;
  ObjectMeta meta;
  while (valid) {
    const char* r = arena_.At(tree_.IdAt(c));
    const std::string_view ikey = RecordKey(r);
    if (!StartsWith(ikey, iprefix)) break;
    if ((RecordFlags(r) & kFlagDeleteMarker) != 0) {
      valid = tree_.Next(&c);
      continue;
    }
    if (items == req.max_keys) {
      *truncated = true;
      break;
    }
    ++items;
    const std::string_view okey = ikey.substr(bucket_bytes);
    size_t cut = std::string_view::npos;
    if (!delim.empty()) cut = okey.find(delim, req.prefix.size());
    if (cut != std::string_view::npos) {
      const std::string_view cp = okey.substr(0, cut + delim.size());
      sink->CommonPrefix(cp);
      last_item = cp;
      last_is_prefix = true;
      // Seek past every key under the common prefix in one descent. The
      // record stays readable under our guard, so `last_item` stays valid.
      if (!PrefixEnd(ikey.substr(0, bucket_bytes + cp.size()), &seek_buf)) {
        break;
      }
      valid = tree_.Seek(seek_buf, true, &c);
      continue;
    }
    MetaFromRecord(r, &meta);
    sink->Entry(okey, meta);
    last_item = okey;
    last_is_prefix = false;
    valid = tree_.Next(&c);
  }
  if (*truncated) {
    next_continuation->assign(1, last_is_prefix ? 'P' : 'K');
    next_continuation->append(last_item);
  }
  TS_ASSERT(items <= req.max_keys);
  return Status::Ok();
}

Status Index::ListVersions(const ListVersionsRequest& req,
                           ListVersionsPage* page) const {
  TS_ASSERT(page != nullptr);
  // The key marker may point into the previous page: copy it first.
  const std::string key_marker(req.key_marker);
  *page = ListVersionsPage();
  if (req.max_keys < 1 || req.max_keys > kListKeysMax) {
    return Status(
        StatusCode::kOutOfRange,
        "max_keys must be in 1..10000, got " + std::to_string(req.max_keys));
  }
  KeyBuf ip;
  TS_RETURN_IF_ERROR(MakeKey(req.bucket, req.prefix, &ip));
  const std::string_view iprefix = ip.view();
  const size_t bucket_bytes = 1 + req.bucket.size();
  std::string start(iprefix);
  if (key_marker.size() > kObjectKeyBytesMax) {
    return Status(StatusCode::kInvalidArgument, "key_marker too long");
  }
  std::string marker(iprefix.substr(0, bucket_bytes));
  marker.append(key_marker);
  const bool has_marker = !key_marker.empty();
  if (has_marker && marker > start) start = marker;
  const std::string_view delim = req.delimiter;
  ReadGuard guard;
  KeyOrderTree::Cursor c;
  bool valid = tree_.Seek(start, true, &c);
  uint32_t items = 0;
  std::string seek_buf;
  while (valid) {
    const char* head = arena_.At(tree_.IdAt(c));
    const std::string_view ikey = RecordKey(head);
    if (!StartsWith(ikey, iprefix)) break;
    const std::string_view okey = ikey.substr(bucket_bytes);
    // Versions of the marker key up to and including the version marker
    // (or all of them, without one) were on earlier pages.
    const bool at_marker = has_marker && ikey == marker;
    if (at_marker && !req.has_version_marker) {
      valid = tree_.Next(&c);
      continue;
    }
    size_t cut = std::string_view::npos;
    if (!delim.empty()) cut = okey.find(delim, req.prefix.size());
    if (cut != std::string_view::npos) {
      if (items == req.max_keys) {
        page->truncated = true;
        break;
      }
      ++items;
      const std::string_view cp = okey.substr(0, cut + delim.size());
      page->common_prefixes.emplace_back(cp);
      page->next_key_marker.assign(cp);
      page->has_next_version_marker = false;
      if (!PrefixEnd(ikey.substr(0, bucket_bytes + cp.size()), &seek_buf))
        break;
      valid = tree_.Seek(seek_buf, true, &c);
      continue;
    }
    bool skipping = at_marker;
    bool stop = false;
    for (uint32_t id = tree_.IdAt(c), n = 0; id != 0; ++n) {
      const char* r = arena_.At(id);
      const uint64_t vid = RecordVersionId(r);
      if (skipping) {
        if (vid == req.version_id_marker) skipping = false;
        id = OlderOf(r);
        continue;
      }
      if (items == req.max_keys) {
        page->truncated = true;
        stop = true;
        break;
      }
      ++items;
      VersionEntry e;
      e.key.assign(okey);
      MetaFromRecord(r, &e.meta);
      e.is_latest = n == 0;
      page->entries.push_back(std::move(e));
      page->next_key_marker.assign(okey);
      page->has_next_version_marker = true;
      page->next_version_id_marker = vid;
      id = OlderOf(r);
    }
    if (stop) break;
    valid = tree_.Next(&c);
  }
  if (!page->truncated) {
    page->next_key_marker.clear();
    page->has_next_version_marker = false;
    page->next_version_id_marker = 0;
  }
  TS_ASSERT(items <= req.max_keys);
  return Status::Ok();
}

}  // namespace index
}  // namespace tessera
