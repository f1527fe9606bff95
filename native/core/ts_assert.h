// Always-on assertions for invariants the native core relies on.
//
// TS_ASSERT is never compiled out (unlike <cassert>): a broken invariant in a
// storage engine must stop the process before it writes wrong bytes. The
// condition is evaluated exactly once, but it must still be free of side
// effects: write `Status s = f(); TS_ASSERT(s.ok());`, never `TS_ASSERT(f())`,
// so that reading the code never depends on whether a check runs.
#pragma once

namespace tessera {

// Prints "tessera: assertion failed: <expr> (<file>:<line>) <message>" to
// stderr and aborts. Declared noreturn so the compiler can rely on the check.
[[noreturn]] void AssertFail(const char* expr, const char* file, int line,
                             const char* message);

}  // namespace tessera

#define TS_ASSERT(cond)                                     \
  do {                                                      \
    if (__builtin_expect(!(cond), 0)) {                     \
      ::tessera::AssertFail(#cond, __FILE__, __LINE__, ""); \
    }                                                       \
  } while (0)

#define TS_ASSERT_MSG(cond, message)                               \
  do {                                                             \
    if (__builtin_expect(!(cond), 0)) {                            \
      ::tessera::AssertFail(#cond, __FILE__, __LINE__, (message)); \
    }                                                              \
  } while (0)
