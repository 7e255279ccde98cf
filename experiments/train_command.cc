#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "algorithms/algorithm.h"
#include "algorithms/trainer.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/progress.h"
#include "experiments/commands.h"

namespace fs = std::filesystem;

namespace emcomm {
namespace {

constexpr const char* kVersion = "0.1.0";
// Below this, matmul is in reference-BLAS territory (OpenBLAS on 2 cores gives tens).
constexpr double kSlowBlasGflops = 4.0;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string summary_json(const Metrics& final_eval, int64_t steps, double wall, const Config& cfg,
                         const fs::path& run_dir) {
  std::string s = "{\n  \"final\": {";
  bool first = true;
  for (const auto& kv : final_eval) {
    s += std::string(first ? "\n" : ",\n") + "    " + json_string(kv.first) + ": " + json_number(kv.second);
    first = false;
  }
  s += "\n  },\n";
  s += "  \"steps\": " + std::to_string(steps) + ",\n";
  s += "  \"wall_seconds\": " + json_number(wall) + ",\n";
  s += "  \"config\": " + json_string(cfg.source()) + ",\n";
  s += "  \"run_dir\": " + json_string(run_dir.string()) + ",\n";
  s += "  \"seed\": " + std::to_string(cfg.get_int("run.seed")) + ",\n";
  s += "  \"env\": " + json_string(cfg.get_string("env.name")) + ",\n";
  s += "  \"algorithm\": " + json_string(cfg.get_string("train.algorithm")) + "\n}\n";
  return s;
}

// The run directory: refuse to mix a new run into an old one unless asked to replace it.
void prepare_run_dir(const fs::path& dir, bool overwrite) {
  const char* ours[] = {"run.h5", "config.ini", "summary.json", "checkpoints"};
  bool used = false;
  for (const char* f : ours) used = used || fs::exists(dir / f);
  if (used && !overwrite)
    throw UserError("run directory '" + dir.string() +
                    "' already holds a run; pass --overwrite to replace it, or choose another --run.out");
  if (fs::exists(dir) && !fs::is_directory(dir))
    throw UserError("run.out '" + dir.string() + "' exists and is not a directory");
  for (const char* f : ours) fs::remove_all(dir / f);
  fs::create_directories(dir / "checkpoints");
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  std::string config_path;
  bool overwrite = false;
  std::vector<std::string> overrides;
  for (const auto& a : args) {
    if (a == "--overwrite") overwrite = true;
    else if (a.rfind("--", 0) == 0) overrides.push_back(a);
    else if (config_path.empty()) config_path = a;
    else throw UserError("'emcomm train' takes one config file; got a second one: '" + a + "'");
  }
  if (config_path.empty()) throw UserError("usage: emcomm train CONFIG.ini [--section.key=value ...] [--overwrite]");
  if (!fs::is_regular_file(config_path)) throw UserError("config file '" + config_path + "' does not exist");

  Config cfg = resolve_config(build_schema(), config_path, overrides);
  const int64_t seed = cfg.get_int("run.seed");
  fs::path run_dir = cfg.get_string("run.out");
  if (run_dir.empty())
    run_dir = fs::path("runs") / (fs::path(config_path).stem().string() + "-seed" + std::to_string(seed));
  cfg.set("run.out", run_dir.string());

  const int threads = int(cfg.get_int("run.threads"));
  set_threads(threads);
  double gflops = measure_matmul_gflops();
  if (gflops < kSlowBlasGflops)
    std::fprintf(stderr,
                 "emcomm: warning: matmul runs at %.1f GFLOP/s, which looks like the reference BLAS "
                 "(about 14x slower than OpenBLAS); install libopenblas0-pthread (scripts/setup-deps)\n",
                 gflops);

  // Build everything before touching the run directory, so a bad config leaves nothing behind.
  Rng root(static_cast<uint64_t>(seed));
  auto env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  auto algo = AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm")
                  .make(cfg, env, root.derive("algorithm"));

  prepare_run_dir(run_dir, overwrite);
  write_file(run_dir / "config.ini", cfg.to_ini());
  RunWriter log((run_dir / "run.h5").string(), cfg.values(), cfg.to_ini(), kVersion);

  Trainer::Options topt = Trainer::Options::from(cfg);
  topt.checkpoint_path = (run_dir / "checkpoints" / "final.pt").string();
  Trainer trainer(topt, log);
  Progress progress(topt.steps, Progress::stderr_is_terminal());
  std::string latest;
  const std::string headline = algo->headline();
  trainer.add_hooks({[&](int64_t step, const Metrics&) { progress.update(step, latest); },
                     [&](int64_t step, const Metrics& m) {
                       auto it = m.find(headline);
                       if (it != m.end()) latest = headline + " " + std::to_string(it->second).substr(0, 6);
                       progress.update(step, latest);
                     },
                     nullptr});
  auto t0 = std::chrono::steady_clock::now();
  Metrics final_eval = trainer.run(*algo);
  progress.finish();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_file(run_dir / "summary.json", summary_json(final_eval, trainer.last_step, wall, cfg, run_dir));

  std::printf("finished %lld steps in %.1f s\n", (long long)trainer.last_step, wall);
  for (const auto& kv : final_eval)
    if (kv.first.rfind("sp_acc/", 0) == 0 || kv.first.find("acc") != std::string::npos)
      std::printf("  %-22s %.4f\n", kv.first.c_str(), kv.second);
  std::printf("run directory: %s\n", run_dir.string().c_str());
  return 0;
}

}  // namespace emcomm
