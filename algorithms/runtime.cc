#include "algorithms/runtime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/trainer.h"
#include "core/parallel.h"

namespace emcomm {

namespace {
std::vector<std::string> names_of(const std::vector<Component>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.name);
  return out;
}
}  // namespace

ConfigSchema build_schema() {
  ConfigSchema schema;
  schema.envs = EnvRegistry::components();
  schema.algorithms = AlgorithmRegistry::components();
  schema.common.add_choice("env.name", "lewis", names_of(schema.envs), "environment")
      .add_choice("train.algorithm", "selfplay", names_of(schema.algorithms), "training algorithm")
      .merge(trainer_options());
  return schema;
}

double matmul_gflops(int64_t n, double seconds, int64_t min_repeats) {
  using Clock = std::chrono::steady_clock;
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto a = torch::empty({n, n}).uniform_(-1, 1, gen), b = torch::empty({n, n}).uniform_(-1, 1, gen);
  auto c = torch::empty({n, n});
  torch::mm_out(c, a, b);  // warm-up
  int64_t reps = 0;
  const auto t0 = Clock::now();
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  do {
    torch::mm_out(c, a, b);
    ++reps;
  } while (reps < min_repeats || since() < seconds);
  return 2.0 * double(n) * double(n) * double(n) * double(reps) / since() / 1e9;
}

bool set_blas_threads(int threads) {
  // OpenBLAS keeps its own thread pool that at::set_num_threads does not reach.
  using SetThreads = void (*)(int);
  auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!fn) return false;
  fn(threads);
  return true;
}

int blas_threads() {
  using GetThreads = int (*)();
  auto fn = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return fn ? fn() : 0;
}

void run_parts(int64_t parts, const std::function<void(int64_t)>& work) {
  ScopedBlasThreads blas(1);
  run_on_threads(parts, work);
}

void set_threads(int threads) {
  // With OpenBLAS, the threads go to its pool only: LibTorch's OpenMP intra-op pool forks and
  // joins at every element-wise op above 32k elements, which on small networks costs more
  // than it saves, and when the machine is busy each join waits for a descheduled thread
  // (docs/PERFORMANCE.md, "Threads"). Without OpenBLAS, LibTorch gets them.
  const bool openblas = set_blas_threads(threads);
  at::set_num_threads(openblas ? 1 : threads);
}


std::string blas_library() {
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info;
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) return "unknown";
  std::error_code ec;  // libblas.so.3 is usually a link chosen by update-alternatives: resolve it
  auto real = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? info.dli_fname : real.string();
}

}  // namespace emcomm
