#include "experiments/run_loader.h"

#include <cstdio>
#include <filesystem>

#include "algorithms/memory_check.h"
#include "algorithms/pairs.h"
#include "core/errors.h"

namespace fs = std::filesystem;

namespace emcomm {

std::unique_ptr<Algorithm> build_algorithm(const Config& cfg) {
  check_pair(cfg);
  Rng root(static_cast<uint64_t>(cfg.get_int("run.seed")));
  auto env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  check_instance(*env, cfg);
  check_memory(*env, cfg);  // before anything large is allocated
  return AlgorithmRegistry::get(cfg.get_string("train.algorithm"), "algorithm").make(cfg, env, root.derive("algorithm"));
}

RestoredRun restore_run(const Config& cfg, const Trainer::Options& topt, int64_t step, const std::string& what) {
  const auto found = Trainer::checkpoints(topt.checkpoint_dir);
  if (found.empty())
    throw UserError(what + ": no checkpoint in " + topt.checkpoint_dir + " (the run stopped before its first checkpoint)");
  std::vector<std::string> tried;
  if (step > 0) {
    for (const auto& path : found)
      if (Trainer::checkpoint_step(path) == step) tried.push_back(path);
    if (tried.empty()) {
      std::string steps;
      for (auto it = found.rbegin(); it != found.rend(); ++it)
        steps += (steps.empty() ? "" : ", ") + std::to_string(Trainer::checkpoint_step(*it));
      throw UserError(what + ": no checkpoint at step " + std::to_string(step) + "; " + topt.checkpoint_dir +
                      " holds steps " + steps + " (run.checkpoint_keep keeps the newest ones)");
    }
  } else {
    tried = found;
  }
  RestoredRun run;
  std::string problems;
  for (const auto& path : tried) {
    run.algo = build_algorithm(cfg);
    run.trainer = std::make_unique<Trainer>(topt);
    try {
      run.step = run.trainer->resume(*run.algo, path);
      return run;
    } catch (const UserError& e) {
      if (!problems.empty()) problems += "; ";
      problems += e.what();
      if (tried.size() > 1) std::fprintf(stderr, "emcomm: warning: %s\n", e.what());
    }
  }
  throw UserError(what + ": no usable checkpoint: " + problems);
}

}  // namespace emcomm
