#include "engine/key_directory.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "core/ts_assert.h"

namespace tessera {
namespace engine {

std::string VersionIdString(const VersionMeta& meta) {
  if (meta.null_version) return "null";
  char buf[17];
  snprintf(buf, sizeof(buf), "%016" PRIx64, meta.seq);
  return buf;
}

namespace {

constexpr uint64_t kOffsetMask = (uint64_t{1} << 40) - 1;

// A VersionMeta in the index's fixed fields: the 64-bit logical address
// splits into segment (high 24 bits) and offset (low 40 bits); the record
// header's size goes in `length`; null version and extent list are the two
// user flags.
index::ObjectMeta ToIndex(const VersionMeta& v) {
  index::ObjectMeta m;
  m.segment = uint32_t(v.address >> 40);
  m.offset = v.address & kOffsetMask;
  m.length = v.header_bytes;
  m.version_id = v.seq;
  m.size = v.size;
  m.mtime_ms = v.mtime_ms;
  memcpy(m.etag, v.etag, 16);
  m.part_count = v.part_count;
  m.flags = uint8_t((v.delete_marker ? index::kFlagDeleteMarker : 0) |
                    (v.null_version ? index::kFlagUser1 : 0) |
                    (v.extents ? index::kFlagUser2 : 0));
  TS_ASSERT(m.segment <= index::kSegmentMax);
  return m;
}

VersionMeta FromIndex(const index::ObjectMeta& m) {
  VersionMeta v;
  v.seq = m.version_id;
  v.null_version = (m.flags & index::kFlagUser1) != 0;
  v.delete_marker = (m.flags & index::kFlagDeleteMarker) != 0;
  v.extents = (m.flags & index::kFlagUser2) != 0;
  v.address = uint64_t{m.segment} << 40 | m.offset;
  v.header_bytes = m.length;
  v.size = m.size;
  v.mtime_ms = m.mtime_ms;
  memcpy(v.etag, m.etag, 16);
  v.part_count = m.part_count;
  TS_ASSERT(v.seq == m.version_id);
  return v;
}

// "0123456789abcdef" -> seq; false for anything else ("null" included).
bool ParseVersionId(const std::string& id, uint64_t* seq) {
  if (id.size() != 16) return false;
  uint64_t v = 0;
  for (char c : id) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = v << 4 | uint64_t(d);
  }
  *seq = v;
  return true;
}

// Pages through the versions of `bucket` under `prefix` (newest first per
// key, keys in byte order) until `each` returns false. A page is listed
// whole before `each` sees it: callers that expect to stop early pass a
// smaller `page`.
void EachIndexVersion(
    const index::Index& idx, const std::string& bucket,
    const std::string& prefix,
    const std::function<bool(const std::string&, const VersionMeta&)>& each,
    uint32_t page_keys = index::kListKeysMax) {
  index::ListVersionsRequest req;
  req.bucket = bucket;
  req.prefix = prefix;
  req.max_keys = page_keys;
  std::string marker;
  uint64_t vmarker = 0;
  bool has_vmarker = false;
  for (;;) {
    req.key_marker = marker;
    req.has_version_marker = has_vmarker;
    req.version_id_marker = vmarker;
    index::ListVersionsPage page;
    if (!idx.ListVersions(req, &page).ok()) return;
    for (const auto& e : page.entries) {
      if (!each(e.key, FromIndex(e.meta))) return;
    }
    if (!page.truncated) return;
    marker = page.next_key_marker;
    has_vmarker = page.has_next_version_marker;
    vmarker = page.next_version_id_marker;
  }
}

}  // namespace

KeyDirectory::KeyDirectory()
    : index_(new index::Index()), buckets_(new BucketTable()) {
  TS_ASSERT(index_ != nullptr);
  TS_ASSERT(buckets_.load() != nullptr);
}

KeyDirectory::~KeyDirectory() {
  // No reader remains (the engine is being destroyed).
  retire_.DrainForTests();
  const BucketTable* t = buckets_.load();
  for (const auto& kv : *t) delete kv.second;
  delete t;
}

void KeyDirectory::Publish(BucketTable* next, BucketNode* gone) {
  TS_ASSERT(next != nullptr);
  const BucketTable* old = buckets_.exchange(next, std::memory_order_seq_cst);
  TS_ASSERT(old != next);
  retire_.Retire([old, gone] {
    delete old;
    delete gone;
  });
  retire_.Collect();
}

KeyDirectory::BucketNode* KeyDirectory::FindBucket(
    const std::string& name) const {
  const BucketTable* t = buckets_.load(std::memory_order_seq_cst);
  auto it = t->find(name);
  return it == t->end() ? nullptr : it->second;
}

void KeyDirectory::ApplyBucket(const log::BucketRecord& record) {
  const ChangeMark changed(this);
  TS_ASSERT(!record.name.empty());
  const BucketTable* cur = buckets_.load();
  auto it = cur->find(record.name);
  switch (record.op) {
    case log::BucketOp::kCreate: {
      auto* next = new BucketTable(*cur);
      BucketNode* node = new BucketNode();
      node->info.name = record.name;
      node->info.versioning = record.versioning;
      node->info.created_ms = record.created_ms;
      BucketNode* gone = nullptr;
      if (it != cur->end()) {
        node->versions.store(it->second->versions.load());
        gone = it->second;
      }
      (*next)[record.name] = node;
      Publish(next, gone);
      break;
    }
    case log::BucketOp::kDelete: {
      if (it == cur->end()) break;
      if (it->second->versions.load() != 0) RemoveAllKeys(record.name);
      auto* next = new BucketTable(*cur);
      next->erase(record.name);
      Publish(next, it->second);
      break;
    }
    case log::BucketOp::kSettings: {
      if (it == cur->end()) break;
      auto* next = new BucketTable(*cur);
      BucketNode* node = new BucketNode();
      node->info = it->second->info;
      node->info.versioning = record.versioning;
      node->versions.store(it->second->versions.load());
      (*next)[record.name] = node;
      Publish(next, it->second);
      break;
    }
  }
  TS_ASSERT(record.op != log::BucketOp::kCreate ||
            buckets_.load()->count(record.name) == 1);
}

void KeyDirectory::RemoveAllKeys(const std::string& bucket) {
  BucketNode* b = FindBucket(bucket);
  TS_ASSERT(b != nullptr);
  for (;;) {
    index::ListVersionsRequest req;
    req.bucket = bucket;
    req.max_keys = index::kListKeysMax;
    index::ListVersionsPage page;
    if (!index_->ListVersions(req, &page).ok() || page.entries.empty()) break;
    std::string last;
    for (const auto& e : page.entries) {
      if (e.key == last) continue;
      last = e.key;
      (void)index_->Remove(bucket, e.key).ok();
    }
  }
  versions_.fetch_sub(b->versions.load());
  b->versions.store(0);
}

bool KeyDirectory::FindNullVersion(const std::string& bucket,
                                   const std::string& key,
                                   uint64_t* seq) const {
  TS_ASSERT(seq != nullptr);
  index::ObjectMeta cur;
  if (!index_->Get(bucket, key, &cur)) return false;
  if ((cur.flags & index::kFlagUser1) != 0) {
    *seq = cur.version_id;
    return true;
  }
  // The key's versions come first in a listing prefixed by the key.
  bool found = false;
  EachIndexVersion(
      *index_, bucket, key,
      [&](const std::string& k, const VersionMeta& v) {
        if (k != key) return false;
        if (!v.null_version) return true;
        *seq = v.seq;
        found = true;
        return false;
      },
      /*page_keys=*/1000);
  return found;
}

void KeyDirectory::ApplyObject(const std::string& bucket,
                               const std::string& key, const VersionMeta& meta,
                               bool keep_previous) {
  const ChangeMark changed(this);
  TS_ASSERT(meta.seq != 0);
  BucketNode* b = FindBucket(bucket);
  // The committer checked the bucket before appending; recovery replays in
  // log order, where the BUCKET create always precedes its objects.
  if (b == nullptr) return;
  index::PutMode mode = index::PutMode::kNewVersion;
  uint64_t null_seq = 0;
  if (!keep_previous && FindNullVersion(bucket, key, &null_seq)) {
    index::ObjectMeta cur;
    const bool current_is_null =
        index_->Get(bucket, key, &cur) && cur.version_id == null_seq;
    if (current_is_null) {
      mode = index::PutMode::kReplaceCurrent;
    } else {
      // Replace the null version wherever it sits: drop it, then push.
      Status s = index_->DeleteVersion(bucket, key, null_seq);
      TS_ASSERT_MSG(s.ok(), s.message().c_str());
    }
    versions_.fetch_sub(1);
    b->versions.fetch_sub(1);
  }
  Status s = index_->Put(bucket, key, ToIndex(meta), mode);
  TS_ASSERT_MSG(s.ok(), s.message().c_str());
  versions_.fetch_add(1);
  b->versions.fetch_add(1);
}

bool KeyDirectory::ApplyDelete(const std::string& bucket,
                               const std::string& key,
                               const std::string& version_id) {
  const ChangeMark changed(this);
  BucketNode* b = FindBucket(bucket);
  if (b == nullptr) return false;
  if (version_id.empty()) {
    // Count the versions being dropped (the prefix is the key: stop at the
    // first other key).
    uint64_t n = 0;
    EachIndexVersion(*index_, bucket, key,
                     [&](const std::string& k, const VersionMeta&) {
                       if (k != key) return false;
                       n++;
                       return true;
                     });
    if (!index_->Remove(bucket, key).ok()) return false;
    TS_ASSERT(n >= 1);
    versions_.fetch_sub(n);
    b->versions.fetch_sub(n);
    return true;
  }
  uint64_t seq = 0;
  if (version_id == "null") {
    if (!FindNullVersion(bucket, key, &seq)) return false;
  } else {
    index::ObjectMeta m;
    if (!ParseVersionId(version_id, &seq) ||
        !index_->GetVersion(bucket, key, seq, &m) ||
        (m.flags & index::kFlagUser1) != 0) {
      return false;
    }
  }
  if (!index_->DeleteVersion(bucket, key, seq).ok()) return false;
  versions_.fetch_sub(1);
  b->versions.fetch_sub(1);
  return true;
}

bool KeyDirectory::GetBucket(const std::string& name, BucketInfo* out) const {
  TS_ASSERT(out != nullptr);
  index::ReadGuard guard;
  const BucketNode* b = FindBucket(name);
  if (b == nullptr) return false;
  *out = b->info;
  return true;
}

std::vector<BucketInfo> KeyDirectory::ListBuckets() const {
  index::ReadGuard guard;
  const BucketTable* t = buckets_.load(std::memory_order_seq_cst);
  std::vector<BucketInfo> out;
  out.reserve(t->size());
  for (const auto& kv : *t) out.push_back(kv.second->info);
  TS_ASSERT(out.size() == t->size());
  return out;
}

uint64_t KeyDirectory::BucketVersionCount(const std::string& name) const {
  index::ReadGuard guard;
  const BucketNode* b = FindBucket(name);
  return b == nullptr ? 0 : b->versions.load();
}

uint64_t KeyDirectory::object_versions() const { return versions_.load(); }

Status KeyDirectory::Lookup(const std::string& bucket, const std::string& key,
                            const std::string& version_id,
                            VersionMeta* out) const {
  TS_ASSERT(out != nullptr);
  {
    index::ReadGuard guard;
    if (FindBucket(bucket) == nullptr) {
      return Status(StatusCode::kNotFound, "no such bucket");
    }
  }
  if (bucket.size() < index::kBucketBytesMin ||
      bucket.size() > index::kBucketBytesMax ||
      key.size() > index::kObjectKeyBytesMax) {
    return Status(StatusCode::kNotFound, "no such key");
  }
  index::ObjectMeta m;
  if (version_id.empty()) {
    if (!index_->Get(bucket, key, &m)) {
      return Status(StatusCode::kNotFound, "no such key");
    }
    *out = FromIndex(m);
    return Status::Ok();
  }
  if (!index_->Get(bucket, key, &m)) {
    return Status(StatusCode::kNotFound, "no such key");
  }
  uint64_t seq = 0;
  if (version_id == "null") {
    if (!FindNullVersion(bucket, key, &seq)) {
      return Status(StatusCode::kNotFound, "no such version");
    }
  } else if (!ParseVersionId(version_id, &seq)) {
    return Status(StatusCode::kNotFound, "no such version");
  }
  if (!index_->GetVersion(bucket, key, seq, &m) ||
      (version_id != "null") == ((m.flags & index::kFlagUser1) != 0)) {
    return Status(StatusCode::kNotFound, "no such version");
  }
  *out = FromIndex(m);
  return Status::Ok();
}

namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The common prefix a key rolls up into, or "" when it does not.
std::string CommonPrefix(const std::string& key, const std::string& prefix,
                         const std::string& delimiter) {
  if (delimiter.empty()) return std::string();
  const size_t pos = key.find(delimiter, prefix.size());
  if (pos == std::string::npos) return std::string();
  return key.substr(0, pos + delimiter.size());
}

}  // namespace

