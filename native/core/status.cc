#include "status.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ts_assert.h"

namespace tessera {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "ERR_INVALID_ARG_VALUE";
    case StatusCode::kOutOfRange:
      return "ERR_OUT_OF_RANGE";
    case StatusCode::kNotFound:
      return "NoSuchKey";
    case StatusCode::kPreconditionFailed:
      return "PreconditionFailed";
    case StatusCode::kIo:
      return "ERR_STORE_IO";
    case StatusCode::kNoSpace:
      return "ERR_STORE_NO_SPACE";
    case StatusCode::kCorrupt:
      return "ERR_STORE_CORRUPT";
    case StatusCode::kQuorum:
      return "ERR_STORE_QUORUM";
    case StatusCode::kLocked:
      return "ERR_STORE_LOCKED";
    case StatusCode::kClosed:
      return "ERR_STORE_CLOSED";
    case StatusCode::kUnsupported:
      return "ERR_STORE_UNSUPPORTED";
    case StatusCode::kInternal:
      return "ERR_STORE_INTERNAL";
    case StatusCode::kChangesExpired:
      return "ERR_STORE_CHANGES_EXPIRED";
  }
  return "ERR_STORE_INTERNAL";
}

Status Status::FromErrno(int sys_errno, const std::string& what) {
  TS_ASSERT(sys_errno != 0);
  const bool no_space = sys_errno == ENOSPC || sys_errno == EDQUOT;
  return Status(no_space ? StatusCode::kNoSpace : StatusCode::kIo,
                what + ": " + std::strerror(sys_errno), sys_errno);
}

void AssertFail(const char* expr, const char* file, int line,
                const char* message) {
  std::fprintf(stderr, "tessera: assertion failed: %s (%s:%d) %s\n", expr, file,
               line, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace tessera
