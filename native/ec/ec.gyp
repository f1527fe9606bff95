# Erasure coding for the addon. The generic code is baseline ISA; each SIMD
# kernel is its own static library with only its own -m flags, so the addon
# loads on any CPU of its architecture and dispatch picks at run time.
# Sources mirror native/ec/CMakeLists.txt.
{
  "target_defaults": {
    "include_dirs": [".."],
    "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
    "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
    "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
  },
  "targets": [
    {
      "target_name": "tessera_ec",
      "type": "static_library",
      "sources": [
        "gf256.cc",
        "coding_matrix.cc",
        "ec_dispatch.cc",
        "ec_kernel_scalar.cc",
        "isal_library.cc",
        "reed_solomon.cc"
      ],
      "dependencies": ["../core/core.gyp:tessera_core"],
      "direct_dependent_settings": {"include_dirs": [".."]},
      "link_settings": {"libraries": ["-ldl"]},
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": [
            "tessera_ec_ssse3",
            "tessera_ec_avx2",
            "tessera_ec_avx512bw",
            "tessera_ec_gfni_avx2",
            "tessera_ec_gfni_avx512"
          ]
        }],
        ["target_arch=='arm64'", {"dependencies": ["tessera_ec_neon"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "tessera_ec_ssse3",
          "type": "static_library",
          "sources": ["ec_kernel_ssse3.cc"],
          "cflags": ["-mssse3"]
        },
        {
          "target_name": "tessera_ec_avx2",
          "type": "static_library",
          "sources": ["ec_kernel_avx2.cc"],
          "cflags": ["-mavx2"]
        },
        {
          "target_name": "tessera_ec_avx512bw",
          "type": "static_library",
          "sources": ["ec_kernel_avx512bw.cc"],
          "cflags": ["-mavx512f", "-mavx512bw", "-Wno-maybe-uninitialized"]
        },
        {
          "target_name": "tessera_ec_gfni_avx2",
          "type": "static_library",
          "sources": ["ec_kernel_gfni_avx2.cc"],
          "cflags": ["-mavx2", "-mgfni"]
        },
        {
          "target_name": "tessera_ec_gfni_avx512",
          "type": "static_library",
          "sources": ["ec_kernel_gfni_avx512.cc"],
          "cflags": ["-mavx512f", "-mavx512bw", "-mgfni",
                     "-Wno-maybe-uninitialized"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "tessera_ec_neon",
          "type": "static_library",
          "sources": ["ec_kernel_neon.cc"]
        }
      ]
    }]
  ]
}