// Both listings ask the index for one item more than the page and cut it
// here: the stand-in's marker rule (a common prefix at or before the marker is
// skipped) may drop the first item the index returns, and the next markers are
// the last key or common prefix kept.
Status KeyDirectory::List(const std::string& bucket, const std::string& prefix,
                          const std::string& delimiter,
                          const std::string& start_after_in, uint32_t max_keys,
                          ListPage* out) const {
  TS_ASSERT(out != nullptr);
  TS_ASSERT(max_keys >= 1 && max_keys < index::kListKeysMax);
  const std::string start_after = start_after_in;  // may alias *out
  *out = ListPage();
  {
    index::ReadGuard guard;
    if (FindBucket(bucket) == nullptr) {
      return Status(StatusCode::kNotFound, "no such bucket");
    }
  }
  if (prefix.size() > index::kObjectKeyBytesMax ||
      start_after.size() > index::kObjectKeyBytesMax) {
    return Status::Ok();  // no key is that long
  }
  index::ListRequest req;
  req.bucket = bucket;
  req.prefix = prefix;
  req.delimiter = delimiter;
  req.max_keys = max_keys;
  // A marker inside a common prefix resumes after the whole prefix.
  const std::string marker_cp = CommonPrefix(start_after, prefix, delimiter);
  std::string continuation;
  if (!marker_cp.empty() && StartsWith(start_after, prefix)) {
    continuation = "P" + marker_cp;
    req.continuation = continuation;
  } else {
    req.start_after = start_after;
  }
  index::ListPage page;
  TS_RETURN_IF_ERROR(index_->List(req, &page));
  for (auto& e : page.entries) {
    out->entries.emplace_back(std::move(e.key), FromIndex(e.meta));
  }
  out->common_prefixes = std::move(page.common_prefixes);
  out->truncated = page.truncated;
  const std::string* last_key =
      out->entries.empty() ? nullptr : &out->entries.back().first;
  const std::string* last_cp =
      out->common_prefixes.empty() ? nullptr : &out->common_prefixes.back();
  if (last_key != nullptr && (last_cp == nullptr || *last_key > *last_cp)) {
    out->next_marker = *last_key;
  } else if (last_cp != nullptr) {
    out->next_marker = *last_cp;
  }
  TS_ASSERT(out->entries.size() + out->common_prefixes.size() <= max_keys);
  return Status::Ok();
}

