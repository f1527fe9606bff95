// Every part of the binding registers its functions on the exports object
// through one of these, called in order from addon.cc.
#pragma once

#include <napi.h>

namespace tessera::napi {

// info_binding.cc: version(), cpuFeatures, statusCodes, setErrorConstructor.
void RegisterInfo(Napi::Env env, Napi::Object exports);

// ec_binding.cc: EcCodec, ecInfo(), ecIsKnownKernel(), ecThroughput(),
// ecAutoBackend(), ecIsDetached().
void RegisterEc(Napi::Env env, Napi::Object exports);
// checksum_binding.cc: crc32c/crc32/crc64nvme, their Combine functions and
// checksumKernels.
void RegisterChecksum(Napi::Env env, Napi::Object exports);
// engine_binding.cc: engineOpen() and the NativeEngine handle.
void RegisterEngine(Napi::Env env, Napi::Object exports);
// index_binding.cc: the NativeIndex class (native/index/index.h).
void RegisterIndex(Napi::Env env, Napi::Object exports);
// large_buffer_binding.cc: largeBuffer() (huge-page bodies for large gets).
void RegisterLargeBuffer(Napi::Env env, Napi::Object exports);

}  // namespace tessera::napi
