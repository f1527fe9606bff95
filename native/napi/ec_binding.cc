// The erasure-coding binding: the EcCodec class behind lib/ec/reed_solomon.ts
// and the facts TypeScript needs (limits, kernels, ISA-L availability).
//
// TypeScript validates every argument with precise errors; the checks here
// only keep a wrong call from crashing the process (they throw a plain
// argument error). Shards are the caller's memory: nothing is copied, and
// async calls pin every shard (plus the codec) until the promise settles.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "core/ts_assert.h"
#include "ec/ec_kernels.h"
#include "ec/isal_library.h"
#include "ec/reed_solomon.h"
#include "napi/errors.h"
#include "napi/promise_worker.h"
#include "napi/registry.h"

namespace tessera::napi {
namespace {

using ec::EcBackend;
using ec::ReedSolomonCodec;

Napi::Error BadArgument(Napi::Env env, const std::string& message) {
  return ArgumentError(env, "ERR_INVALID_ARG_VALUE", message);
}

// Reads `count` equal-length Uint8Arrays from `value` (a JS array) into
// `ptrs`; returns their common length. Optionally appends each to `keep`.
// This runs once per shard on every call, so it uses the C API directly:
// one napi_get_element and one napi_get_typedarray_info per shard (the
// node-addon-api wrappers make three or four calls for the same facts).
size_t ReadStripe(Napi::Env env, Napi::Value value, int count, uint8_t** ptrs,
                  Napi::Array* keep, uint32_t* keep_index) {
  if (!value.IsArray()) throw BadArgument(env, "a stripe must be an array");
  uint32_t array_length = 0;
  napi_status status = napi_get_array_length(env, value, &array_length);
  if (status != napi_ok || array_length != static_cast<uint32_t>(count)) {
    throw BadArgument(env, "wrong shard count");
  }
  size_t len = 0;
  for (int i = 0; i < count; ++i) {
    napi_value shard = nullptr;
    status = napi_get_element(env, value, static_cast<uint32_t>(i), &shard);
    if (status != napi_ok) throw Napi::Error::New(env);
    napi_typedarray_type type = napi_int8_array;
    size_t n = 0;
    void* data = nullptr;
    // Fails with napi_invalid_arg (and no pending exception) when the value
    // is not a typed array; `data` already includes the view's byte offset.
    status = napi_get_typedarray_info(env, shard, &type, &n, &data, nullptr,
                                      nullptr);
    if (status != napi_ok || type != napi_uint8_array) {
      throw BadArgument(env, "a shard must be a Uint8Array");
    }
    if (i == 0) len = n;
    if (n != len || n == 0 || n > ec::shard_bytes_max || data == nullptr) {
      throw BadArgument(env, "shards must be non-empty and of equal length");
    }
    ptrs[i] = static_cast<uint8_t*>(data);
    if (keep != nullptr) keep->Set((*keep_index)++, Napi::Value(env, shard));
  }
  TS_ASSERT(count == 0 || len > 0);
  return len;
}

// Reads the `missing` index array, checked against the codec's shape.
int ReadMissing(Napi::Env env, Napi::Value value, const ReedSolomonCodec& c,
                int* missing) {
  if (!value.IsArray()) throw BadArgument(env, "missing must be an array");
  Napi::Array array = value.As<Napi::Array>();
  const uint32_t count = array.Length();
  if (count < 1 || count > static_cast<uint32_t>(c.parity_shards())) {
    throw BadArgument(env, "missing must list 1..m shards");
  }
  uint64_t seen = 0;
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value index = array.Get(i);
    const int n = index.IsNumber() ? index.As<Napi::Number>().Int32Value() : -1;
    if (n < 0 || n >= c.data_shards() + c.parity_shards() ||
        ((seen >> n) & 1) != 0) {
      throw BadArgument(env, "missing indexes must be distinct shard indexes");
    }
    seen |= uint64_t{1} << n;
    missing[i] = n;
  }
  return static_cast<int>(count);
}

// One async job: encode or reconstruct one or many stripes.
class CodingWorker : public PromiseWorker {
 public:
  CodingWorker(Napi::Env env, const ReedSolomonCodec* codec)
      : PromiseWorker(env, "tessera:ec"), codec_(codec) {}

  std::vector<uint8_t*> ptrs;  // stripes * (k+m)
  std::vector<size_t> lens;    // per stripe
  int missing[ec::parity_shards_max] = {};
  int missing_count = 0;  // 0: encode

