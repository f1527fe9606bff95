#include "ec/isal_library.h"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "core/ts_assert.h"

namespace tessera {
namespace ec {
namespace {

struct IsalLoad {
  IsalLibrary library{};
  bool loaded = false;
  std::string reason;

  IsalLoad() {
    const char* env = std::getenv("TESSERA_ISAL_LIBRARY");
    const char* file =
        (env != nullptr && env[0] != '\0') ? env : "libisal.so.2";
    // RTLD_LOCAL keeps ISA-L's symbols out of the global namespace, and
    // RTLD_DEEPBIND makes ISA-L's own internal calls bind to itself: node
    // exports OpenSSL's gf_mul, which would otherwise interpose on ISA-L's
    // gf_mul inside ec_encode_data_base and crash. The handle is never
    // closed, so the function pointers stay valid. Sanitizer runtimes refuse
    // DEEPBIND; their test binaries do not export a conflicting gf_mul.
    int flags = RTLD_NOW | RTLD_LOCAL;
#if defined(RTLD_DEEPBIND) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
    flags |= RTLD_DEEPBIND;
#endif
    void* handle = dlopen(file, flags);
    if (handle == nullptr) {
      const char* error = dlerror();
      reason = error != nullptr ? error : "dlopen failed";
      return;
    }
    if (!Bind(handle, "ec_init_tables", &library.ec_init_tables) ||
        !Bind(handle, "ec_encode_data", &library.ec_encode_data) ||
        !Bind(handle, "gf_gen_cauchy1_matrix",
              &library.gf_gen_cauchy1_matrix) ||
        !Bind(handle, "gf_invert_matrix", &library.gf_invert_matrix)) {
      return;
    }
    library.has_gfni = dlsym(handle, "ec_init_tables_gfni") != nullptr;
    loaded = true;
    TS_ASSERT(library.ec_encode_data != nullptr);
  }

  template <class Fn>
  bool Bind(void* handle, const char* name, Fn* out) {
    void* symbol = dlsym(handle, name);
    if (symbol == nullptr) {
      reason = std::string("libisal has no symbol ") + name;
      return false;
    }
    *out = reinterpret_cast<Fn>(symbol);
    return true;
  }
};

const IsalLoad& Load() {
  static const IsalLoad load;
  return load;
}

}  // namespace

const IsalLibrary* LoadIsal() {
  const IsalLoad& load = Load();
  return load.loaded ? &load.library : nullptr;
}

const char* IsalUnavailableReason() { return Load().reason.c_str(); }

}  // namespace ec
}  // namespace tessera
