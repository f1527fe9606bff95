#include "engine/segment_usage.h"

#include "core/ts_assert.h"

namespace tessera {
namespace engine {

void SegmentUsage::Reset(const log::Layout& layout) {
  std::lock_guard<std::mutex> lock(mu_);
  layout_ = layout;
  segments_.clear();
  extent_objs_.clear();
  list_bytes_.clear();
}

void SegmentUsage::NoteSegment(uint64_t id, bool freed) {
  std::lock_guard<std::mutex> lock(mu_);
  SegmentSpace& s = segments_[id];
  s.id = id;
  s.freed = s.freed || freed;
}

void SegmentUsage::MarkFreed(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  SegmentSpace& s = segments_[id];
  TS_ASSERT(s.live_bytes == 0);
  s.id = id;
  s.freed = true;
}

void SegmentUsage::NoteRecord(uint64_t segment, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  SegmentSpace& s = segments_[segment];
  s.id = segment;
  if (seq > s.max_seq) s.max_seq = seq;
}

void SegmentUsage::BoundMaxSeq(uint64_t below, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& kv : segments_) {
    if (kv.first < below && kv.second.max_seq < seq) kv.second.max_seq = seq;
  }
}

void SegmentUsage::AddBytes(uint64_t address, uint64_t bytes, int sign) {
  TS_ASSERT(layout_.Valid());
  const uint64_t id = address / layout_.segment_data_bytes();
  SegmentSpace& s = segments_[id];
  s.id = id;
  if (sign > 0) {
    s.live_bytes += bytes;
  } else {
    TS_ASSERT(s.live_bytes >= bytes);
    s.live_bytes -= bytes;
  }
}

void SegmentUsage::AddVersion(const VersionMeta& meta, uint64_t payload_bytes,
                              const std::vector<log::Extent>* extents) {
  std::lock_guard<std::mutex> lock(mu_);
  TS_ASSERT(meta.extents || payload_bytes == meta.size);
  AddBytes(meta.address, uint64_t(meta.header_bytes) + payload_bytes, 1);
  if (meta.extents) list_bytes_[meta.address] = payload_bytes;
  if (meta.extents && extents != nullptr) {
    for (const log::Extent& e : *extents) {
      AddBytes(e.address, kFragmentHeaderBytes + e.length, 1);
    }
    extent_objs_[meta.address] = *extents;
  }
}

void SegmentUsage::RemoveVersion(const VersionMeta& meta) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t payload_bytes = meta.size;
  if (meta.extents) {
    auto lb = list_bytes_.find(meta.address);
    payload_bytes = lb == list_bytes_.end() ? 0 : lb->second;
    if (lb != list_bytes_.end()) list_bytes_.erase(lb);
  }
  AddBytes(meta.address, uint64_t(meta.header_bytes) + payload_bytes, -1);
  if (!meta.extents) return;
  auto it = extent_objs_.find(meta.address);
  if (it == extent_objs_.end()) return;
  for (const log::Extent& e : it->second) {
    AddBytes(e.address, kFragmentHeaderBytes + e.length, -1);
  }
  extent_objs_.erase(it);
}

bool SegmentUsage::ExtentsOf(uint64_t address,
                             std::vector<log::Extent>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = extent_objs_.find(address);
  if (it == extent_objs_.end()) return false;
  *out = it->second;
  return true;
}

std::set<uint64_t> SegmentUsage::ExtentObjectsIn(uint64_t segment) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<uint64_t> out;
  for (const auto& kv : extent_objs_) {
    for (const log::Extent& e : kv.second) {
      if (e.address / layout_.segment_data_bytes() == segment) {
        out.insert(kv.first);
        break;
      }
    }
  }
  return out;
}

uint64_t SegmentUsage::LiveBytes(uint64_t segment) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = segments_.find(segment);
  return it == segments_.end() ? 0 : it->second.live_bytes;
}

bool SegmentUsage::Freed(uint64_t segment) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = segments_.find(segment);
  return it != segments_.end() && it->second.freed;
}

std::vector<SegmentSpace> SegmentUsage::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SegmentSpace> out;
  for (const auto& kv : segments_) out.push_back(kv.second);
  return out;
}

}  // namespace engine
}  // namespace tessera
