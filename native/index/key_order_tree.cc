#include "index/key_order_tree.h"

#include <cstdlib>
#include <cstring>

// Memory orders in this file: reader paths name each order where it is used.
// Every `relaxed` access without its own comment is writer-private: a load of
// the writer's own earlier store (ordered by the writer mutex), or a store
// into a node/table/record that no reader can reach yet (it is published
// later by one seq_cst store, which orders these stores before it), or a
// statistic.

namespace tessera {
namespace index {

struct KeyOrderTree::Node {
  uint32_t is_leaf;
  uint32_t count;  // ids in a leaf, children in an inner node
};

struct KeyOrderTree::Leaf {
  Node h;
  std::atomic<uint32_t> ids[kLeafCapacity];
};
static_assert(sizeof(KeyOrderTree::Leaf) == 512, "leaf is 512 bytes");

struct KeyOrderTree::Inner {
  Node h;
  std::atomic<Node*> child[kInnerCapacity];
  // Separator i (i < count - 1) is blob[sep_end[i-1] .. sep_end[i]).
  uint32_t sep_end[kInnerCapacity];
  char* blob;
  uint32_t blob_bytes;

  std::string_view Sep(uint32_t i) const {
    const uint32_t begin = i == 0 ? 0 : sep_end[i - 1];
    return std::string_view(blob + begin, sep_end[i] - begin);
  }
};

KeyOrderTree::KeyOrderTree(const RecordArena* arena) : arena_(arena) {
  TS_ASSERT(arena != nullptr);
  root_.store(&NewLeaf()->h, std::memory_order_relaxed);
}

KeyOrderTree::~KeyOrderTree() {
  std::vector<Node*> stack{root_.load(std::memory_order_relaxed)};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!n->is_leaf) {
      Inner* in = reinterpret_cast<Inner*>(n);
      for (uint32_t i = 0; i < n->count; ++i) {
        stack.push_back(in->child[i].load(std::memory_order_relaxed));
      }
    }
    FreeNode(n);
  }
}

std::string_view KeyOrderTree::KeyOf(uint32_t id) const {
  return RecordKey(arena_->At(id));
}

KeyOrderTree::Leaf* KeyOrderTree::NewLeaf() {
  Leaf* leaf = static_cast<Leaf*>(std::aligned_alloc(64, sizeof(Leaf)));
  TS_ASSERT_MSG(leaf != nullptr, "key order tree: out of memory");
  leaf->h.is_leaf = 1;
  leaf->h.count = 0;
  for (auto& id : leaf->ids) new (&id) std::atomic<uint32_t>(0);
  bytes_ += sizeof(Leaf);
  return leaf;
}

void KeyOrderTree::FreeNode(Node* n) {
  if (n->is_leaf) {
    std::free(n);
    return;
  }
  Inner* in = reinterpret_cast<Inner*>(n);
  delete[] in->blob;
  delete in;
}

void KeyOrderTree::RetireNode(Node* n, RetireList* retire) {
  bytes_ -= n->is_leaf
                ? sizeof(Leaf)
                : sizeof(Inner) + reinterpret_cast<Inner*>(n)->blob_bytes;
  retire->Retire([n] { FreeNode(n); });
}

KeyOrderTree::Inner* KeyOrderTree::NewInner(
    const std::vector<Node*>& children,
    const std::vector<std::string_view>& seps) {
  TS_ASSERT(children.size() >= 1 && children.size() <= kInnerCapacity);
  TS_ASSERT(seps.size() + 1 == children.size());
  Inner* in = new Inner;
  in->h.is_leaf = 0;
  in->h.count = static_cast<uint32_t>(children.size());
  size_t total = 0;
  for (auto s : seps) total += s.size();
  in->blob = new char[total == 0 ? 1 : total];
  in->blob_bytes = static_cast<uint32_t>(total);
  uint32_t off = 0;
  for (size_t i = 0; i < seps.size(); ++i) {
    if (!seps[i].empty())
      std::memcpy(in->blob + off, seps[i].data(), seps[i].size());
    off += static_cast<uint32_t>(seps[i].size());
    in->sep_end[i] = off;
  }
  for (size_t i = 0; i < children.size(); ++i) {
    in->child[i].store(children[i], std::memory_order_relaxed);
  }
  bytes_ += sizeof(Inner) + total;
  return in;
}

