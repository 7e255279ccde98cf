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

// What a (re)run of the grid does with one run's directory (docs/scale-out.md, "Reruns").
enum class GridPlan {
  Fresh,   // no run there: train it
  Reuse,   // a finished run of the same config: keep it, read its summary.json
  Resume,  // an unfinished run of the same config with a checkpoint: train --resume
  Redo,    // a run of the same config that ended before its first checkpoint, or --overwrite
};

struct GridRun {
  std::vector<std::string> values;  // one per GridVary
  int64_t seed = 1;
  std::string name;  // directory name
  std::filesystem::path dir, log;  // absolute
  GridPlan plan = GridPlan::Fresh;
  bool ok = false;
  // "ok", "failed", "interrupted" (stopped by a signal, resumable), "stopped" (run.stop_after,
  // resumable) or "not run" (the grid was stopped before it started).
  std::string status = "not run";
  std::string error;
  std::map<std::string, double> final;  // NaN for null
  std::map<std::string, std::string> config;  // resolved values that decide its results
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
  int stop_signal = 0;  // SIGINT or SIGTERM when the grid was stopped
};

// Parses `compare`/`sweep` arguments and validates every run's config (bad keys or values,
// a run.seed or run.out that would make the seeds or directories not what the table says,
// repeated variants: UserError, before anything runs). Without --overwrite, plans each run
// from what its directory holds (GridPlan) and refuses a directory holding a run of another
// config. Creates nothing.
Grid parse_grid(const std::string& command, const std::vector<std::string>& args);

// Creates g.out; a UserError naming it and the reason when it cannot be created (an --out
// under a file, or where the user may not write).
void make_grid_out(const Grid& g);

// The usage line of `compare`/`sweep`.
std::string grid_usage(const std::string& command);

// True when args ask for help (--help or -h); then the usage was printed to stdout.
bool grid_help(const std::string& command, const std::vector<std::string>& args);

// The argv of `emcomm train` for run i (exe = the emcomm executable): a fresh run, a redo
// (--overwrite) or a resume (--resume), following its plan.
std::vector<std::string> grid_train_argv(const Grid& g, size_t i, const std::string& exe);

// Starts argv with stdout and stderr going to `log` (appended to when `append`); returns the
// child's pid. The child gets its own process group (a Ctrl-C reaches the grid, which passes
// it on once) and SIGTERM when the grid process dies.
pid_t spawn_logged(const std::vector<std::string>& argv, const std::filesystem::path& log, bool append = false);

// Records how run i ended (a waitpid status): its summary.json "final" or its error line.
void record_run_end(Grid& g, size_t i, int wait_status);

// Marks the runs that never started (the grid was stopped by g.stop_signal).
void mark_not_run(Grid& g, const std::vector<bool>& started);

// SIGINT and SIGTERM handling of a grid process: while alive, the signals only set a flag
// (signal()) that the pool reads; with `block`, SIGINT/SIGTERM/SIGCHLD are blocked except
// inside wait(), so no signal or child end is missed between a check and the wait.
class GridSignals {
 public:
  explicit GridSignals(bool block);
  ~GridSignals();
  GridSignals(const GridSignals&) = delete;
  GridSignals& operator=(const GridSignals&) = delete;
  static int signal();  // the first SIGINT/SIGTERM received, 0 if none
  static int count();   // how many were received
  void wait();          // until a signal (or a child's end) arrives
};

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
// SIGINT/SIGTERM stop it: the signal is passed on to every running child (which checkpoints
// and exits as `train` does), no further run starts, and it returns once they have ended,
// with g.stop_signal set.
void run_local_pool(Grid& g);

// Writes results.csv and summary.md into g.out, prints the table, and runs the plot script
// when g.plot. Returns the grid's exit code: 0 when every run finished, 128 + the signal when
// it was stopped, kExitRunsFailed when any run failed or did not finish.
int write_grid_results(const Grid& g);

constexpr int kExitRunsFailed = 3;

}  // namespace emcomm
