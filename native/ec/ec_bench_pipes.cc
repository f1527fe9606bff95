// Vector-pipe throughputs for ec_bench --pipes: how many vpshufb, vpxor and
// vpsrlq (ymm) this core retires per cycle, and from them the issue bound of
// the AVX2 PSHUFB method on an 8+4 encode (docs/ec.md, "How far from the
// bound"). Timed by this thread's CPU time; the clock is taken from a chain
// of dependent adds (one per cycle) in the same process. The instructions
// are inline assembly so the compiler cannot fold or reorder them; the unit
// is built without -m flags and callers check AVX2 first.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace tessera {
namespace ec {

#if defined(__x86_64__)

namespace {

constexpr long kIterations = 4000000;

double ThreadSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + t.tv_nsec * 1e-9;
}

// Eight independent instructions per iteration, each writing its own ymm.
#define TS_EIGHT(op)                                                   \
  op(2) "\n\t" op(3) "\n\t" op(4) "\n\t" op(5) "\n\t" op(6) "\n\t" op( \
      7) "\n\t" op(8) "\n\t" op(9)
#define TS_CLOBBER \
  "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9"
#define TS_SHUF(d) "vpshufb %%ymm0, %%ymm1, %%ymm" #d
#define TS_XOR(d) "vpxor %%ymm0, %%ymm1, %%ymm" #d
#define TS_SRL(d) "vpsrlq $4, %%ymm0, %%ymm" #d

void AddChain() {
  long x = 0;
  for (long i = 0; i < kIterations; ++i)
    asm volatile(
        "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
        "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
        : "+r"(x));
}
void Shuffles() {
  for (long i = 0; i < kIterations; ++i)
    asm volatile(TS_EIGHT(TS_SHUF)::: TS_CLOBBER);
}
void Xors() {
  for (long i = 0; i < kIterations; ++i)
    asm volatile(TS_EIGHT(TS_XOR)::: TS_CLOBBER);
}
void Shifts() {
  for (long i = 0; i < kIterations; ++i)
    asm volatile(TS_EIGHT(TS_SRL)::: TS_CLOBBER);
}
void ShufflesAndXors() {
  for (long i = 0; i < kIterations; ++i)
    asm volatile(
        "vpshufb %%ymm0, %%ymm1, %%ymm2\n\tvpxor %%ymm0, %%ymm1, %%ymm3\n\t"
        "vpshufb %%ymm0, %%ymm1, %%ymm4\n\tvpxor %%ymm0, %%ymm1, %%ymm5\n\t"
        "vpshufb %%ymm0, %%ymm1, %%ymm6\n\tvpxor %%ymm0, %%ymm1, %%ymm7\n\t"
        "vpshufb %%ymm0, %%ymm1, %%ymm8\n\tvpxor %%ymm0, %%ymm1, %%ymm9" ::
            : TS_CLOBBER);
}

// Seconds per iteration: the minimum over a few tries (preemption and
// frequency dips only ever make a try slower).
double PerIteration(void (*body)()) {
  double best = 1e9;
  for (int t = 0; t < 7; ++t) {
    const double start = ThreadSeconds();
    body();
    best = std::min(best, (ThreadSeconds() - start) / kIterations);
  }
  return best;
}

}  // namespace

bool PipesUsable() { return __builtin_cpu_supports("avx2"); }

double PrintPipesAndBound(int k, int m) {
  const double cycle = PerIteration(AddChain) / 8;
  const double shuf = 8 * cycle / PerIteration(Shuffles);
  const double xors = 8 * cycle / PerIteration(Xors);
  const double shifts = 8 * cycle / PerIteration(Shifts);
  const double mixed = 8 * cycle / PerIteration(ShufflesAndXors);
  std::printf("clock %.2f GHz (dependent adds)\n", 1e-9 / cycle);
  std::printf(
      "ymm per cycle: vpshufb %.2f, vpxor %.2f, vpsrlq %.2f, "
      "vpshufb+vpxor 1:1 %.2f\n",
      shuf, xors, shifts, mixed);
  // Per 32-byte column of every source: 3 ops to split each source's
  // nibbles (and, shift, and), then per output and source 2 vpshufb and 2
  // vpxor, less one vpxor per output when the accumulator starts from the
  // first source's products.
  const int shuffles = 2 * k * m;
  const int ops = 3 * k + shuffles + (2 * k - 1) * m;
  const double cycles = std::max(shuffles / shuf, ops / xors);
  const double bytes_per_cycle = 32.0 * k / cycles;
  const double gbs = bytes_per_cycle / cycle * 1e-9;
  std::printf(
      "avx2 PSHUFB method, %d+%d: %d vector ALU ops (%d vpshufb) per %d data "
      "bytes -> at most %.2f B/cycle = %.1f GB/s at this clock\n",
      k, m, ops, shuffles, 32 * k, bytes_per_cycle, gbs);
  return gbs;
}

#else

bool PipesUsable() { return false; }
double PrintPipesAndBound(int, int) { return 0; }

#endif

}  // namespace ec
}  // namespace tessera