Status KeyDirectory::ListVersions(const std::string& bucket,
                                  const std::string& prefix,
                                  const std::string& delimiter,
                                  const std::string& key_marker_in,
                                  const std::string& version_id_marker_in,
                                  uint32_t max_keys,
                                  ListVersionsPage* out) const {
  TS_ASSERT(out != nullptr);
  TS_ASSERT(max_keys >= 1 && max_keys < index::kListKeysMax);
  // Copies: the markers may alias fields of *out.
  const std::string key_marker = key_marker_in;
  const std::string version_id_marker = version_id_marker_in;
  *out = ListVersionsPage();
  {
    index::ReadGuard guard;
    if (FindBucket(bucket) == nullptr) {
      return Status(StatusCode::kNotFound, "no such bucket");
    }
  }
  if (prefix.size() > index::kObjectKeyBytesMax ||
      key_marker.size() > index::kObjectKeyBytesMax) {
    return Status::Ok();
  }
  index::ListVersionsRequest req;
  req.bucket = bucket;
  req.prefix = prefix;
  req.delimiter = delimiter;
  req.key_marker = key_marker;
  if (!key_marker.empty() && !version_id_marker.empty()) {
    uint64_t seq = 0;
    bool found = false;
    if (version_id_marker == "null") {
      found = FindNullVersion(bucket, key_marker, &seq);
    } else {
      index::ObjectMeta m;
      found = ParseVersionId(version_id_marker, &seq) &&
              index_->GetVersion(bucket, key_marker, seq, &m) &&
              (m.flags & index::kFlagUser1) == 0;
    }
    // An absent marker version skips the whole marker key, as before.
    req.has_version_marker = found;
    req.version_id_marker = seq;
  }
  const std::string marker_cp = CommonPrefix(key_marker, prefix, delimiter);
  req.max_keys = max_keys + 1;
  index::ListVersionsPage page;
  TS_RETURN_IF_ERROR(index_->ListVersions(req, &page));
  // Merge entries and common prefixes back into key order.
  size_t ei = 0, ci = 0;
  uint32_t count = 0;
  while (ei < page.entries.size() || ci < page.common_prefixes.size()) {
    const bool take_cp = ci < page.common_prefixes.size() &&
                         (ei == page.entries.size() ||
                          page.common_prefixes[ci] < page.entries[ei].key);
    if (take_cp && !marker_cp.empty() &&
        page.common_prefixes[ci] <= key_marker) {
      ci++;
      continue;
    }
    if (count == max_keys) {
      out->truncated = true;
      break;
    }
    count++;
    if (take_cp) {
      out->common_prefixes.push_back(std::move(page.common_prefixes[ci++]));
      out->next_key_marker = out->common_prefixes.back();
      out->next_version_id_marker.clear();
    } else {
      index::VersionEntry& e = page.entries[ei++];
      VersionEntry v{std::move(e.key), FromIndex(e.meta), e.is_latest};
      out->next_key_marker = v.key;
      out->next_version_id_marker = VersionIdString(v.meta);
      out->entries.push_back(std::move(v));
    }
  }
  if (page.truncated) out->truncated = true;
  TS_ASSERT(out->entries.size() + out->common_prefixes.size() <= max_keys);
  return Status::Ok();
}

