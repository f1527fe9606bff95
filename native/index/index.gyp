# The native index: hash table, key-order tree, records, EBR, snapshots.
# Baseline ISA; snapshot checksums come from native/checksum (CRC32C).
{
  "targets": [
    {
      "target_name": "tessera_index",
      "type": "static_library",
      "sources": [
        "epoch.cc", "record_arena.cc", "hash_table.cc", "key_order_tree.cc",
        "index.cc", "snapshot.cc"
      ],
      "dependencies": ["../core/core.gyp:tessera_core",
                       "../checksum/checksum.gyp:tessera_checksum"],
      "include_dirs": [".."],
      "direct_dependent_settings": {"include_dirs": [".."]},
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    }
  ]
}
