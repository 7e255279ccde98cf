// `emcomm bench`: throughput of the real trainers and envs (DESIGN.md section 8). Each workload
// builds the component from the registry exactly as `emcomm train` does (or, for the particle
// step, drives the env's own stepping core) and is timed after a warm-up; the machine's matmul
// peak is measured in the same process so flops fractions compare like with like.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace emcomm::bench {

struct Workload {
  std::string name, unit, description;
};
// Every workload, in report order.
const std::vector<Workload>& workloads();

struct Result {
  std::string name, unit;
  double rate = 0;             // units per second
  double flops_per_unit = 0;   // matmul flops per unit (0: not counted)
  int64_t units = 0;           // units measured (after warm-up)
  double seconds = 0;          // measuring time (wall clock)
  double cpu_seconds = 0;      // CPU time of the process meanwhile (all threads): on a busy
                               // machine units / cpu_seconds is the steadier figure
};

// Builds workload `name` with run.threads = `threads` and measures it for about `seconds` (after a
// warm-up of about a fifth of that, at least one iteration), on the threads already set.
Result run_workload(const std::string& name, double seconds, int threads = 1);


}  // namespace emcomm::bench
