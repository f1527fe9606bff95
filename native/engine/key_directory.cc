#include "engine/key_directory.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <mutex>

#include "core/ts_assert.h"

namespace tessera {
namespace engine {

std::string VersionIdString(const VersionMeta& meta) {
  if (meta.null_version) return "null";
  char buf[17];
  snprintf(buf, sizeof(buf), "%016" PRIx64, meta.seq);
  return buf;
}

void KeyDirectory::ApplyBucket(const log::BucketRecord& record) {
  TS_ASSERT(!record.name.empty());
  std::unique_lock<std::shared_mutex> lock(mu_);
  switch (record.op) {
    case log::BucketOp::kCreate: {
      Bucket& b = buckets_[record.name];
      b.info.name = record.name;
      b.info.versioning = record.versioning;
      b.info.created_ms = record.created_ms;
      break;
    }
    case log::BucketOp::kDelete: {
      auto it = buckets_.find(record.name);
      if (it != buckets_.end()) {
        for (const auto& kv : it->second.keys) versions_ -= kv.second.size();
        buckets_.erase(it);
      }
      break;
    }
    case log::BucketOp::kSettings: {
      auto it = buckets_.find(record.name);
      if (it != buckets_.end()) it->second.info.versioning = record.versioning;
      break;
    }
  }
  TS_ASSERT(record.op != log::BucketOp::kCreate ||
            buckets_.count(record.name) == 1);
}

void KeyDirectory::ApplyObject(const std::string& bucket,
                               const std::string& key, const VersionMeta& meta,
                               bool keep_previous) {
  TS_ASSERT(meta.seq != 0);
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  // The committer checked the bucket before appending; recovery replays in
  // log order, where the BUCKET create always precedes its objects.
  if (b == buckets_.end()) return;
  std::vector<VersionMeta>& versions = b->second.keys[key];
  if (!keep_previous) {
    // Replace the null version, wherever it sits.
    auto it = std::find_if(versions.begin(), versions.end(),
                           [](const VersionMeta& v) { return v.null_version; });
    if (it != versions.end()) {
      versions.erase(it);
      versions_--;
    }
  }
  versions.insert(versions.begin(), meta);
  versions_++;
  TS_ASSERT(versions.front().seq == meta.seq);
}

bool KeyDirectory::ApplyDelete(const std::string& bucket,
                               const std::string& key,
                               const std::string& version_id) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return false;
  auto k = b->second.keys.find(key);
  if (k == b->second.keys.end()) return false;
  if (version_id.empty()) {
    versions_ -= k->second.size();
    b->second.keys.erase(k);
    return true;
  }
  auto& versions = k->second;
  auto it = std::find_if(
      versions.begin(), versions.end(),
      [&](const VersionMeta& v) { return VersionIdString(v) == version_id; });
  if (it == versions.end()) return false;
  versions.erase(it);
  versions_--;
  if (versions.empty()) b->second.keys.erase(k);
  return true;
}

bool KeyDirectory::GetBucket(const std::string& name, BucketInfo* out) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return false;
  *out = it->second.info;
  return true;
}

std::vector<BucketInfo> KeyDirectory::ListBuckets() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<BucketInfo> out;
  for (const auto& kv : buckets_) out.push_back(kv.second.info);
  return out;
}

uint64_t KeyDirectory::BucketVersionCount(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return 0;
  uint64_t n = 0;
  for (const auto& kv : it->second.keys) n += kv.second.size();
  return n;
}

uint64_t KeyDirectory::object_versions() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return versions_;
}

Status KeyDirectory::Lookup(const std::string& bucket, const std::string& key,
                            const std::string& version_id,
                            VersionMeta* out) const {
  TS_ASSERT(out != nullptr);
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) {
    return Status(StatusCode::kNotFound, "no such bucket");
  }
  auto k = b->second.keys.find(key);
  if (k == b->second.keys.end() || k->second.empty()) {
    return Status(StatusCode::kNotFound, "no such key");
  }
  if (version_id.empty()) {
    *out = k->second.front();
    return Status::Ok();
  }
  for (const VersionMeta& v : k->second) {
    if (VersionIdString(v) == version_id) {
      *out = v;
      return Status::Ok();
    }
  }
  return Status(StatusCode::kNotFound, "no such version");
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

