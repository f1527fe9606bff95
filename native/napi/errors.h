// The one place where a native Status becomes a JavaScript error.
//
// The error is a TesseraError (when lib/binding.ts has registered it) with
// `.code` = StatusCodeName(status.code()) and, for system-call failures,
// `.errno` and `.syscallError` (the errno name). Nobody matches on messages.
#pragma once

#include <napi.h>

#include "core/status.h"

namespace tessera::napi {

// Builds the JS error object for a non-OK status (JS thread only).
Napi::Error StatusToError(Napi::Env env, const Status& status);

// Builds a TesseraError for argument problems found in the napi layer
// itself (wrong types that TypeScript validation should have caught).
Napi::Error ArgumentError(Napi::Env env, const char* code,
                          const std::string& message);

}  // namespace tessera::napi