uint32_t KeyOrderTree::LowerBound(const Leaf* leaf,
                                  std::string_view key) const {
  // Each comparison dereferences a record, usually a cache miss. Instead of
  // a binary search (7 dependent misses in a full leaf), probe 7 evenly
  // spaced points at once, with their records prefetched, so their misses
  // overlap; two such rounds narrow 126 entries to about 2.
  // seq_cst on the id loads: shared ids read under the reader's epoch pin
  // (see epoch.h); an id may be swapped for another record of the same key.
  uint32_t lo = 0, hi = leaf->h.count;
  while (hi - lo > 8) {
    uint32_t pos[7];
    uint32_t ids[7];
    for (uint32_t k = 0; k < 7; ++k) {
      pos[k] = lo + (hi - lo) * (k + 1) / 8;
      ids[k] = leaf->ids[pos[k]].load(std::memory_order_seq_cst);
      __builtin_prefetch(arena_->At(ids[k]));
    }
    uint32_t new_lo = lo, new_hi = hi;
    for (uint32_t k = 0; k < 7; ++k) {
      if (KeyOf(ids[k]) < key) {
        new_lo = pos[k] + 1;
      } else {
        new_hi = pos[k];
        break;
      }
    }
    TS_ASSERT(new_lo <= new_hi && new_hi - new_lo < hi - lo);
    lo = new_lo;
    hi = new_hi;
  }
  for (uint32_t i = lo; i < hi; ++i) {
    __builtin_prefetch(
        arena_->At(leaf->ids[i].load(std::memory_order_seq_cst)));
  }
  while (lo < hi) {
    const uint32_t mid = (lo + hi) / 2;
    const uint32_t id = leaf->ids[mid].load(std::memory_order_seq_cst);
    if (KeyOf(id) < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

bool KeyOrderTree::Seek(std::string_view k, bool inclusive, Cursor* c) const {
  TS_ASSERT(c != nullptr);
  std::string_view target = k;
  bool incl = inclusive;
  for (;;) {
    // seq_cst: the root is a shared pointer (EBR store-load pairing).
    const Node* n = root_.load(std::memory_order_seq_cst);
    c->has_upper = false;
    while (!n->is_leaf) {
      const Inner* in = reinterpret_cast<const Inner*>(n);
      // Child index = number of separators <= target.
      uint32_t lo = 0, hi = n->count - 1;
      while (lo < hi) {
        const uint32_t mid = (lo + hi) / 2;
        if (in->Sep(mid) <= target) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      if (lo < n->count - 1) {
        c->upper = in->Sep(lo);
        c->has_upper = true;
      }
      // seq_cst: child pointers are shared pointers (EBR, see epoch.h).
      n = in->child[lo].load(std::memory_order_seq_cst);
    }
    const Leaf* leaf = reinterpret_cast<const Leaf*>(n);
    uint32_t pos = LowerBound(leaf, target);
    if (!incl && pos < leaf->h.count &&
        KeyOf(leaf->ids[pos].load(std::memory_order_seq_cst)) == target) {
      ++pos;
    }
    if (pos < leaf->h.count) {
      c->leaf = leaf;
      c->pos = pos;
      return true;
    }
    if (!c->has_upper) return false;
    // The separator outlives this loop: the inner node holding it is
    // reclaimed only after our guard ends.
    target = c->upper;
    incl = true;
  }
}

bool KeyOrderTree::Next(Cursor* c) const {
  TS_ASSERT(c->leaf != nullptr);
  if (++c->pos < c->leaf->h.count) return true;
  if (!c->has_upper) return false;
  const std::string_view upper = c->upper;
  return Seek(upper, true, c);
}

uint32_t KeyOrderTree::IdAt(const Cursor& c) const {
  TS_ASSERT(c.leaf != nullptr && c.pos < c.leaf->h.count);
  // seq_cst: shared pointer read under the epoch pin (see epoch.h).
  return c.leaf->ids[c.pos].load(std::memory_order_seq_cst);
}

KeyOrderTree::Leaf* KeyOrderTree::Descend(std::string_view key,
                                          std::vector<PathStep>* path) const {
  path->clear();
  // relaxed: the writer reads its own stores.
  Node* n = root_.load(std::memory_order_relaxed);
  while (!n->is_leaf) {
    Inner* in = reinterpret_cast<Inner*>(n);
    uint32_t lo = 0, hi = n->count - 1;
    while (lo < hi) {
      const uint32_t mid = (lo + hi) / 2;
      if (in->Sep(mid) <= key) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    path->push_back(PathStep{in, lo});
    n = in->child[lo].load(std::memory_order_relaxed);
  }
  return reinterpret_cast<Leaf*>(n);
}

void KeyOrderTree::Publish(const std::vector<PathStep>& path, size_t depth,
                           Node* replacement) {
  // seq_cst: publishes the new node (fully built before) and unlinks the
  // old one for EBR.
  if (depth == 0) {
    root_.store(replacement, std::memory_order_seq_cst);
  } else {
    const PathStep& parent = path[depth - 1];
    parent.node->child[parent.child].store(replacement,
                                           std::memory_order_seq_cst);
  }
}

void KeyOrderTree::InsertSplit(const std::vector<PathStep>& path, size_t depth,
                               Node* left, std::string_view sep, Node* right,
                               RetireList* retire) {
  if (depth == 0) {
    Inner* root = NewInner({left, right}, {sep});
    Publish(path, 0, &root->h);
    return;
  }
  const PathStep& step = path[depth - 1];
  Inner* p = step.node;
  std::vector<Node*> children;
  std::vector<std::string_view> seps;
  for (uint32_t i = 0; i < p->h.count; ++i) {
    if (i == step.child) {
      children.push_back(left);
      children.push_back(right);
    } else {
      children.push_back(p->child[i].load(std::memory_order_relaxed));
    }
    if (i + 1 < p->h.count) {
      if (i == step.child) seps.push_back(sep);
      seps.push_back(p->Sep(i));
    } else if (i == step.child) {
      seps.push_back(sep);
    }
  }
  TS_ASSERT(seps.size() + 1 == children.size());
  if (children.size() <= kInnerCapacity) {
    Inner* copy = NewInner(children, seps);
    Publish(path, depth - 1, &copy->h);
  } else {
    const size_t half = children.size() / 2;
    std::vector<Node*> lc(children.begin(), children.begin() + half);
    std::vector<Node*> rc(children.begin() + half, children.end());
    std::vector<std::string_view> ls(seps.begin(), seps.begin() + half - 1);
    std::vector<std::string_view> rs(seps.begin() + half, seps.end());
    Inner* l = NewInner(lc, ls);
    Inner* r = NewInner(rc, rs);
    // seps[half - 1] lives in p's blob or is `sep`; both outlive this call.
    InsertSplit(path, depth - 1, &l->h, seps[half - 1], &r->h, retire);
  }
  RetireNode(&p->h, retire);
}

bool KeyOrderTree::InsertByRedistributing(const std::vector<PathStep>& path,
                                          Leaf* leaf, uint32_t pos, uint32_t id,
                                          RetireList* retire) {
  if (path.empty()) return false;
  const PathStep& step = path.back();
  Inner* p = step.node;
  // Leaves that share entries keep both below capacity, which lifts the
  // fill after random inserts from ~60-70% towards ~80% (memory budget).
  constexpr uint32_t kSiblingRoomMin = 8;
  for (int side = 0; side < 2; ++side) {
    const bool right = side == 0;
    if (right ? step.child + 1 >= p->h.count : step.child == 0) continue;
    const uint32_t sib_index = right ? step.child + 1 : step.child - 1;
    Leaf* sib = reinterpret_cast<Leaf*>(
        p->child[sib_index].load(std::memory_order_relaxed));
    if (sib->h.count + kSiblingRoomMin > kLeafCapacity) continue;
    std::vector<uint32_t> all;
    all.reserve(leaf->h.count + 1 + sib->h.count);
    auto append_leaf = [&](const Leaf* l) {
      for (uint32_t i = 0; i < l->h.count; ++i) {
        all.push_back(l->ids[i].load(std::memory_order_relaxed));
      }
    };
    if (!right) append_leaf(sib);
    const size_t base = all.size();
    append_leaf(leaf);
    all.insert(all.begin() + base + pos, id);
    if (right) append_leaf(sib);
    const uint32_t left_n = static_cast<uint32_t>(all.size() / 2);
    Leaf* a = NewLeaf();
    Leaf* b = NewLeaf();
    for (uint32_t i = 0; i < left_n; ++i) {
      a->ids[i].store(all[i], std::memory_order_relaxed);
    }
    for (uint32_t i = left_n; i < all.size(); ++i) {
      b->ids[i - left_n].store(all[i], std::memory_order_relaxed);
    }
    a->h.count = left_n;
    b->h.count = static_cast<uint32_t>(all.size()) - left_n;
    TS_ASSERT(a->h.count <= kLeafCapacity && b->h.count <= kLeafCapacity);
    const uint32_t lo = right ? step.child : sib_index;
    std::vector<Node*> children;
    std::vector<std::string_view> seps;
    for (uint32_t i = 0; i < p->h.count; ++i) {
      if (i == lo) {
        children.push_back(&a->h);
      } else if (i == lo + 1) {
        children.push_back(&b->h);
      } else {
        children.push_back(p->child[i].load(std::memory_order_relaxed));
      }
      if (i + 1 < p->h.count) {
        seps.push_back(i == lo ? KeyOf(all[left_n]) : p->Sep(i));
      }
    }
    Inner* copy = NewInner(children, seps);
    Publish(path, path.size() - 1, &copy->h);
    RetireNode(&p->h, retire);
    RetireNode(&sib->h, retire);
    return true;
  }
  return false;
}

void KeyOrderTree::Insert(uint32_t id, RetireList* retire) {
  const std::string_view key = KeyOf(id);
  std::vector<PathStep> path;
  Leaf* leaf = Descend(key, &path);
  const uint32_t pos = LowerBound(leaf, key);
  const uint32_t count = leaf->h.count;
  TS_ASSERT_MSG(pos == count || KeyOf(leaf->ids[pos].load(
                                    std::memory_order_relaxed)) != key,
                "key order tree: insert of a present key");
  // The leaf's ids with `id` inserted at `pos`.
  auto id_at = [&](uint32_t i) -> uint32_t {
    if (i < pos) return leaf->ids[i].load(std::memory_order_relaxed);
    if (i == pos) return id;
    return leaf->ids[i - 1].load(std::memory_order_relaxed);
  };
  if (count < kLeafCapacity) {
    Leaf* copy = NewLeaf();
    for (uint32_t i = 0; i <= count; ++i) {
      copy->ids[i].store(id_at(i), std::memory_order_relaxed);
    }
    copy->h.count = count + 1;
    Publish(path, path.size(), &copy->h);
  } else {
    // Appending past the last key of the rightmost leaf (sequential loads)
    // keeps the old leaf full; otherwise share with a sibling, or split in
    // half.
    bool rightmost = pos == count;
    for (const PathStep& s : path) rightmost &= s.child + 1 == s.node->h.count;
    if (!rightmost && InsertByRedistributing(path, leaf, pos, id, retire)) {
      RetireNode(&leaf->h, retire);
      ++size_;
      return;
    }
    const uint32_t total = count + 1;
    const uint32_t left_n = rightmost ? count : total / 2;
    Leaf* l = NewLeaf();
    Leaf* r = NewLeaf();
    for (uint32_t i = 0; i < left_n; ++i) {
      l->ids[i].store(id_at(i), std::memory_order_relaxed);
    }
    for (uint32_t i = left_n; i < total; ++i) {
      r->ids[i - left_n].store(id_at(i), std::memory_order_relaxed);
    }
    l->h.count = left_n;
    r->h.count = total - left_n;
    const std::string_view sep =
        KeyOf(r->ids[0].load(std::memory_order_relaxed));
    InsertSplit(path, path.size(), &l->h, sep, &r->h, retire);
  }
  RetireNode(&leaf->h, retire);
  ++size_;
  TS_ASSERT(size_ > 0);
}

uint32_t KeyOrderTree::Replace(std::string_view key, uint32_t id) {
  TS_ASSERT(KeyOf(id) == key);
  std::vector<PathStep> path;
  Leaf* leaf = Descend(key, &path);
  const uint32_t pos = LowerBound(leaf, key);
  TS_ASSERT_MSG(pos < leaf->h.count && KeyOf(leaf->ids[pos].load(
                                           std::memory_order_relaxed)) == key,
                "key order tree: replace of an absent key");
  const uint32_t old = leaf->ids[pos].load(std::memory_order_relaxed);
  // seq_cst: publishes the new head record and unlinks the old one (EBR).
  leaf->ids[pos].store(id, std::memory_order_seq_cst);
  return old;
}

void KeyOrderTree::Erase(std::string_view key, RetireList* retire) {
  std::vector<PathStep> path;
  Leaf* leaf = Descend(key, &path);
  const uint32_t pos = LowerBound(leaf, key);
  const uint32_t count = leaf->h.count;
  TS_ASSERT_MSG(pos < count && KeyOf(leaf->ids[pos].load(
                                   std::memory_order_relaxed)) == key,
                "key order tree: erase of an absent key");
  if (count == 1 && !path.empty() && path.back().node->h.count > 1) {
    // Drop the emptied leaf from its parent (and the separator that bounded
    // it), so listings do not walk empty leaves.
    const PathStep& step = path.back();
    Inner* p = step.node;
    std::vector<Node*> children;
    std::vector<std::string_view> seps;
    const uint32_t drop_sep = step.child == 0 ? 0 : step.child - 1;
    for (uint32_t i = 0; i < p->h.count; ++i) {
      if (i != step.child) {
        children.push_back(p->child[i].load(std::memory_order_relaxed));
      }
      if (i + 1 < p->h.count && i != drop_sep) seps.push_back(p->Sep(i));
    }
    Inner* copy = NewInner(children, seps);
    Publish(path, path.size() - 1, &copy->h);
    RetireNode(&p->h, retire);
  } else {
    Leaf* copy = NewLeaf();
    for (uint32_t i = 0, j = 0; i < count; ++i) {
      if (i == pos) continue;
      copy->ids[j++].store(leaf->ids[i].load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
    }
    copy->h.count = count - 1;
    Publish(path, path.size(), &copy->h);
  }
  RetireNode(&leaf->h, retire);
  --size_;
}

void KeyOrderTree::BulkLoad(const std::vector<uint32_t>& ids,
                            RetireList* retire) {
  TS_ASSERT(size_ == 0);
  std::vector<Node*> level;
  std::vector<std::string_view> first_keys;  // first key of each node
  for (size_t i = 0; i < ids.size(); i += kLeafCapacity) {
    Leaf* leaf = NewLeaf();
    const size_t n = std::min<size_t>(kLeafCapacity, ids.size() - i);
    for (size_t j = 0; j < n; ++j) {
      leaf->ids[j].store(ids[i + j], std::memory_order_relaxed);
    }
    leaf->h.count = static_cast<uint32_t>(n);
    level.push_back(&leaf->h);
    first_keys.push_back(KeyOf(ids[i]));
  }
  for (size_t i = 1; i < ids.size(); ++i) {
    TS_ASSERT_MSG(KeyOf(ids[i - 1]) < KeyOf(ids[i]),
                  "key order tree: bulk load needs strictly increasing keys");
  }
  if (level.empty()) return;
  while (level.size() > 1) {
    std::vector<Node*> up;
    std::vector<std::string_view> up_first;
    for (size_t i = 0; i < level.size(); i += kInnerCapacity) {
      const size_t n = std::min<size_t>(kInnerCapacity, level.size() - i);
      std::vector<Node*> ch(level.begin() + i, level.begin() + i + n);
      std::vector<std::string_view> seps(first_keys.begin() + i + 1,
                                         first_keys.begin() + i + n);
      up.push_back(&NewInner(ch, seps)->h);
      up_first.push_back(first_keys[i]);
    }
    level.swap(up);
    first_keys.swap(up_first);
  }
  Node* old = root_.load(std::memory_order_relaxed);
  TS_ASSERT(old->is_leaf && old->count == 0);
  // seq_cst: publishes the loaded tree.
  root_.store(level[0], std::memory_order_seq_cst);
  RetireNode(old, retire);
  size_ = ids.size();
}

}  // namespace index
}  // namespace tessera
