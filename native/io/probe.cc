#include "io/probe.h"

#include <unistd.h>

#include <cstring>

#include "core/ts_assert.h"
#include "io/aligned_buffer.h"

namespace tessera {
namespace io {

Status ParseDirectIoMode(const std::string& text, DirectIoMode* out) {
  TS_ASSERT(out != nullptr);
  if (text == "required") {
    *out = DirectIoMode::kRequired;
  } else if (text == "optional") {
    *out = DirectIoMode::kOptional;
  } else if (text == "disabled") {
    *out = DirectIoMode::kDisabled;
  } else {
    return Status(StatusCode::kInvalidArgument,
                  "directIO must be 'required', 'optional' or 'disabled', "
                  "got '" +
                      text + "'");
  }
  return Status::Ok();
}

const char* DirectIoModeName(DirectIoMode mode) {
  switch (mode) {
    case DirectIoMode::kRequired:
      return "required";
    case DirectIoMode::kOptional:
      return "optional";
    case DirectIoMode::kDisabled:
      return "disabled";
  }
  return "unknown";
}

Status ProbeDirectIo(Fs* fs, const std::string& dir, DirectIoProbe* out) {
  TS_ASSERT(fs != nullptr && out != nullptr);
  TS_ASSERT(!dir.empty());
  const std::string path =
      dir + "/.tessera-direct-probe-" + std::to_string(::getpid());
  int fd = -1;
  // The directory must be writable at all; that error is the caller's.
  TS_RETURN_IF_ERROR(fs->Open(path, kOpenWrite | kOpenCreate, &fd));
  TS_RETURN_IF_ERROR(fs->Close(fd));
  AlignedBuffer block;
  Status s = AlignedBuffer::Allocate(kIoAlignment, &block);
  if (s.ok()) {
    std::memset(block.data(), 0x5a, block.size());
    s = fs->Open(path, kOpenWrite | kOpenDirect, &fd);
    if (s.ok()) {
      s = fs->Pwrite(fd, block.data(), block.size(), 0);
      size_t got = 0;
      if (s.ok()) s = fs->Pread(fd, block.data(), block.size(), 0, &got);
      if (s.ok() && got != block.size()) {
        s = Status(StatusCode::kIo, "O_DIRECT read returned a short block");
      }
      const Status closed = fs->Close(fd);
      if (s.ok()) s = closed;
    }
  }
  const Status removed = fs->Unlink(path);
  if (s.code() == StatusCode::kNoSpace) return s;
  out->supported = s.ok();
  out->detail = s.ok() ? "O_DIRECT works in " + dir : s.message();
  TS_RETURN_IF_ERROR(removed);
  return Status::Ok();
}

Status ResolveDirectIo(DirectIoMode mode, const std::string& dir,
                       const DirectIoProbe& probe, bool* use_direct) {
  TS_ASSERT(use_direct != nullptr);
  switch (mode) {
    case DirectIoMode::kDisabled:
      *use_direct = false;
      return Status::Ok();
    case DirectIoMode::kOptional:
      *use_direct = probe.supported;
      return Status::Ok();
    case DirectIoMode::kRequired:
      if (!probe.supported) {
        return Status(StatusCode::kUnsupported,
                      "directIO is 'required' but " + dir +
                          " does not support O_DIRECT (" + probe.detail + ")");
      }
      *use_direct = true;
      return Status::Ok();
  }
  TS_ASSERT_MSG(false, "unknown DirectIoMode");
}

}  // namespace io
}  // namespace tessera
