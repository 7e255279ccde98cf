// The emcomm command-line tool: one function per subcommand. Each returns the exit code;
// user errors are thrown as emcomm::UserError and turned into exit code 2 by main().
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace emcomm {

// The options every run accepts plus those of every registered env and algorithm.
ConfigSchema build_schema();

int train_command(const std::vector<std::string>& args);
int list_command(const std::vector<std::string>& args);
int compare_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);  // compare's grid under MPI
int analyze_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int make_dataset_command(const std::vector<std::string>& args);

// Times a 256x256 float matmul; returns GFLOP/s. Used to warn when LibTorch runs on the
// reference BLAS (about 14 times slower than OpenBLAS).
double measure_matmul_gflops(int size = 256, int repeats = 8);
// Sets OpenBLAS's own thread count when OpenBLAS is the loaded BLAS; false otherwise.
bool set_blas_threads(int threads);
// Applies run.threads: OpenBLAS's pool gets `threads` and LibTorch's intra-op pool 1 (with any
// other BLAS, LibTorch gets them).
void set_threads(int threads);

}  // namespace emcomm
