// Ordered index: every key's head record id, in byte order of the key, for
// S3-style listing. A copy-on-write B+tree with a single writer.
//
// Nodes: a leaf is 512 bytes (126 record ids, 4 bytes each, plus a header); an
// inner node holds up to 64 children and copies of its separator keys. Child
// i of an inner node covers keys in [sep[i-1], sep[i]).
//
// Who may read: any thread inside an epoch ReadGuard (Seek/Next). Readers take
// no lock and never wait: they descend from the root, which is one atomic
// pointer, and every node they reach is internally consistent.
// Who may write: one writer at a time (the Index's writer mutex).
// Immutable once published: a node's shape — its count, its separators, which
// slot holds which key. Mutable in place: a leaf slot's id may change from one
// head record of key K to another head record of the same K (overwrite), and
// an inner node's child pointer may change from a node to its copy covering
// the same key range. Anything else (insert, erase, split) builds new nodes,
// publishes them with one seq_cst pointer store, and retires the old ones
// through EBR (epoch.h).
// Iteration re-descends from the root at each leaf boundary (seeking the
// separator that bounds the leaf), so readers never follow sibling links that
// a writer could leave stale.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "index/epoch.h"
#include "index/record_arena.h"

namespace tessera {
namespace index {

class KeyOrderTree {
 public:
  static constexpr uint32_t kLeafCapacity = 126;
  static constexpr uint32_t kInnerCapacity = 64;

  struct Node;
  struct Leaf;
  struct Inner;

  // A reader's position. Valid only inside the ReadGuard it was made in.
  struct Cursor {
    const Leaf* leaf = nullptr;
    uint32_t pos = 0;
    std::string_view upper;  // first key of the next subtree, if has_upper
    bool has_upper = false;
  };

  explicit KeyOrderTree(const RecordArena* arena);
  ~KeyOrderTree();
  KeyOrderTree(const KeyOrderTree&) = delete;
  KeyOrderTree& operator=(const KeyOrderTree&) = delete;

  // Readers. Seek positions at the first key >= k (inclusive) or > k;
  // returns false at the end. Next moves on; returns false at the end.
  bool Seek(std::string_view k, bool inclusive, Cursor* c) const;
  bool Next(Cursor* c) const;
  // The head record id under the cursor (seq_cst load).
  uint32_t IdAt(const Cursor& c) const;

  // Writer only.
  void Insert(uint32_t id, RetireList* retire);  // the key must be absent
  uint32_t Replace(std::string_view key, uint32_t id);  // returns the old id
  void Erase(std::string_view key, RetireList* retire);
  // Writer only, on an empty tree: ids in strictly increasing key order.
  void BulkLoad(const std::vector<uint32_t>& ids, RetireList* retire);

  uint64_t size() const { return size_; }
  uint64_t bytes() const { return bytes_; }  // node memory (writer view)

 private:
  struct PathStep {
    Inner* node;
    uint32_t child;
  };
  std::string_view KeyOf(uint32_t id) const;
  Leaf* NewLeaf();
  static void FreeNode(Node* n);
  void RetireNode(Node* n, RetireList* retire);
  Inner* NewInner(const std::vector<Node*>& children,
                  const std::vector<std::string_view>& seps);
  // Descends for `key`, filling `path`; returns the leaf.
  Leaf* Descend(std::string_view key, std::vector<PathStep>* path) const;
  uint32_t LowerBound(const Leaf* leaf, std::string_view key) const;
  // Replaces the node at path depth `depth` (the child of path[depth-1], or
  // the root when depth == 0) by `replacement`.
  void Publish(const std::vector<PathStep>& path, size_t depth,
               Node* replacement);
  // A full leaf gets `id` at `pos` by sharing entries with a sibling that
  // has room (one parent copy, no new leaf); false when neither sibling has.
  bool InsertByRedistributing(const std::vector<PathStep>& path, Leaf* leaf,
                              uint32_t pos, uint32_t id, RetireList* retire);
  // The node at `depth` split into left/sep/right: fix the parents.
  void InsertSplit(const std::vector<PathStep>& path, size_t depth, Node* left,
                   std::string_view sep, Node* right, RetireList* retire);

  const RecordArena* arena_;
  std::atomic<Node*> root_;
  uint64_t size_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace index
}  // namespace tessera
