// What a drive directory and the kernel support, probed when a store opens.
#pragma once

#include <string>

#include "core/status.h"
#include "io/fs.h"

namespace tessera {
namespace io {

// The `directIO` store option.
enum class DirectIoMode {
  kRequired,  // open fails with kUnsupported where O_DIRECT is refused
  kOptional,  // use O_DIRECT where the directory supports it
  kDisabled,  // buffered I/O (still fdatasync'd at every commit)
};

// Parses 'required' | 'optional' | 'disabled'.
Status ParseDirectIoMode(const std::string& text, DirectIoMode* out);
const char* DirectIoModeName(DirectIoMode mode);

struct DirectIoProbe {
  bool supported = false;
  std::string detail;  // e.g. "open O_DIRECT: Invalid argument" on tmpfs
};

// Creates a scratch file in `dir`, opens it with O_DIRECT, writes and reads
// one aligned 4096-byte block, and removes it. Fails only when the
// directory itself is unusable (missing, read-only...); a directory that
// refuses O_DIRECT yields supported = false.
Status ProbeDirectIo(Fs* fs, const std::string& dir, DirectIoProbe* out);

// Applies a mode to a probe: whether to open files with O_DIRECT, or an
// kUnsupported error naming the directory when the mode is kRequired.
Status ResolveDirectIo(DirectIoMode mode, const std::string& dir,
                       const DirectIoProbe& probe, bool* use_direct);

}  // namespace io
}  // namespace tessera