 protected:
  Status Run() override {
    const size_t n = codec_->data_shards() + codec_->parity_shards();
    TS_ASSERT(ptrs.size() == lens.size() * n);
    for (size_t s = 0; s < lens.size(); ++s) {
      if (missing_count == 0) {
        codec_->Encode(lens[s], &ptrs[s * n]);
      } else {
        codec_->Reconstruct(lens[s], &ptrs[s * n], missing, missing_count);
      }
    }
    return Status::Ok();
  }

 private:
  const ReedSolomonCodec* codec_;
};

class EcCodec : public Napi::ObjectWrap<EcCodec> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "EcCodec",
        {
            InstanceAccessor<&EcCodec::Kernel>("kernel"),
            InstanceMethod<&EcCodec::EncodeSync>("encodeSync"),
            InstanceMethod<&EcCodec::Encode>("encode"),
            InstanceMethod<&EcCodec::ReconstructSync>("reconstructSync"),
            InstanceMethod<&EcCodec::Reconstruct>("reconstruct"),
            InstanceMethod<&EcCodec::Verify>("verify"),
            InstanceMethod<&EcCodec::EncodeManySync>("encodeManySync"),
            InstanceMethod<&EcCodec::EncodeMany>("encodeMany"),
        });
  }

  // new EcCodec(k, m, backend: 'builtin' | 'isal', kernel: string | '')
  explicit EcCodec(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<EcCodec>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 4 || !info[0].IsNumber() || !info[1].IsNumber() ||
        !info[2].IsString() || !info[3].IsString()) {
      throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                          "EcCodec(k, m, backend, kernel)");
    }
    const int k = info[0].As<Napi::Number>().Int32Value();
    const int m = info[1].As<Napi::Number>().Int32Value();
    if (k < 1 || k > ec::data_shards_max || m < 1 ||
        m > ec::parity_shards_max) {
      throw ArgumentError(env, "ERR_OUT_OF_RANGE", "k or m out of range");
    }
    const std::string backend = info[2].As<Napi::String>().Utf8Value();
    const std::string kernel_name = info[3].As<Napi::String>().Utf8Value();
    const ec::EcKernel* kernel = nullptr;
    if (!kernel_name.empty()) {
      kernel = ec::FindUsableKernel(kernel_name.c_str());
      if (kernel == nullptr) throw BadArgument(env, "kernel not usable");
    }
    if (backend != "builtin" && backend != "isal") {
      throw BadArgument(env, "backend must be 'builtin' or 'isal'");
    }
    const Status s = ReedSolomonCodec::Create(
        k, m, backend == "isal" ? EcBackend::kIsal : EcBackend::kBuiltin,
        kernel, &codec_);
    if (!s.ok()) throw StatusToError(env, s);
  }

 private:
  int shard_count() const {
    return codec_->data_shards() + codec_->parity_shards();
  }

  Napi::Value Kernel(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), codec_->kernel_name());
  }

  Napi::Value EncodeSync(const Napi::CallbackInfo& info) {
    uint8_t* ptrs[ec::shard_count_max];
    const size_t len =
        ReadStripe(info.Env(), info[0], shard_count(), ptrs, nullptr, nullptr);
    codec_->Encode(len, ptrs);
    return info.Env().Undefined();
  }

  Napi::Value ReconstructSync(const Napi::CallbackInfo& info) {
    uint8_t* ptrs[ec::shard_count_max];
    int missing[ec::parity_shards_max];
    const size_t len =
        ReadStripe(info.Env(), info[0], shard_count(), ptrs, nullptr, nullptr);
    const int count = ReadMissing(info.Env(), info[1], *codec_, missing);
    codec_->Reconstruct(len, ptrs, missing, count);
    return info.Env().Undefined();
  }

  Napi::Value Verify(const Napi::CallbackInfo& info) {
    uint8_t* ptrs[ec::shard_count_max];
    const size_t len =
        ReadStripe(info.Env(), info[0], shard_count(), ptrs, nullptr, nullptr);
    return Napi::Boolean::New(info.Env(), codec_->Verify(len, ptrs));
  }

  Napi::Value EncodeManySync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw BadArgument(env, "stripes must be an array");
    Napi::Array stripes = info[0].As<Napi::Array>();
    uint8_t* ptrs[ec::shard_count_max];
    for (uint32_t s = 0; s < stripes.Length(); ++s) {
      const size_t len = ReadStripe(env, stripes.Get(s), shard_count(), ptrs,
                                    nullptr, nullptr);
      codec_->Encode(len, ptrs);
    }
    return env.Undefined();
  }

  // Builds a worker over `stripe_count` stripes read by `read(i, ptrs,
  // keep, index)`, pinning every shard and this codec in one private array.
  Napi::Value Queue(const Napi::CallbackInfo& info, Napi::Array stripes,
                    bool single, int missing_from_arg) {
    Napi::Env env = info.Env();
    const int n = shard_count();
    const uint32_t stripe_count = single ? 1 : stripes.Length();
    auto* worker = new CodingWorker(env, codec_.get());
    try {
      Napi::Array keep = Napi::Array::New(env, stripe_count * n + 1);
      uint32_t keep_index = 0;
      keep.Set(keep_index++, info.This());
      worker->ptrs.resize(static_cast<size_t>(stripe_count) * n);
      worker->lens.resize(stripe_count);
      for (uint32_t s = 0; s < stripe_count; ++s) {
        Napi::Value stripe = single ? info[0] : stripes.Get(s);
        worker->lens[s] = ReadStripe(env, stripe, n, &worker->ptrs[s * n],
                                     &keep, &keep_index);
      }
      if (missing_from_arg >= 0) {
        worker->missing_count =
            ReadMissing(env, info[missing_from_arg], *codec_, worker->missing);
      }
      worker->Keep(keep);
    } catch (...) {
      delete worker;
      throw;
    }
    return worker->QueueAndPromise();
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    return Queue(info, Napi::Array(), true, -1);
  }

  Napi::Value Reconstruct(const Napi::CallbackInfo& info) {
    return Queue(info, Napi::Array(), true, 1);
  }

  Napi::Value EncodeMany(const Napi::CallbackInfo& info) {
    if (!info[0].IsArray()) {
      throw BadArgument(info.Env(), "stripes must be an array");
    }
    return Queue(info, info[0].As<Napi::Array>(), false, -1);
  }

  std::unique_ptr<ReedSolomonCodec> codec_;
};

