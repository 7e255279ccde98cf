// Interrupting a long training step or evaluation on SIGINT/SIGTERM (docs/reliability.md).
//
// The Trainer stops after the current step when a stop signal arrives, and checkpoints there. A
// step that runs for minutes (a MADDPG step over a million worlds, an evaluation of a huge set)
// would keep the user waiting, so long loops call interrupt_point(): once a stop signal has been
// pending for kInterruptGraceSeconds it throws StepInterrupted, the Trainer abandons the step
// (its state is half-updated, so no checkpoint is written for it) and the run stops at its last
// checkpoint. Steps that end within the grace period finish and are checkpointed as usual.
#pragma once

#include <exception>

namespace emcomm {

constexpr double kInterruptGraceSeconds = 2.0;

struct StepInterrupted : std::exception {
  const char* what() const noexcept override { return "step interrupted by a stop signal"; }
};

// Throws StepInterrupted when a SIGINT/SIGTERM has been pending for the grace period; otherwise
// cheap (one flag read). Called from inner loops of steps and evaluations.
void interrupt_point();

}  // namespace emcomm
