// What every run sets up before it builds anything, shared by the CLI (experiments/) and the
// benchmarks (bench/): the option schema of the registries, threads, and the BLAS check.
#pragma once

#include <cstdint>
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
// Applies run.threads: OpenBLAS's pool gets `threads` and LibTorch's intra-op pool 1 (with any
// other BLAS, LibTorch gets them).
void set_threads(int threads);
// Where sgemm comes from (the shared library path), e.g. .../openblas-pthread/libblas.so.3.
std::string blas_library();

}  // namespace emcomm
