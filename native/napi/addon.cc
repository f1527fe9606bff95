// Module entry point: creates the per-environment AddonData and lets each
// binding file register its functions.
#include <napi.h>

#include "napi/addon_data.h"
#include "napi/registry.h"

namespace tessera::napi {

AddonData* GetAddonData(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  // Set in Init before any function can be called, so never null here.
  if (data == nullptr) {
    Napi::Error::Fatal("tessera", "addon instance data missing");
  }
  return data;
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  RegisterInfo(env, exports);
  RegisterEc(env, exports);
  RegisterChecksum(env, exports);
  RegisterEngine(env, exports);
  RegisterIndex(env, exports);
  RegisterLargeBuffer(env, exports);
  return exports;
}

}  // namespace
}  // namespace tessera::napi

static Napi::Object InitTessera(Napi::Env env, Napi::Object exports) {
  return tessera::napi::Init(env, exports);
}

NODE_API_MODULE(tessera, InitTessera)