Status KeyDirectory::List(const std::string& bucket, const std::string& prefix,
                          const std::string& delimiter,
                          const std::string& start_after_in, uint32_t max_keys,
                          ListPage* out) const {
  TS_ASSERT(out != nullptr);
  const std::string start_after = start_after_in;  // may alias *out
  TS_ASSERT(max_keys >= 1);
  *out = ListPage();
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) {
    return Status(StatusCode::kNotFound, "no such bucket");
  }
  const auto& keys = b->second.keys;
  auto it = keys.lower_bound(std::max(prefix, start_after));
  uint32_t count = 0;
  for (; it != keys.end(); ++it) {
    const std::string& key = it->first;
    if (!StartsWith(key, prefix)) break;
    if (key <= start_after) continue;
    if (it->second.empty() || it->second.front().delete_marker) continue;
    const std::string cp = CommonPrefix(key, prefix, delimiter);
    if (!cp.empty()) {
      if (cp <= start_after) continue;
      if (!out->common_prefixes.empty() && out->common_prefixes.back() == cp) {
        continue;
      }
      if (count == max_keys) {
        out->truncated = true;
        break;
      }
      out->common_prefixes.push_back(cp);
      out->next_marker = cp;
    } else {
      if (count == max_keys) {
        out->truncated = true;
        break;
      }
      out->entries.emplace_back(key, it->second.front());
      out->next_marker = key;
    }
    count++;
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
  // Copies: the markers may alias fields of *out.
  const std::string key_marker = key_marker_in;
  const std::string version_id_marker = version_id_marker_in;
  TS_ASSERT(max_keys >= 1);
  *out = ListVersionsPage();
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) {
    return Status(StatusCode::kNotFound, "no such bucket");
  }
  const auto& keys = b->second.keys;
  auto it = keys.lower_bound(std::max(prefix, key_marker));
  uint32_t count = 0;
  for (; it != keys.end() && !out->truncated; ++it) {
    const std::string& key = it->first;
    if (!StartsWith(key, prefix)) break;
    if (key < key_marker) continue;
    if (key == key_marker && version_id_marker.empty()) continue;
    const std::string cp = CommonPrefix(key, prefix, delimiter);
    if (!cp.empty()) {
      if (cp <= key_marker) continue;
      if (!out->common_prefixes.empty() && out->common_prefixes.back() == cp) {
        continue;
      }
      if (count == max_keys) {
        out->truncated = true;
        break;
      }
      out->common_prefixes.push_back(cp);
      out->next_key_marker = cp;
      out->next_version_id_marker.clear();
      count++;
      continue;
    }
    bool skipping = key == key_marker;  // until past version_id_marker
    for (size_t i = 0; i < it->second.size(); i++) {
      const VersionMeta& v = it->second[i];
      const std::string id = VersionIdString(v);
      if (skipping) {
        if (id == version_id_marker) skipping = false;
        continue;
      }
      if (count == max_keys) {
        out->truncated = true;
        break;
      }
      out->entries.push_back(VersionEntry{key, v, i == 0});
      out->next_key_marker = key;
      out->next_version_id_marker = id;
      count++;
    }
  }
  TS_ASSERT(out->entries.size() + out->common_prefixes.size() <= max_keys);
  return Status::Ok();
}

void KeyDirectory::DumpAll(Dump* out) const {
  TS_ASSERT(out != nullptr);
  std::shared_lock<std::shared_mutex> lock(mu_);
  out->buckets.clear();
  out->keys.clear();
  for (const auto& b : buckets_) {
    const uint32_t index = uint32_t(out->buckets.size());
    out->buckets.push_back(b.second.info);
    for (const auto& k : b.second.keys) {
      out->keys.push_back({index, {k.first, k.second}});
    }
  }
  TS_ASSERT(out->buckets.size() == buckets_.size());
}

void KeyDirectory::LoadAll(const Dump& dump) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  buckets_.clear();
  versions_ = 0;
  for (const BucketInfo& info : dump.buckets) buckets_[info.name].info = info;
  for (const auto& k : dump.keys) {
    TS_ASSERT(k.first < dump.buckets.size());
    Bucket& b = buckets_[dump.buckets[k.first].name];
    b.keys[k.second.first] = k.second.second;
    versions_ += k.second.second.size();
  }
}

}  // namespace engine
}  // namespace tessera

// ---- space reclamation (compaction.cc) ----

namespace tessera {
namespace engine {

bool KeyDirectory::Relocate(const std::string& bucket, const std::string& key,
                            uint64_t seq, uint64_t old_address,
                            uint64_t new_address) {
  TS_ASSERT(old_address != new_address);
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return false;
  auto k = b->second.keys.find(key);
  if (k == b->second.keys.end()) return false;
  for (VersionMeta& v : k->second) {
    if (v.seq == seq && v.address == old_address) {
      v.address = new_address;
      return true;
    }
  }
  return false;
}

void KeyDirectory::KeyVersions(const std::string& bucket,
                               const std::string& key,
                               std::vector<VersionMeta>* out) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  out->clear();
  auto b = buckets_.find(bucket);
  if (b == buckets_.end()) return;
  auto k = b->second.keys.find(key);
  if (k != b->second.keys.end()) *out = k->second;
}

void KeyDirectory::ForEachVersion(
    const std::function<void(const std::string&, const std::string&,
                             const VersionMeta&)>& fn) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto& b : buckets_) {
    for (const auto& k : b.second.keys) {
      for (const VersionMeta& v : k.second) fn(b.first, k.first, v);
    }
  }
}

}  // namespace engine
}  // namespace tessera
