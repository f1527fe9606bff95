// Facts about the addon itself: its version, the CPU features it detected,
// the table of status-code names (so TypeScript never hand-copies them) and
// the hook through which lib/binding.ts hands over the TesseraError class.
#include <napi.h>

#include "core/cpu_features.h"
#include "core/status.h"
#include "napi/addon_data.h"
#include "napi/errors.h"
#include "napi/registry.h"

#ifndef TESSERA_VERSION
#error "binding.gyp defines TESSERA_VERSION from package.json"
#endif

namespace tessera::napi {
namespace {

constexpr StatusCode kAllCodes[] = {
    StatusCode::kOk,
    StatusCode::kInvalidArgument,
    StatusCode::kOutOfRange,
    StatusCode::kNotFound,
    StatusCode::kPreconditionFailed,
    StatusCode::kIo,
    StatusCode::kNoSpace,
    StatusCode::kCorrupt,
    StatusCode::kQuorum,
    StatusCode::kLocked,
    StatusCode::kClosed,
    StatusCode::kUnsupported,
    StatusCode::kInternal,
    StatusCode::kChangesExpired,
};

Napi::Value SetErrorConstructor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsFunction()) {
    throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                        "setErrorConstructor expects a class");
  }
  GetAddonData(env)->error_constructor =
      Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

// Test hook: throws the error a given status code produces, so the mapping
// from native failures to JS errors is tested end to end.
Napi::Value ThrowStatusForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsString() ||
      !info[2].IsNumber()) {
    throw ArgumentError(env, "ERR_INVALID_ARG_TYPE",
                        "throwStatusForTest(code, message, errno)");
  }
  const int code = info[0].As<Napi::Number>().Int32Value();
  const int sys_errno = info[2].As<Napi::Number>().Int32Value();
  constexpr int kCount = sizeof(kAllCodes) / sizeof(kAllCodes[0]);
  if (code <= 0 || code >= kCount) {
    throw ArgumentError(
        env, "ERR_OUT_OF_RANGE",
        "status code must be in 1.." + std::to_string(kCount - 1));
  }
  throw StatusToError(
      env, Status(kAllCodes[code], info[1].As<Napi::String>().Utf8Value(),
                  sys_errno));
}

}  // namespace

void RegisterInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, TESSERA_VERSION));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  exports.Set("cpuFeatures", Napi::String::New(env, CpuFeatureSummary()));
  Napi::Array codes = Napi::Array::New(env);
  uint32_t i = 0;
  for (StatusCode code : kAllCodes) {
    codes.Set(i++, Napi::String::New(env, StatusCodeName(code)));
  }
  exports.Set("statusCodes", codes);
  exports.Set(
      "setErrorConstructor",
      Napi::Function::New(env, SetErrorConstructor, "setErrorConstructor"));
  exports.Set("throwStatusForTest", Napi::Function::New(env, ThrowStatusForTest,
                                                        "throwStatusForTest"));
}

}  // namespace tessera::napi
