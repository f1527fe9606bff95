# The object engine for the addon; sources mirror native/engine/CMakeLists.txt.
{
  "targets": [
    {
      "target_name": "tessera_engine",
      "type": "static_library",
      "sources": ["engine.cc", "key_directory.cc", "md5.cc", "scrub.cc", "changes.cc", "stats.cc", "kill_points.cc", "degraded.cc", "read_cache.cc",
                  "segment_usage.cc", "compaction.cc"],
      "include_dirs": [".."],
      "direct_dependent_settings": {"include_dirs": [".."]},
      "dependencies": [
        "../core/core.gyp:tessera_core",
        "../checksum/checksum.gyp:tessera_checksum",
        "../io/io.gyp:tessera_io",
        "../ec/ec.gyp:tessera_ec",
        "../log/log.gyp:tessera_log",
        "../index/index.gyp:tessera_index"
      ],
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    }
  ]
}