Napi::Value EcInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("dataShardsMax", ec::data_shards_max);
  out.Set("parityShardsMax", ec::parity_shards_max);
  out.Set("shardCountMax", ec::shard_count_max);
  out.Set("shardBytesMax", static_cast<double>(ec::shard_bytes_max));
  Napi::Array kernels = Napi::Array::New(env);
  for (int i = 0; i < ec::UsableKernelCount(); ++i) {
    kernels.Set(static_cast<uint32_t>(i), ec::UsableKernel(i)->name);
  }
  out.Set("kernels", kernels);
  const ec::IsalLibrary* isal = ec::LoadIsal();
  out.Set("isalAvailable", isal != nullptr);
  out.Set("isalReason", ec::IsalUnavailableReason());
  out.Set("isalGfni", isal != nullptr && isal->has_gfni);
  return out;
}

Napi::Value EcIsKnownKernel(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsString()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        "ecIsKnownKernel(name)");
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), ec::IsKnownKernelName(name.c_str()));
}

// ('builtin' | 'isal', kernel name or '') -> data bytes per microsecond.
Napi::Value EcThroughput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsString()) {
    throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                        "ecThroughput(backend, kernel)");
  }
  const bool isal = info[0].As<Napi::String>().Utf8Value() == "isal";
  const std::string name = info[1].As<Napi::String>().Utf8Value();
  const ec::EcKernel* kernel =
      name.empty() ? nullptr : ec::FindUsableKernel(name.c_str());
  return Napi::Number::New(
      env, ec::EncodeBytesPerMicrosecond(
               isal ? EcBackend::kIsal : EcBackend::kBuiltin, kernel));
}

Napi::Value EcAutoBackend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ec::EcBackendName(ec::AutoBackend()));
}

Napi::Value EcIsDetached(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsArrayBuffer()) {
    throw ArgumentError(info.Env(), "ERR_INVALID_ARG_TYPE",
                        "ecIsDetached(arrayBuffer)");
  }
  return Napi::Boolean::New(info.Env(),
                            info[0].As<Napi::ArrayBuffer>().IsDetached());
}

}  // namespace

void RegisterEc(Napi::Env env, Napi::Object exports) {
  exports.Set("EcCodec", EcCodec::Define(env));
  exports.Set("ecInfo", Napi::Function::New(env, EcInfo, "ecInfo"));
  exports.Set("ecIsKnownKernel",
              Napi::Function::New(env, EcIsKnownKernel, "ecIsKnownKernel"));
  exports.Set("ecThroughput",
              Napi::Function::New(env, EcThroughput, "ecThroughput"));
  exports.Set("ecAutoBackend",
              Napi::Function::New(env, EcAutoBackend, "ecAutoBackend"));
  exports.Set("ecIsDetached",
              Napi::Function::New(env, EcIsDetached, "ecIsDetached"));
}

}  // namespace tessera::napi
