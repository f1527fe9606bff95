# The Node addon. Only native/napi/ talks to Node; each component folder
# under native/ has its own .gyp with static libraries (one per SIMD kernel
# where flags differ), listed below as dependencies. The same sources also
# build without Node through native/CMakeLists.txt for C++ tests.
{
  "targets": [
    {
      "target_name": "tessera",
      "sources": [
        "native/napi/addon.cc",
        "native/napi/errors.cc",
        "native/napi/info_binding.cc",
        "native/napi/ec_binding.cc",
        "native/napi/checksum_binding.cc",
        "native/napi/engine_binding.cc",
        "native/napi/index_binding.cc",
        "native/napi/large_buffer_binding.cc"
      ],
      "dependencies": [
        "native/core/core.gyp:tessera_core",
        "native/ec/ec.gyp:tessera_ec",
        "native/checksum/checksum.gyp:tessera_checksum",
        "native/io/io.gyp:tessera_io",
        "native/engine/engine.gyp:tessera_engine",
        "native/index/index.gyp:tessera_index"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        # Node-API 8 is in every Node >= 12.22; we need nothing newer.
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "TESSERA_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden"],
      "ldflags": ["-Wl,--exclude-libs,ALL"],
      "libraries": ["-ldl", "-lpthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
