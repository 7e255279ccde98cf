// emcomm: the command-line tool; one function per subcommand (commands.h).
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/errors.h"
#include "experiments/commands.h"

namespace {

// Bytes that are not printable text (a garbage config file echoed back: control bytes,
// invalid UTF-8) as \xNN, so an error message never writes raw binary to the terminal.
std::string printable(const std::string& s) {
  std::string out;
  auto escape = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
      out += char(c);
      ++i;
      continue;
    }
    // A whole valid UTF-8 sequence is kept (names with accents); anything else is escaped.
    const size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool valid = n > 0 && c >= 0xC2 && i + n <= s.size();
    for (size_t k = 1; valid && k < n; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid) {
      out += s.substr(i, n);
      i += n;
    } else {
      escape(c);
      ++i;
    }
  }
  return out;
}

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
    "  train --resume RUN_DIR [--train.steps=N] [--run.stop_after=N]\n"
    "                                                             continue a stopped run, or a run up to a larger train.steps\n"
    "  eval RUN_DIR [--step final|K] [--split S] [--eval.size=N] [--json]\n"
    "                                                             evaluate a trained run's checkpoint without training\n"
    "  export RUN.h5 --format elcc OUT_DIR [--split S] [--step latest|all|N] [--overwrite]\n"
    "                                                             a split's messages as an ELCC corpus (docs/python.md)\n"
    "  help | --version                                           this text | the version\n"
    "'emcomm COMMAND --help' describes one command.\n"
    "exit codes: 0 success, 2 bad input (option, value, file), 1 internal error (EMCOMM_DEBUG=1 shows\n"
    "its full text, with LibTorch's backtrace)\n";

// glibc serves blocks above its mmap threshold (at most 32 MB, adjusted as blocks are freed)
// with fresh mappings and returns freed heap tops to the kernel, so a training step that
// allocates and frees the same large tensors every time pays page faults and page zeroing each
// time: 29 % of the CPU time of the P = 50 S2P reference run (perf, docs/PERFORMANCE.md).
// Keeping freed memory in the process removes that; peak memory is unchanged, only not given
// back between steps.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
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
    if (cmd == "eval") return emcomm::eval_command(args);
    if (cmd == "bench") return emcomm::bench_command(args);
    if (cmd == "make-dataset") return emcomm::make_dataset_command(args);
    if (cmd == "export") return emcomm::export_command(args);
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (cmd == "--version" || cmd == "version") {
      std::printf("emcomm %s\n", emcomm::kEmcommVersion);
      return 0;
    }
    throw emcomm::UserError("unknown command '" + cmd + "'; commands: train, list, compare, sweep, analyze, eval, make-dataset, bench, export, help");
  } catch (const std::exception& e) {
    const emcomm::ErrorReport r = emcomm::report_exception(e, emcomm::debug_requested());
    std::fputs(printable(r.text).c_str(), stderr);
    return r.exit_code;
  }
}
