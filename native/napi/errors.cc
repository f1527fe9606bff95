#include "napi/errors.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "core/ts_assert.h"
#include "napi/addon_data.h"

namespace tessera::napi {
namespace {

// errno -> symbolic name. strerrorname_np() would do, but it needs glibc
// 2.32 and prebuilt binaries target older glibc; these are the errors the
// storage paths can meet.
const char* ErrnoName(int sys_errno) {
  switch (sys_errno) {
    case EIO:
      return "EIO";
    case ENOSPC:
      return "ENOSPC";
    case EDQUOT:
      return "EDQUOT";
    case EROFS:
      return "EROFS";
    case ENOENT:
      return "ENOENT";
    case EEXIST:
      return "EEXIST";
    case EACCES:
      return "EACCES";
    case EPERM:
      return "EPERM";
    case EBUSY:
      return "EBUSY";
    case EAGAIN:
      return "EAGAIN";
    case EINTR:
      return "EINTR";
    case EINVAL:
      return "EINVAL";
    case EBADF:
      return "EBADF";
    case ENOTDIR:
      return "ENOTDIR";
    case EISDIR:
      return "EISDIR";
    case ENOTEMPTY:
      return "ENOTEMPTY";
    case EMFILE:
      return "EMFILE";
    case ENFILE:
      return "ENFILE";
    case ENOMEM:
      return "ENOMEM";
    case ENOSYS:
      return "ENOSYS";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case EFBIG:
      return "EFBIG";
    case ENODEV:
      return "ENODEV";
    case ENXIO:
      return "ENXIO";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case EXDEV:
      return "EXDEV";
    case ESTALE:
      return "ESTALE";
    default:
      return nullptr;
  }
}

Napi::Error MakeError(Napi::Env env, const char* code,
                      const std::string& message) {
  AddonData* data = GetAddonData(env);
  Napi::Object error;
  if (!data->error_constructor.IsEmpty()) {
    error = data->error_constructor.New(
        {Napi::String::New(env, code), Napi::String::New(env, message)});
  } else {
    error = Napi::Error::New(env, message).Value();
    error.Set("code", Napi::String::New(env, code));
  }
  return Napi::Error(env, error);
}

}  // namespace

Napi::Error StatusToError(Napi::Env env, const Status& status) {
  TS_ASSERT_MSG(!status.ok(), "StatusToError called with an OK status");
  Napi::Error error =
      MakeError(env, StatusCodeName(status.code()), status.message());
  if (status.sys_errno() != 0) {
    error.Value().Set("errno", Napi::Number::New(env, status.sys_errno()));
    const char* name = ErrnoName(status.sys_errno());
    if (name != nullptr) {
      error.Value().Set("syscallError", Napi::String::New(env, name));
    }
  }
  return error;
}

Napi::Error ArgumentError(Napi::Env env, const char* code,
                          const std::string& message) {
  TS_ASSERT(code != nullptr && code[0] != '\0');
  return MakeError(env, code, message);
}

}  // namespace tessera::napi
