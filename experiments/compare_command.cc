// emcomm compare: runs a grid of variants x seeds (each run its own directory, a local pool
// of child processes), then writes results.csv and summary.md (mean +- 95 % confidence
// interval per variant) and prints that table. The grid itself lives in grid.h.
#include <filesystem>

#include "experiments/commands.h"
#include "experiments/grid.h"

namespace emcomm {

int compare_command(const std::vector<std::string>& args) {
  if (grid_help("compare", args)) return 0;
  Grid g = parse_grid("compare", args);
  make_grid_out(g);
  run_local_pool(g);
  return write_grid_results(g);
}

}  // namespace emcomm
