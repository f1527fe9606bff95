// ReedSolomonCodec: a systematic k+m Reed-Solomon code over GF(2^8) whose
// parity equals ISA-L's ec_encode_data with gf_gen_cauchy1_matrix.
//
// Thread-safety: Encode and Verify are const and may run concurrently on any
// threads; Reconstruct may too (its decode-matrix cache is locked). The
// caller validates arguments (lib/ec does, with precise errors); this class
// asserts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "core/status.h"
#include "ec/coding_matrix.h"
#include "ec/ec_kernels.h"

namespace tessera {
namespace ec {

enum class EcBackend { kBuiltin, kIsal };
const char* EcBackendName(EcBackend backend);

// Decode matrices kept per codec; one entry is about 20 KiB.
constexpr int decode_cache_entries = 32;

class ReedSolomonCodec {
 public:
  // kernel is used by kBuiltin (nullptr: the dispatched best kernel). kIsal
  // fails with kUnsupported when libisal.so.2 cannot be loaded.
  static Status Create(int k, int m, EcBackend backend, const EcKernel* kernel,
                       std::unique_ptr<ReedSolomonCodec>* out);

  int data_shards() const { return k_; }
  int parity_shards() const { return m_; }
  EcBackend backend() const { return backend_; }
  // The kernel name, or "isal" for the ISA-L backend.
  const char* kernel_name() const;

  // shards: k+m pointers of len bytes each; fills the m parity shards.
  void Encode(size_t len, uint8_t* const* shards) const;
  // Rebuilds the shards whose indexes are in `missing` (1..m distinct
  // indexes < k+m) from the others, which must hold valid data.
  void Reconstruct(size_t len, uint8_t* const* shards, const int* missing,
                   int missing_count) const;
  // True when every parity shard equals the parity of the data shards.
  bool Verify(size_t len, const uint8_t* const* shards) const;

  ~ReedSolomonCodec();

 private:
  struct DecodePlan;
  struct CacheEntry {
    uint64_t missing_mask = 0;
    uint64_t last_use = 0;
    std::shared_ptr<const DecodePlan> plan;
  };

  ReedSolomonCodec(int k, int m, EcBackend backend, const EcKernel* kernel);
  std::shared_ptr<const DecodePlan> PlanFor(uint64_t missing_mask) const;
  std::shared_ptr<const DecodePlan> BuildPlan(uint64_t missing_mask) const;
  void Run(const CodingMatrix& matrix, const uint8_t* isal_tables, size_t len,
           const uint8_t* const* src, uint8_t* const* dst) const;

  const int k_;
  const int m_;
  const EcBackend backend_;
  const EcKernel* const kernel_;  // nullptr for kIsal
  // (k+m) x k generator matrix, row-major.
  uint8_t generator_[shard_count_max * data_shards_max];
  std::unique_ptr<CodingMatrix> parity_;
  std::unique_ptr<uint8_t[]> parity_isal_tables_;  // 32*k*m, kIsal only

  mutable std::mutex cache_mutex_;
  mutable CacheEntry cache_[decode_cache_entries];  // guarded by cache_mutex_
  mutable uint64_t cache_clock_ = 0;                // guarded by cache_mutex_
};

// Encode throughput of a backend/kernel in data bytes per microsecond: best
// of a few 8+4 encodes of 1 MiB stripes, measured once per process per
// kernel (about a millisecond, more for the scalar kernel) and cached. Callers
// use it to size work (inline vs thread pool) and to choose the 'auto' backend.
// kernel is ignored for kIsal; nullptr means the best kernel. Returns 0 for
// kIsal when libisal is absent.
double EncodeBytesPerMicrosecond(EcBackend backend, const EcKernel* kernel);

// The backend 'auto' resolves to, decided once per process: kIsal only when
// libisal loads and encodes at least 5% faster than the best builtin kernel
// (EncodeBytesPerMicrosecond of each).
EcBackend AutoBackend();

}  // namespace ec
}  // namespace tessera
