// Degraded-write bookkeeping (issue 7): which drives missed which part of
// the log while they were down, and the log ranges of commit groups that
// failed (voids). Kept in `degraded.dat` at the root of every drive that is
// up, written durably (tmp, fdatasync, rename, fsync of the directory) and
// required on at least m+1 drives, so that losing up to m drives (the most
// parity covers) never loses it while any data it describes can still be
// read. The copy with the highest generation wins on open.
//
// Layout (little-endian):
//   magic u32 "DGRD" | version u32 | store_id[16] | generation u64 |
//   missed_count u32 | void_count u32 |
//   missed: { drive u32, start u64, end u64 } * missed_count |
//   voids:  { start u64, end u64 } * void_count |
//   crc32c u32 of everything before it
// A missed range's end is kOpenEnd while its drive is still down.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace tessera {
namespace engine {

inline constexpr uint64_t kOpenEnd = ~uint64_t{0};

struct MissedRange {
  uint32_t drive = 0;
  uint64_t start = 0;  // log address (stripe-aligned)
  uint64_t end = kOpenEnd;
};

struct DegradedState {
  uint64_t generation = 0;
  std::vector<MissedRange> missed;
  std::vector<std::pair<uint64_t, uint64_t>> voids;  // [start, end)
};

void EncodeDegraded(const DegradedState& state, const uint8_t store_id[16],
                    std::string* out);
// kCorrupt on any malformed input (never reads past `bytes`).
Status DecodeDegraded(const std::string& bytes, const uint8_t store_id[16],
                      DegradedState* out);

}  // namespace engine
}  // namespace tessera
