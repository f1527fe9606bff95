# The native index: hash table, key-order tree, records, EBR, snapshots.
# Generic code is baseline ISA; the SSE4.2 CRC32C is its own target.
{
  "targets": [
    {
      "target_name": "tessera_index",
      "type": "static_library",
      "sources": [
        "epoch.cc", "record_arena.cc", "hash_table.cc", "key_order_tree.cc",
        "index.cc", "snapshot.cc", "crc32c.cc"
      ],
      "dependencies": ["../core/core.gyp:tessera_core", "tessera_index_sse42"],
      "include_dirs": [".."],
      "direct_dependent_settings": {"include_dirs": [".."]},
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    },
    {
      "target_name": "tessera_index_sse42",
      "type": "static_library",
      "sources": ["crc32c_sse42.cc"],
      "include_dirs": [".."],
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra", "-msse4.2"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    }
  ]
}
