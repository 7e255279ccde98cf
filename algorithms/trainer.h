// The one training loop every algorithm runs on: steps, periodic evaluation (scalars and
// interaction rows to the run file, flushed each time), hooks, checkpoint at the end.
// Each evaluation also logs time/wall_seconds (seconds since training started), so the time
// to reach an accuracy can be read off the run file.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

#include "algorithms/algorithm.h"

namespace emcomm {

// Options every run has: run.*, train.steps, train.eval_every, eval.*.
OptionSet trainer_options();

struct TrainerHooks {
  std::function<void(int64_t step, const Metrics& train)> on_step;     // after every step
  std::function<void(int64_t step, const Metrics& eval)> on_evaluate;  // after each evaluation
  std::function<void(int64_t step, const Metrics& final_eval)> on_end;
};

class Trainer {
 public:
  struct Options {
    int64_t steps = 1000;
    int64_t eval_every = 100;
    std::string checkpoint_path;  // empty: no checkpoint
    static Options from(const Config& cfg);
  };
  Trainer(Options opt, RunWriter& log) : opt_(std::move(opt)), log_(log) {}
  void add_hooks(TrainerHooks hooks) { hooks_.push_back(std::move(hooks)); }
  // Runs every step; returns the last evaluation's figures. A non-finite training figure
  // stops the run with a std::runtime_error naming it and the step (the log stays flushed).
  Metrics run(Algorithm& algo);
  // The last step run (train.steps, or earlier when the algorithm finished early).
  int64_t last_step = 0;

 private:
  Metrics evaluate(Algorithm& algo, int64_t step, Metrics* train_sum, Metrics* train_count);
  Options opt_;
  RunWriter& log_;
  std::vector<TrainerHooks> hooks_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace emcomm
