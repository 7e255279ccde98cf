// A run rebuilt from its config and restored from one of its checkpoints: what
// `emcomm train --resume` and `emcomm eval` share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "algorithms/algorithm.h"
#include "algorithms/trainer.h"

namespace emcomm {

// The env and algorithm `cfg` describes (the pair is checked first, algorithms/pairs.h); the
// same seed streams as a fresh run of it.
std::unique_ptr<Algorithm> build_algorithm(const Config& cfg);

struct RestoredRun {
  std::unique_ptr<Algorithm> algo;
  std::unique_ptr<Trainer> trainer;  // holds the loop's state at the checkpoint, no run file yet
  int64_t step = 0;                  // the checkpoint's step
};

// Restores the run of `cfg` from topt.checkpoint_dir: the checkpoint at `step` when step > 0,
// else the newest one that loads (a damaged newer one is reported on stderr and skipped).
// `what` starts every error message (e.g. "--resume 'runs/x'"); UserError when none loads.
RestoredRun restore_run(const Config& cfg, const Trainer::Options& topt, int64_t step, const std::string& what);

}  // namespace emcomm
