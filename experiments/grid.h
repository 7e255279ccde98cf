// The experiment grid shared by `emcomm compare` (a local pool of processes) and `emcomm sweep`
// (the same grid under MPI): parsing the arguments, validating every run's config before
// anything runs, running one run as a child `emcomm train`, and writing results.csv and
// summary.md from the runs' summary.json files.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace emcomm {

struct GridVary {
  std::string key;
  std::vector<std::string> values;
};

struct GridRun {
  std::vector<std::string> values;  // one per GridVary
  int64_t seed = 1;
  std::string name;  // directory name
  std::filesystem::path dir, log;
  bool ok = false;
  std::string error;
  std::map<std::string, double> final;  // NaN for null
};

struct Grid {
  std::string command;  // "compare" or "sweep", for messages
  std::string config_path;
  std::vector<GridVary> varies;
  std::vector<std::string> overrides;
  std::vector<std::vector<std::string>> combos;  // every combination of varied values
  std::vector<GridRun> runs;                     // combos x seeds 1..N, in that order
  int64_t seeds = 0, jobs = 1;
  bool plot = false, overwrite = false;
  std::filesystem::path out;
};

// Parses `compare`/`sweep` arguments and validates every run's config (bad keys or values:
// UserError, before anything runs). Refuses an output directory that already holds results
// unless --overwrite. Creates nothing.
Grid parse_grid(const std::string& command, const std::vector<std::string>& args);

// The argv of `emcomm train` for run i (exe = the emcomm executable).
std::vector<std::string> grid_train_argv(const Grid& g, size_t i, const std::string& exe);

// Starts argv with stdout and stderr going to `log`; returns the child's pid.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::filesystem::path& log);

// Records how run i ended (a waitpid status): its summary.json "final" or its error line.
void record_run_end(Grid& g, size_t i, int wait_status);

// The progress line of a finished run: "<command>: [done/N] name done|FAILED: error<where>".
void print_run_end(const Grid& g, size_t i, size_t done, const std::string& where = "");

// A private copy of this executable in `dir`, removed again at scope exit: the runs exec the
// copy, so rebuilding emcomm while a long grid runs does not break its later runs.
class StableExe {
 public:
  explicit StableExe(const std::filesystem::path& dir);
  ~StableExe();
  StableExe(const StableExe&) = delete;
  StableExe& operator=(const StableExe&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Runs every run of the grid here, g.jobs child processes at a time, printing progress.
void run_local_pool(Grid& g);

// Writes results.csv and summary.md into g.out, prints the table, and runs the plot script
// when g.plot. Returns 0.
int write_grid_results(const Grid& g);

}  // namespace emcomm
