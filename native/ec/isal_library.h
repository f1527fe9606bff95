// Intel ISA-L's erasure code, opened at run time with dlopen.
//
// libisal is never a link-time dependency: when libisal.so.2 is present the
// 'isal' backend can use it, otherwise tessera runs its own kernels. The
// four prototypes below are ISA-L's public erasure_code.h API (stable since
// 2.x); we declare them here rather than include the header.
#pragma once

namespace tessera {
namespace ec {

struct IsalLibrary {
  void (*ec_init_tables)(int k, int rows, unsigned char* a,
                         unsigned char* gftbls);
  void (*ec_encode_data)(int len, int k, int rows, unsigned char* gftbls,
                         unsigned char** data, unsigned char** coding);
  void (*gf_gen_cauchy1_matrix)(unsigned char* a, int m, int k);
  int (*gf_invert_matrix)(unsigned char* in, unsigned char* out, const int n);
  // True when the library has GFNI kernels (ISA-L >= 2.31 exports
  // ec_init_tables_gfni); informational, for benchmarks and docs.
  bool has_gfni;
};

// The library, opened on first call (thread-safe), or nullptr when it cannot
// be loaded. The file name is libisal.so.2, or TESSERA_ISAL_LIBRARY when set
// (tests use it to exercise the absent case).
const IsalLibrary* LoadIsal();
// Why LoadIsal() returned nullptr (the dlopen/dlsym error), or "".
const char* IsalUnavailableReason();

}  // namespace ec
}  // namespace tessera
