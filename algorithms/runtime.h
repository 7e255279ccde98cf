// What every run sets up before it builds anything, shared by the CLI (experiments/) and the
// benchmarks (bench/): the option schema of the registries, threads, and the BLAS check.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/config.h"

namespace emcomm {

// The options every run accepts plus those of every registered env and algorithm.
ConfigSchema build_schema();

// GFLOP/s of an n x n x n float matmul, after one warm-up product: at least `min_repeats`
// products and until `seconds` have passed. The one matmul timer of emcomm (train's BLAS check,
// bench's peak).
double matmul_gflops(int64_t n, double seconds, int64_t min_repeats = 1);
// Sets OpenBLAS's own thread count when OpenBLAS is the loaded BLAS; false otherwise.
bool set_blas_threads(int threads);
// OpenBLAS's thread count, or 0 when another BLAS is loaded.
int blas_threads();
// OpenBLAS's pool at `threads` for a scope, the previous count put back after: for code that
// runs its own threads, each calling BLAS (S2P's member threads).
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int threads) : previous_(blas_threads()) { set_blas_threads(threads); }
  ~ScopedBlasThreads() {
    if (previous_ > 0) set_blas_threads(previous_);
  }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int previous_;
};
// Applies run.threads: OpenBLAS's pool gets `threads` and LibTorch's intra-op pool 1 (with any
// other BLAS, LibTorch gets them).
void set_threads(int threads);
// Runs work(0), ..., work(parts - 1) at once, work(0) on the calling thread and each other on a
// thread of its own, with OpenBLAS at one thread meanwhile (each part calls BLAS itself); after
// all have ended, rethrows the first part's exception if any threw. Grad mode and other
// thread-local settings start at their defaults in the new threads.
void run_parts(int64_t parts, const std::function<void(int64_t)>& work);
// Where sgemm comes from (the shared library path), e.g. .../openblas-pthread/libblas.so.3.
std::string blas_library();

}  // namespace emcomm
