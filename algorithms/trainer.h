// The one training loop every algorithm runs on: steps, periodic evaluation (scalars and
// interaction rows to the run file, flushed each time), hooks, checkpoints, resume and stop
// on SIGINT/SIGTERM (docs/reliability.md).
// Each evaluation also logs time/wall_seconds (seconds since training started, across
// resumes), so the time to reach an accuracy can be read off the run file.
#pragma once

#include <chrono>
#include <functional>
#include <string>
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
    std::string checkpoint_path;  // the final model (Algorithm::save); empty: none
    // Resumable checkpoints: <checkpoint_dir>/step-<step>.pt every checkpoint_every steps
    // (0: only at the end) and at the end, the last checkpoint_keep kept. Empty dir: none.
    std::string checkpoint_dir;
    int64_t checkpoint_every = 0, checkpoint_keep = 2;
    int64_t stop_after = 0;  // > 0: stop after this step as a SIGTERM would (run.stop_after)
    static Options from(const Config& cfg);
  };
  Trainer(Options opt, RunWriter& log) : opt_(std::move(opt)), log_(&log) {}
  // Without a run file yet (resume() first, then set_log() with the file cut to its step).
  explicit Trainer(Options opt) : opt_(std::move(opt)) {}
  void set_log(RunWriter& log) { log_ = &log; }
  void add_hooks(TrainerHooks hooks) { hooks_.push_back(std::move(hooks)); }
  // Runs every step (after the resumed one, if any); returns the last evaluation's figures.
  // A non-finite training figure or parameter stops the run with a std::runtime_error naming
  // it and the step (the log stays flushed, the last good checkpoint stays).
  // When stopped early (a SIGINT/SIGTERM, or run.stop_after) it writes a checkpoint, sets
  // `stopped` (and `stop_signal`) and returns without the final model or on_end hooks.
  Metrics run(Algorithm& algo);
  // Restores the loop and `algo` (freshly built from the same config) from a checkpoint file;
  // returns its step. Throws UserError naming the file when it is not a readable checkpoint.
  int64_t resume(Algorithm& algo, const std::string& path);
  // The checkpoint files of `dir`, newest (highest step) first.
  static std::vector<std::string> checkpoints(const std::string& dir);
  // The step of one of those files (checkpoints/step-<12 digits>.pt).
  static int64_t checkpoint_step(const std::string& path);
  // From now on, SIGINT and SIGTERM make run() stop after the current step (a second signal
  // kills as usual).
  static void install_signal_handlers();

  int64_t last_step = 0;       // the last step run
  bool stopped = false;        // run() returned before the end of training
  int stop_signal = 0;         // the signal that stopped it (0: run.stop_after)
  std::string last_checkpoint;  // the newest checkpoint written or resumed from
  // > 0: the step (or its evaluation) a stop signal interrupted (algorithms/interrupt.h); it is
  // not checkpointed, the run continues from last_checkpoint (none: it cannot be resumed).
  int64_t abandoned_step = 0;

 private:
  Metrics evaluate(Algorithm& algo, int64_t step);
  Metrics abandon(int64_t step);  // a stop signal interrupted `step`: stop without checkpointing it
  void write_checkpoint(Algorithm& algo, int64_t step);
  void check_parameters(Algorithm& algo, int64_t step);
  double elapsed() const;
  Options opt_;
  RunWriter* log_ = nullptr;
  std::vector<TrainerHooks> hooks_;
  std::chrono::steady_clock::time_point start_;
  double resumed_seconds_ = 0;  // wall seconds before the resumed checkpoint
  int64_t first_step_ = 1;
  int64_t checkpoint_step_ = -1;  // the step of the last checkpoint written
  // Per training figure: sum and number of steps that reported it since the last evaluation.
  Metrics train_sum_, train_count_, last_;
};

}  // namespace emcomm