std::vector<KeyDirectory::BucketState> KeyDirectory::BucketStates() const {
  index::ReadGuard guard;
  const BucketTable* t = buckets_.load(std::memory_order_seq_cst);
  std::vector<BucketState> out;
  out.reserve(t->size());
  for (const auto& kv : *t) {
    out.push_back(BucketState{kv.second->info, kv.second->versions.load()});
  }
  TS_ASSERT(out.size() == t->size());
  return out;
}

Status KeyDirectory::SaveIndex(const std::string& path) const {
  TS_ASSERT(!path.empty());
  return index_->SaveSnapshot(path);
}

Status KeyDirectory::LoadIndex(const std::string& path,
                               const std::vector<BucketState>& buckets) {
  const ChangeMark changed(this);
  TS_ASSERT(versions_.load() == 0);
  TS_ASSERT(buckets_.load()->empty());
  std::unique_ptr<index::Index> loaded;
  TS_RETURN_IF_ERROR(index::Index::LoadSnapshot(path, &loaded));
  uint64_t total = 0;
  for (size_t i = 0; i < buckets.size(); i++) {
    if (i > 0 && !(buckets[i - 1].info.name < buckets[i].info.name)) {
      return Status(StatusCode::kCorrupt, "snapshot buckets out of order");
    }
    total += buckets[i].versions;
  }
  if (loaded->Memory().versions != total) {
    return Status(StatusCode::kCorrupt,
                  "index snapshot holds " +
                      std::to_string(loaded->Memory().versions) +
                      " versions, its buckets count " + std::to_string(total));
  }
  auto* table = new BucketTable();
  for (const BucketState& b : buckets) {
    BucketNode* node = new BucketNode();
    node->info = b.info;
    node->versions.store(b.versions);
    (*table)[b.info.name] = node;
  }
  index_ = std::move(loaded);
  versions_.store(total);
  Publish(table, nullptr);
  TS_ASSERT(index_ != nullptr);
  return Status::Ok();
}

}  // namespace engine
}  // namespace tessera

