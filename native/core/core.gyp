# Baseline-ISA code shared by every component: Status, assertions and CPU
# feature detection. Built for the architecture's baseline (no -m flags).
{
  "targets": [
    {
      "target_name": "tessera_core",
      "type": "static_library",
      "sources": ["status.cc", "cpu_features.cc"],
      "include_dirs": [".."],
      "direct_dependent_settings": {"include_dirs": [".."]},
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    }
  ]
}
