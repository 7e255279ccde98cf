#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <dlfcn.h>

#include <chrono>

#include "experiments/commands.h"

namespace emcomm {

double measure_matmul_gflops(int size, int repeats) {
  torch::NoGradGuard no_grad;
  auto a = torch::ones({size, size}), b = torch::ones({size, size});
  auto c = torch::mm(a, b);  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) c = torch::mm(a, b);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * double(size) * size * size * repeats / secs / 1e9;
}

bool set_blas_threads(int threads) {
  // OpenBLAS keeps its own thread pool that at::set_num_threads does not reach.
  using SetThreads = void (*)(int);
  auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!fn) return false;
  fn(threads);
  return true;
}

void set_threads(int threads) {
  // With OpenBLAS, the threads go to its pool only: LibTorch's OpenMP intra-op pool forks and
  // joins at every element-wise op above 32k elements, which on small networks costs more
  // than it saves, and when the machine is busy each join waits for a descheduled thread
  // (docs/PERFORMANCE.md, "Threads"). Without OpenBLAS, LibTorch gets them.
  const bool openblas = set_blas_threads(threads);
  at::set_num_threads(openblas ? 1 : threads);
}

}  // namespace emcomm
