// emcomm: the command-line tool; one function per subcommand (commands.h).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/errors.h"
#include "experiments/commands.h"

namespace {

const char* kUsage =
    "usage: emcomm COMMAND [ARGS]\n"
    "commands:\n"
    "  train CONFIG.ini [--section.key=value ...] [--overwrite]   train and log a run\n"
    "  list                                                       envs, algorithms, options, defaults\n"
    "  compare CONFIG.ini --vary key=v1,v2 --seeds N [--jobs J] [--out DIR] [--plot]\n"
    "                                                             a grid of runs, results.csv + summary.md\n"
    "  sweep   (compare's arguments)   the same grid under MPI: mpirun -n R emcomm sweep ...\n"
    "  analyze RUN.h5 [--split S] [--step latest|all|N] [--json] [--no-write]   metrics from a run file\n"
    "  bench [--json] [--only NAME,...] [--seconds S] [--threads N] [--vs-python]\n"
    "                                                             throughput of each workload (docs/PERFORMANCE.md)\n"
    "  make-dataset OUT.h5 [--size=N --image_size=S --objects=K --noise=X --seed=S ...] [--overwrite]\n"
    "                                                             synthetic scenes + captions (docs/dataset-format.md)\n"
    "  help                                                       this text\n"
    "exit codes: 0 success, 2 bad input (option, value, file), 1 internal error (EMCOMM_DEBUG=1 shows\n"
    "its full text, with LibTorch's backtrace)\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = args.front();
  args.erase(args.begin());
  try {
    if (cmd == "train") return emcomm::train_command(args);
    if (cmd == "list") return emcomm::list_command(args);
    if (cmd == "compare") return emcomm::compare_command(args);
    if (cmd == "sweep") return emcomm::sweep_command(args);
    if (cmd == "analyze") return emcomm::analyze_command(args);
    if (cmd == "bench") return emcomm::bench_command(args);
    if (cmd == "make-dataset") return emcomm::make_dataset_command(args);
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    throw emcomm::UserError("unknown command '" + cmd + "'; commands: train, list, compare, sweep, analyze, make-dataset, bench, help");
  } catch (const std::exception& e) {
    const emcomm::ErrorReport r = emcomm::report_exception(e, emcomm::debug_requested());
    std::fputs(r.text.c_str(), stderr);
    return r.exit_code;
  }
}
