# The I/O layer for the addon: aligned buffers, the Fs interface and its
# POSIX, power-loss and error-injecting implementations, probes, io_uring on
# raw system calls, and the group-commit IoEngine. Sources mirror
# CMakeLists.txt (tests and benchmarks are CMake-only).
{
  "targets": [
    {
      "target_name": "tessera_io",
      "type": "static_library",
      "sources": [
        "aligned_buffer.cc",
        "posix_fs.cc",
        "crash_fs.cc",
        "fault_fs.cc",
        "probe.cc",
        "uring.cc",
        "task_pool.cc",
        "io_engine.cc"
      ],
      "include_dirs": [".."],
      "dependencies": [
        "../core/core.gyp:tessera_core",
        "../checksum/checksum.gyp:tessera_checksum"
      ],
      "cflags": ["-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++17"}
    }
  ]
}
