# Log formats for the addon; sources mirror native/log/CMakeLists.txt.
{
  "targets": [
    {
      "target_name": "tessera_log",
      "type": "static_library",
      "sources": ["codec.cc"],
      "include_dirs": [".."],
      "direct_dependent_settings": {"include_dirs": [".."]},
      "dependencies": [
        "../core/core.gyp:tessera_core",
        "../checksum/checksum.gyp:tessera_checksum"
      ],
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    }
  ]
}