// ---- space reclamation (compaction.cc) ----

namespace tessera {
namespace engine {

bool KeyDirectory::Relocate(const std::string& bucket, const std::string& key,
                            uint64_t seq, uint64_t old_address,
                            uint64_t new_address) {
  const ChangeMark changed(this);
  TS_ASSERT(old_address != new_address);
  {
    index::ReadGuard guard;
    if (FindBucket(bucket) == nullptr) return false;
  }
  // A compare-and-swap in the index: nothing changes when the version was
  // overwritten, deleted or already moved.
  return index_
      ->Relocate(bucket, key, seq, uint32_t(old_address >> 40),
                 old_address & kOffsetMask, uint32_t(new_address >> 40),
                 new_address & kOffsetMask)
      .ok();
}

void KeyDirectory::KeyVersions(const std::string& bucket,
                               const std::string& key,
                               std::vector<VersionMeta>* out) const {
  out->clear();
  {
    index::ReadGuard guard;
    if (FindBucket(bucket) == nullptr) return;
  }
  if (bucket.size() < index::kBucketBytesMin ||
      bucket.size() > index::kBucketBytesMax ||
      key.size() > index::kObjectKeyBytesMax) {
    return;
  }
  EachIndexVersion(*index_, bucket, key,
                   [&](const std::string& k, const VersionMeta& v) {
                     if (k != key) return false;
                     out->push_back(v);
                     return true;
                   });
}

void KeyDirectory::ForEachVersion(
    const std::function<void(const std::string&, const std::string&,
                             const VersionMeta&)>& fn) const {
  for (const BucketInfo& b : ListBuckets()) {
    EachIndexVersion(*index_, b.name, std::string(),
                     [&](const std::string& k, const VersionMeta& v) {
                       fn(b.name, k, v);
                       return true;
                     });
  }
}

}  // namespace engine
}  // namespace tessera
