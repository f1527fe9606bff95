// checksums: CRC32C, CRC32 and CRC64/NVME over a Uint8Array, synchronous.
//
// Why sync: the kernels run at ~70 GB/s here (docs/BENCHMARKS.md), so 1 MiB
// takes ~15 us, less than a libuv threadpool hop (10-40 us). An async
// variant would only pay off above several MiB and would occupy a pool
// thread; callers hashing very large inputs hash them in slices with `prev`
// (lib/checksum/index.ts documents this). TypeScript validates every
// argument; the checks here only guard against a broken caller.
#include <napi.h>

#include <cstdint>

#include "checksum/crc.h"
#include "napi/errors.h"
#include "napi/registry.h"

namespace tessera::napi {
namespace {

struct Bytes {
  const uint8_t* data;
  size_t len;
};

Bytes BytesArg(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(fn) + ": data must be a Uint8Array");
  }
  const Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  return Bytes{a.Data(), a.ByteLength()};
}

uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(fn) + ": argument " + std::to_string(i) +
                            " must be a number");
  }
  return info[i].As<Napi::Number>().Uint32Value();
}

uint64_t U64Arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsBigInt()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(fn) + ": argument " + std::to_string(i) +
                            " must be a bigint");
  }
  bool lossless = false;
  const uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) {
    throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                        std::string(fn) + ": argument " + std::to_string(i) +
                            " must fit in 64 bits");
  }
  return v;
}

// Lengths come as numbers (safe integers, checked in TypeScript).
uint64_t LengthArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        std::string(fn) + ": length must be a number");
  }
  const int64_t v = info[i].As<Napi::Number>().Int64Value();
  if (v < 0) {
    throw ArgumentError(info.Env(), "ERR_OUT_OF_RANGE",
                        std::string(fn) + ": length must be >= 0");
  }
  return static_cast<uint64_t>(v);
}

Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  const Bytes b = BytesArg(info, "crc32c");
  const uint32_t prev = U32Arg(info, 1, "crc32c");
  return Napi::Number::New(info.Env(), crc32c::Extend(prev, b.data, b.len));
}

Napi::Value Crc32(const Napi::CallbackInfo& info) {
  const Bytes b = BytesArg(info, "crc32");
  const uint32_t prev = U32Arg(info, 1, "crc32");
  return Napi::Number::New(info.Env(), crc32::Extend(prev, b.data, b.len));
}

Napi::Value Crc64Nvme(const Napi::CallbackInfo& info) {
  const Bytes b = BytesArg(info, "crc64nvme");
  const uint64_t prev = U64Arg(info, 1, "crc64nvme");
  return Napi::BigInt::New(info.Env(), crc64nvme::Extend(prev, b.data, b.len));
}

Napi::Value Crc32cCombine(const Napi::CallbackInfo& info) {
  const uint32_t a = U32Arg(info, 0, "crc32cCombine");
  const uint32_t b = U32Arg(info, 1, "crc32cCombine");
  const uint64_t len = LengthArg(info, 2, "crc32cCombine");
  return Napi::Number::New(info.Env(), crc32c::Combine(a, b, len));
}

Napi::Value Crc32Combine(const Napi::CallbackInfo& info) {
  const uint32_t a = U32Arg(info, 0, "crc32Combine");
  const uint32_t b = U32Arg(info, 1, "crc32Combine");
  const uint64_t len = LengthArg(info, 2, "crc32Combine");
  return Napi::Number::New(info.Env(), crc32::Combine(a, b, len));
}

Napi::Value Crc64NvmeCombine(const Napi::CallbackInfo& info) {
  const uint64_t a = U64Arg(info, 0, "crc64nvmeCombine");
  const uint64_t b = U64Arg(info, 1, "crc64nvmeCombine");
  const uint64_t len = LengthArg(info, 2, "crc64nvmeCombine");
  return Napi::BigInt::New(info.Env(), crc64nvme::Combine(a, b, len));
}

}  // namespace

void RegisterChecksum(Napi::Env env, Napi::Object exports) {
  exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
  exports.Set("crc32", Napi::Function::New(env, Crc32, "crc32"));
  exports.Set("crc64nvme", Napi::Function::New(env, Crc64Nvme, "crc64nvme"));
  exports.Set("crc32cCombine",
              Napi::Function::New(env, Crc32cCombine, "crc32cCombine"));
  exports.Set("crc32Combine",
              Napi::Function::New(env, Crc32Combine, "crc32Combine"));
  exports.Set("crc64nvmeCombine",
              Napi::Function::New(env, Crc64NvmeCombine, "crc64nvmeCombine"));
  Napi::Object kernels = Napi::Object::New(env);
  kernels.Set("crc32c", Napi::String::New(env, crc32c::KernelName()));
  kernels.Set("crc32", Napi::String::New(env, crc32::KernelName()));
  kernels.Set("crc64nvme", Napi::String::New(env, crc64nvme::KernelName()));
  exports.Set("checksumKernels", kernels);
}

}  // namespace tessera::napi
