# CRC32C / CRC32 / CRC64-NVME for the addon. The generic code (reference
# tables, Combine, dispatch) is baseline ISA; each instruction set's kernels
# are a separate static library with only their own -m flags, so the addon
# loads on any CPU of its architecture. Sources mirror CMakeLists.txt.
{
  "target_defaults": {
    "include_dirs": [".."],
    "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
    "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
    "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
  },
  "targets": [
    {
      "target_name": "tessera_checksum",
      "type": "static_library",
      "sources": ["crc.cc", "crc_reference.cc"],
      "dependencies": ["../core/core.gyp:tessera_core"],
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": ["tessera_checksum_sse42", "tessera_checksum_avx512"]
        }],
        ["target_arch=='arm64'", {
          "dependencies": ["tessera_checksum_arm64",
                           "tessera_checksum_arm64_pmull"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "tessera_checksum_sse42",
          "type": "static_library",
          "sources": ["crc32c_sse42.cc", "crc_fold_pclmul.cc"],
          "cflags": ["-msse4.2", "-mpclmul"]
        },
        {
          "target_name": "tessera_checksum_avx512",
          "type": "static_library",
          "sources": ["crc_fold_vpclmul.cc"],
          "cflags": ["-msse4.2", "-mpclmul", "-mavx512f", "-mavx512bw",
                     "-mavx512vl", "-mvpclmulqdq"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "tessera_checksum_arm64",
          "type": "static_library",
          "sources": ["crc_arm64.cc"],
          "cflags": ["-march=armv8-a+crc"]
        },
        {
          "target_name": "tessera_checksum_arm64_pmull",
          "type": "static_library",
          "sources": ["crc_fold_pmull.cc"],
          "cflags": ["-march=armv8-a+crc+crypto"]
        }
      ]
    }]
  ]
}
