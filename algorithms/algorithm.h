// The algorithm interface driven by the Trainer loop, and the algorithm registry.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "core/rng.h"
#include "core/run_file.h"
#include "envs/env.h"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace emcomm {

using Metrics = std::map<std::string, double>;

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // One optimisation step; returns training figures (e.g. "loss", "train_acc").
  virtual Metrics train_step(int64_t step) = 0;
  // Evaluates and logs interaction rows to `log`; returns figures such as "sp_acc/val".
  virtual Metrics evaluate(int64_t step, RunWriter& log) = 0;
  // Writes the model to `path` (a file).
  virtual void save(const std::string& path) = 0;
  // The figure shown on the progress line, e.g. "sp_acc/val".
  virtual std::string headline() const = 0;
  // True when the algorithm's own schedule has ended before train.steps (early stop): the
  // Trainer evaluates at this step and stops.
  virtual bool finished(int64_t step) const { return false; }
  // True when the algorithm wants an evaluation after this step besides those every
  // train.eval_every steps (e.g. S2P at the end of every round with s2p.eval_each_round).
  virtual bool wants_evaluation(int64_t step) const { return false; }
  // The figures reported as the run's result (summary.json "final"), given the last
  // evaluation's. An algorithm that selects a model (e.g. on seed-validation data) returns
  // the selected model's figures and leaves that model's parameters in place.
  virtual Metrics final_metrics(const Metrics& last_eval) { return last_eval; }
  // Called once after final_metrics (before the run file's last flush): an algorithm whose
  // returned model is not the last one logs that model's evaluation here, so the run file and
  // summary.json describe the same model.
  virtual void log_final(int64_t last_step, RunWriter& log) {}
  // Name prefixes of what log_final writes (scalar names, interaction and metric splits): a
  // continued run (emcomm train --resume) drops them from the run file, and log_final writes
  // them again when the continued run ends.
  virtual std::vector<std::string> final_log_prefixes() const { return {}; }

  // Checkpoints (docs/reliability.md). save_state writes everything the run needs to continue
  // exactly as if it had not stopped (modules, optimizers, every random generator, counters,
  // schedule and model-selection state); load_state, called on an algorithm freshly built from
  // the same config, restores it. An algorithm that keeps resumable() false gets no periodic
  // checkpoints and `emcomm train --resume` refuses its runs.
  virtual bool resumable() const { return false; }
  virtual void save_state(torch::serialize::OutputArchive& ar) {}
  virtual void load_state(torch::serialize::InputArchive& ar) {}
  // "module.parameter" of the first parameter holding a NaN or an infinity, or "" (checked
  // before every checkpoint, so a checkpoint never holds a broken model).
  virtual std::string nonfinite_parameter() { return ""; }
};

// What an algorithm entry declares it can train (algorithms/pairs.h checks it against the env
// entry's declaration before anything is built, and against the built env before training).
struct Accepts {
  bool signaling = false;             // signaling games (directly or through the Markov adapter)
  bool markov = false;                // Markov games
  bool images = false;                // image observations
  bool needs_human_language = false;  // only envs with a human language
  std::string needs;                  // what it needs, in words, for the refusal message
};

struct AlgorithmEntry {
  std::string name;
  std::string description;
  OptionSet options;
  std::function<std::unique_ptr<Algorithm>(const Config&, std::shared_ptr<Env>, Rng)> make;
  Accepts accepts;
  // Overrides ("--key=value") that make a run of this algorithm small (a few seconds) for the
  // conformance suite; options that the selected env does not have are left out.
  std::vector<std::string> small_run;
};
using AlgorithmRegistry = Registry<AlgorithmEntry>;

}  // namespace emcomm
