// The emcomm command-line tool: one function per subcommand. Each returns the exit code;
// user errors are thrown as emcomm::UserError and turned into exit code 2 by main().
#pragma once

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "algorithms/runtime.h"  // build_schema, threads, the BLAS check
#include "core/config.h"

namespace emcomm {

// The version recorded in every run file (emcomm_version) and printed by `emcomm --version`.
constexpr const char* kEmcommVersion = "0.1.0";

// What main() prints for an exception that ends a command, and the exit code: a UserError
// "emcomm: error: ..." (2); a LibTorch error "emcomm: internal error: <its message without the
// backtrace>" (1; the whole text with debug, i.e. EMCOMM_DEBUG=1); a failed internal check
// "emcomm: internal error: ..." (1); anything else "emcomm: fatal: ..." (1). One line unless debug.
struct ErrorReport {
  int exit_code = 1;
  std::string text;
};
ErrorReport report_exception(const std::exception& e, bool debug);
bool debug_requested();  // EMCOMM_DEBUG is set and not "0"

int train_command(const std::vector<std::string>& args);
int list_command(const std::vector<std::string>& args);
int compare_command(const std::vector<std::string>& args);
int sweep_command(const std::vector<std::string>& args);  // compare's grid under MPI
int analyze_command(const std::vector<std::string>& args);
int eval_command(const std::vector<std::string>& args);  // a trained run from a checkpoint, no training
int bench_command(const std::vector<std::string>& args);
int make_dataset_command(const std::vector<std::string>& args);
int export_command(const std::vector<std::string>& args);  // a run's messages in another tool's layout

// emcomm export --format elcc (experiments/export_command.cc; emcomm.export_elcc calls it): the
// messages of `split` at `step` (latest | all | a step number) of the run file `run` (or run
// directory) written to out_dir/corpus.jsonl and out_dir/metadata.json. UserError for a missing
// or corrupt file, an unknown split or step, an existing out_dir without `overwrite`.
struct ElccRequest {
  std::string run, out_dir, split, step = "latest";  // split "": val, else the run's only split
  bool overwrite = false;
};
struct ElccResult {
  int64_t lines = 0;
  std::string corpus, metadata;  // the files written
};
ElccResult export_elcc(const ElccRequest& request);

}  // namespace emcomm
