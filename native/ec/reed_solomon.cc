#include "ec/reed_solomon.h"

#include <chrono>
#include <cstring>
#include <vector>

#include "core/ts_assert.h"
#include "ec/gf256.h"
#include "ec/isal_library.h"

namespace tessera {
namespace ec {

static_assert(shard_count_max <= 64, "erasure patterns are 64-bit masks");

struct ReedSolomonCodec::DecodePlan {
  int survivors[data_shards_max];  // the k shards read, ascending
  int outputs[parity_shards_max];  // the shards rebuilt, ascending
  CodingMatrix matrix;             // outputs x k
  std::unique_ptr<uint8_t[]> isal_tables;
};

const char* EcBackendName(EcBackend backend) {
  return backend == EcBackend::kIsal ? "isal" : "builtin";
}

Status ReedSolomonCodec::Create(int k, int m, EcBackend backend,
                                const EcKernel* kernel,
                                std::unique_ptr<ReedSolomonCodec>* out) {
  TS_ASSERT(k >= 1 && k <= data_shards_max);
  TS_ASSERT(m >= 1 && m <= parity_shards_max);
  TS_ASSERT(out != nullptr);
  if (backend == EcBackend::kIsal) {
    if (LoadIsal() == nullptr) {
      return Status(
          StatusCode::kUnsupported,
          std::string("ISA-L backend unavailable: ") + IsalUnavailableReason());
    }
    kernel = nullptr;
  } else if (kernel == nullptr) {
    kernel = BestKernel();
  }
  out->reset(new ReedSolomonCodec(k, m, backend, kernel));
  return Status::Ok();
}

ReedSolomonCodec::ReedSolomonCodec(int k, int m, EcBackend backend,
                                   const EcKernel* kernel)
    : k_(k), m_(m), backend_(backend), kernel_(kernel) {
  GenerateCauchyMatrix(k, m, generator_);
  parity_.reset(new CodingMatrix());
  PrepareCodingMatrix(generator_ + k * k, m, k, parity_.get());
  if (backend == EcBackend::kIsal) {
    parity_isal_tables_.reset(new uint8_t[32 * k * m]);
    LoadIsal()->ec_init_tables(k, m, generator_ + k * k,
                               parity_isal_tables_.get());
  }
  TS_ASSERT((backend == EcBackend::kIsal) == (kernel == nullptr));
}

ReedSolomonCodec::~ReedSolomonCodec() = default;

const char* ReedSolomonCodec::kernel_name() const {
  return kernel_ != nullptr ? kernel_->name : "isal";
}

void ReedSolomonCodec::Run(const CodingMatrix& matrix,
                           const uint8_t* isal_tables, size_t len,
                           const uint8_t* const* src,
                           uint8_t* const* dst) const {
  TS_ASSERT(len <= shard_bytes_max);
  if (kernel_ != nullptr) {
    kernel_->encode(len, matrix, src, dst);
    return;
  }
  TS_ASSERT(isal_tables != nullptr);
  // ISA-L's API is not const-correct; it only reads data and gftbls.
  LoadIsal()->ec_encode_data(static_cast<int>(len), matrix.k, matrix.rows,
                             const_cast<uint8_t*>(isal_tables),
                             const_cast<uint8_t**>(src),
                             const_cast<uint8_t**>(dst));
}

void ReedSolomonCodec::Encode(size_t len, uint8_t* const* shards) const {
  TS_ASSERT(shards != nullptr);
  TS_ASSERT(len <= shard_bytes_max);
  Run(*parity_, parity_isal_tables_.get(), len, shards, shards + k_);
}

bool ReedSolomonCodec::Verify(size_t len, const uint8_t* const* shards) const {
  TS_ASSERT(shards != nullptr);
  TS_ASSERT(len <= shard_bytes_max);
  // Recompute parity a block at a time into the stack, so verifying needs
  // no allocation and never writes the caller's buffers.
  constexpr size_t block_bytes = 1024;
  uint8_t scratch[parity_shards_max][block_bytes];
  const uint8_t* src[data_shards_max];
  uint8_t* dst[parity_shards_max];
  for (int r = 0; r < m_; ++r) dst[r] = scratch[r];
  for (size_t off = 0; off < len; off += block_bytes) {
    const size_t n = len - off < block_bytes ? len - off : block_bytes;
    for (int j = 0; j < k_; ++j) src[j] = shards[j] + off;
    Run(*parity_, parity_isal_tables_.get(), n, src, dst);
    for (int r = 0; r < m_; ++r) {
      if (std::memcmp(scratch[r], shards[k_ + r] + off, n) != 0) return false;
    }
  }
  return true;
}

std::shared_ptr<const ReedSolomonCodec::DecodePlan> ReedSolomonCodec::BuildPlan(
    uint64_t missing_mask) const {
  auto plan = std::make_shared<DecodePlan>();
  int survivors = 0;
  int outputs = 0;
  for (int i = 0; i < k_ + m_; ++i) {
    if ((missing_mask >> i) & 1) {
      plan->outputs[outputs++] = i;
    } else if (survivors < k_) {
      plan->survivors[survivors++] = i;
    }
  }
  TS_ASSERT(survivors == k_ && outputs >= 1 && outputs <= m_);
  // B: the generator rows of the survivors; data = B^-1 * survivors.
  uint8_t b[data_shards_max * data_shards_max];
  uint8_t b_inv[data_shards_max * data_shards_max];
  for (int r = 0; r < k_; ++r) {
    std::memcpy(b + r * k_, generator_ + plan->survivors[r] * k_, k_);
  }
  const bool invertible = InvertMatrix(b, b_inv, k_);
  TS_ASSERT_MSG(invertible, "Cauchy submatrix must be invertible");
  // A lost data shard d is row d of B^-1; a lost parity shard p is
  // generator row p times B^-1 (parity recomputed from rebuilt data).
  uint8_t rows[parity_shards_max * data_shards_max];
  for (int o = 0; o < outputs; ++o) {
    const int shard = plan->outputs[o];
    uint8_t* row = rows + o * k_;
    if (shard < k_) {
      std::memcpy(row, b_inv + shard * k_, k_);
      continue;
    }
    const uint8_t* g = generator_ + shard * k_;
    for (int j = 0; j < k_; ++j) {
      uint8_t acc = 0;
      for (int t = 0; t < k_; ++t) acc ^= GfMul(g[t], b_inv[t * k_ + j]);
      row[j] = acc;
    }
  }
  PrepareCodingMatrix(rows, outputs, k_, &plan->matrix);
  if (backend_ == EcBackend::kIsal) {
    plan->isal_tables.reset(new uint8_t[32 * k_ * outputs]);
    LoadIsal()->ec_init_tables(k_, outputs, rows, plan->isal_tables.get());
  }
  return plan;
}

std::shared_ptr<const ReedSolomonCodec::DecodePlan> ReedSolomonCodec::PlanFor(
    uint64_t missing_mask) const {
  TS_ASSERT(missing_mask != 0);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    for (CacheEntry& entry : cache_) {
      if (entry.plan != nullptr && entry.missing_mask == missing_mask) {
        entry.last_use = ++cache_clock_;
        return entry.plan;
      }
    }
  }
  // Built outside the lock: two threads may build the same plan at once,
  // which is harmless (identical results) and keeps the lock short.
  std::shared_ptr<const DecodePlan> plan = BuildPlan(missing_mask);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  CacheEntry* victim = &cache_[0];
  for (CacheEntry& entry : cache_) {
    if (entry.plan != nullptr && entry.missing_mask == missing_mask) {
      return entry.plan;
    }
    if (entry.last_use < victim->last_use) victim = &entry;
  }
  victim->missing_mask = missing_mask;
  victim->last_use = ++cache_clock_;
  victim->plan = plan;
  return plan;
}

void ReedSolomonCodec::Reconstruct(size_t len, uint8_t* const* shards,
                                   const int* missing,
                                   int missing_count) const {
  TS_ASSERT(shards != nullptr && missing != nullptr);
  TS_ASSERT(missing_count >= 1 && missing_count <= m_);
  uint64_t mask = 0;
  for (int i = 0; i < missing_count; ++i) {
    TS_ASSERT(missing[i] >= 0 && missing[i] < k_ + m_);
    TS_ASSERT(((mask >> missing[i]) & 1) == 0);
    mask |= uint64_t{1} << missing[i];
  }
  const std::shared_ptr<const DecodePlan> plan = PlanFor(mask);
  const uint8_t* src[data_shards_max];
  uint8_t* dst[parity_shards_max];
  for (int j = 0; j < k_; ++j) src[j] = shards[plan->survivors[j]];
  for (int o = 0; o < missing_count; ++o) dst[o] = shards[plan->outputs[o]];
  Run(plan->matrix, plan->isal_tables.get(), len, src, dst);
}

namespace {

double Measure(const ReedSolomonCodec& codec) {
  // 8+4 with 1 MiB of data: the stripe size tessera writes, so the figure
  // reflects cache-warm (L2/L3) work rather than an L1-resident best case.
  constexpr int k = 8, m = 4;
  constexpr size_t shard_bytes = 128 * 1024;
  std::vector<uint8_t> memory((k + m) * shard_bytes);
  for (size_t i = 0; i < memory.size(); ++i) {
    memory[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  }
  uint8_t* shards[k + m];
  for (int i = 0; i < k + m; ++i) shards[i] = memory.data() + i * shard_bytes;
  using Clock = std::chrono::steady_clock;
  codec.Encode(shard_bytes, shards);  // warm caches and tables
  double best_us = 1e300;
  for (int round = 0; round < 5; ++round) {
    const auto start = Clock::now();
    for (int rep = 0; rep < 4; ++rep) codec.Encode(shard_bytes, shards);
    const double us =
        std::chrono::duration<double, std::micro>(Clock::now() - start)
            .count() /
        4;
    if (us < best_us) best_us = us;
  }
  TS_ASSERT(best_us > 0);
  return static_cast<double>(k * shard_bytes) / best_us;
}

struct ThroughputCache {
  std::mutex mutex;
  const EcKernel* kernels[16] = {};  // nullptr entry = ISA-L
  double values[16] = {};
  int count = 0;
};

}  // namespace

double EncodeBytesPerMicrosecond(EcBackend backend, const EcKernel* kernel) {
  if (backend == EcBackend::kIsal) {
    kernel = nullptr;
    if (LoadIsal() == nullptr) return 0;
  } else if (kernel == nullptr) {
    kernel = BestKernel();
  }
  static ThroughputCache cache;
  std::lock_guard<std::mutex> lock(cache.mutex);
  for (int i = 0; i < cache.count; ++i) {
    if (cache.kernels[i] == kernel) return cache.values[i];
  }
  std::unique_ptr<ReedSolomonCodec> codec;
  const Status s = ReedSolomonCodec::Create(8, 4, backend, kernel, &codec);
  TS_ASSERT(s.ok());
  const double value = Measure(*codec);
  TS_ASSERT(cache.count < 16);
  cache.kernels[cache.count] = kernel;
  cache.values[cache.count] = value;
  ++cache.count;
  return value;
}

EcBackend AutoBackend() {
  static const EcBackend chosen = [] {
    const double isal = EncodeBytesPerMicrosecond(EcBackend::kIsal, nullptr);
    const double builtin =
        EncodeBytesPerMicrosecond(EcBackend::kBuiltin, nullptr);
    return isal > builtin * 1.05 ? EcBackend::kIsal : EcBackend::kBuiltin;
  }();
  return chosen;
}

}  // namespace ec
}  // namespace tessera
