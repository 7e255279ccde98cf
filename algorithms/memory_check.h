// Refusing, before training, a config whose tensors cannot fit in this machine's memory (an
// in-range train.batch_size of 16 777 216 would allocate hundreds of GB and die in the allocator).
// The estimate counts the largest tensors a step or an evaluation holds at once, so it is a
// lower bound of the peak: a run it refuses cannot fit; one it accepts may still be tight.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "envs/env.h"

namespace emcomm {

struct MemoryEstimate {
  double bytes = 0;
  std::string driver;  // the options and sizes behind it, e.g. "train.batch_size=... x ..."
};

MemoryEstimate estimate_peak_memory(const Env& env, const Config& cfg);
// MemAvailable of /proc/meminfo in bytes, or -1 when it cannot be read.
int64_t available_memory_bytes();
// UserError naming the estimate, what drives it and the memory available when it does not fit.
void check_memory(const Env& env, const Config& cfg);

}  // namespace emcomm
