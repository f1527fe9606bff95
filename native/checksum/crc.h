// CRC32C, CRC32 and CRC64/NVME: the checksums tessera computes on every
// stored byte (CRC32C) and the ones S3 clients send in x-amz-checksum-*
// headers (CRC32, CRC32C, CRC64NVME).
//
// All three are reflected CRCs with init and xorout all ones, so one API
// shape fits them all:
//   Extend(crc, data, len)   the CRC of (prefix || data), where `crc` is the
//                            CRC of the prefix; Extend(0, data, len) is the
//                            CRC of data alone (same as zlib's crc32(crc,..)).
//   Combine(a, b, len_b)     the CRC of (A || B) from a = CRC(A), b = CRC(B)
//                            and the length of B, in O(log len_b) time.
//                            Used for multipart composite checksums and for
//                            hashing pieces of one buffer in parallel.
//
// The fastest kernel the CPU supports is chosen once, at the first call
// (thread-safe static initialization), using core/cpu_features.h. Every
// function here is thread-safe and allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera {
namespace crc32c {
// Castagnoli, polynomial 0x1EDC6F41 (reflected 0x82F63B78).
// Check value: Extend(0, "123456789", 9) == 0xE3069283.
uint32_t Extend(uint32_t crc, const void* data, size_t len);
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
const char* KernelName();  // e.g. "vpclmul-avx512", "sse42-3way", "table"
}  // namespace crc32c

namespace crc32 {
// IEEE 802.3 / gzip / zlib, polynomial 0x04C11DB7 (reflected 0xEDB88320).
// Check value: Extend(0, "123456789", 9) == 0xCBF43926.
uint32_t Extend(uint32_t crc, const void* data, size_t len);
uint32_t Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
const char* KernelName();
}  // namespace crc32

namespace crc64nvme {
// CRC-64/NVME, polynomial 0xAD93D23594C93659 (reflected 0x9A6C9329AC4BC9B5).
// Check value: Extend(0, "123456789", 9) == 0xAE8B14860A799888.
uint64_t Extend(uint64_t crc, const void* data, size_t len);
uint64_t Combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);
const char* KernelName();
}  // namespace crc64nvme
}  // namespace tessera
