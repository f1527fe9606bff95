// Per-environment state of the addon (one per Node main thread or worker).
//
// Stored with napi_set_instance_data so that worker_threads loading the
// addon each get their own references; nothing here is process-global.
#pragma once

#include <napi.h>

namespace tessera::napi {

struct AddonData {
  // TesseraError from lib/errors.ts, registered by lib/binding.ts at load.
  // Empty until then; errors.cc falls back to a plain Error with .code.
  Napi::FunctionReference error_constructor;
  // NativeEngine from engine_binding.cc, for handles made by engineOpen.
  Napi::FunctionReference engine_constructor;
};

// The AddonData of this environment; never null after module init.
AddonData* GetAddonData(Napi::Env env);

}  // namespace tessera::napi
