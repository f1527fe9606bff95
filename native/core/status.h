// Status: how every fallible native operation reports its outcome.
//
// The native core never throws across its own API. A function that can fail
// returns a Status (or a StatusOr<T>); native/napi/errors.cc is the single
// place that turns a Status into a JavaScript error, using StatusCodeName()
// as the error's stable `.code`. Messages are for people; code is for code.
#pragma once

#include <string>
#include <utility>

namespace tessera {

// Keep in sync with nothing by hand: lib/errors.ts reads the names from the
// addon at load time (binding.statusCodes) and checks its own table.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,     // caller broke a documented precondition
  kOutOfRange,          // a numeric argument outside its documented range
  kNotFound,            // no such object / version
  kPreconditionFailed,  // conditional write lost (ifMatch / ifNoneMatch)
  kIo,                  // an operating-system I/O call failed (errno kept)
  kNoSpace,             // ENOSPC / EDQUOT on a drive
  kCorrupt,             // a checksum or structural check failed
  kQuorum,              // too few healthy drives to read or write
  kLocked,              // another process or Store holds the drives
  kClosed,              // the store or handle was closed
  kUnsupported,         // the platform or kernel lacks a required feature
  kInternal,            // a bug: an invariant that should have held did not
  kChangesExpired,      // the change feed no longer holds the asked seq
};

// Stable string for a code, e.g. "ERR_STORE_IO". Never changes once shipped.
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, int sys_errno = 0)
      : code_(code), message_(std::move(message)), sys_errno_(sys_errno) {}

  static Status Ok() { return Status(); }
  // Builds a kIo / kNoSpace status from an errno, naming the failed call.
  static Status FromErrno(int sys_errno, const std::string& what);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  int sys_errno() const { return sys_errno_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int sys_errno_ = 0;  // 0 unless the failure came from a system call
};

// Evaluates `expr` (a Status) once and returns it from the enclosing function
// when it is not OK.
#define TS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::tessera::Status ts_status_ = (expr);   \
    if (!ts_status_.ok()) return ts_status_; \
  } while (0)

}  // namespace tessera
