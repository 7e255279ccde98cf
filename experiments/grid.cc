// The experiment grid of `emcomm compare` and `emcomm sweep` (grid.h).
#include "experiments/grid.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <algorithm>
#include <stdexcept>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "algorithms/trainer.h"
#include "core/errors.h"
#include "experiments/arg_reader.h"
#include "experiments/commands.h"

namespace fs = std::filesystem;

namespace emcomm {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The "final" object of an emcomm summary.json ("name": number, or null for NaN). Throws
// std::runtime_error naming the file when it is not such a file.
std::map<std::string, double> read_final(const fs::path& summary) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(summary));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(summary.string() + " is not JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("final") || !j["final"].is_object())
    throw std::runtime_error(summary.string() + " has no \"final\" object");
  std::map<std::string, double> out;
  for (const auto& [key, v] : j["final"].items()) {
    if (v.is_number()) out[key] = v.get<double>();
    else if (v.is_null()) out[key] = std::nan("");
    else throw std::runtime_error(summary.string() + ": final figure '" + key + "' is not a number");
  }
  return out;
}

// The options of a resolved config that decide a run's results: all but its directory and
// those a resumed run may change (train_command.cc).
std::map<std::string, std::string> result_config(const Config& cfg) {
  auto v = cfg.values();
  for (const char* k : {"run.out", "run.stop_after", "run.checkpoint_every", "run.checkpoint_keep"}) v.erase(k);
  return v;
}

bool holds_run(const fs::path& dir) {
  for (const char* f : {"run.h5", "config.ini", "summary.json", "checkpoints"})
    if (fs::exists(dir / f)) return true;
  return false;
}

// "a=1 here, 2 there" for the first few options where two resolved configs differ.
std::string config_difference(const std::map<std::string, std::string>& want,
                              const std::map<std::string, std::string>& have) {
  std::set<std::string> keys;
  for (const auto& kv : want) keys.insert(kv.first);
  for (const auto& kv : have) keys.insert(kv.first);
  std::string out;
  int n = 0;
  for (const auto& k : keys) {
    auto a = want.find(k), b = have.find(k);
    const std::string va = a == want.end() ? "(unset)" : a->second, vb = b == have.end() ? "(unset)" : b->second;
    if (va == vb) continue;
    if (++n > 3) {
      out += ", ...";
      break;
    }
    out += (out.empty() ? "" : ", ") + k + "=" + vb + " there, " + va + " here";
  }
  return out;
}

// Without --overwrite: what to do with each run's directory. A finished run of the same
// config is kept, an unfinished one resumed from its checkpoint, one that ended before its
// first checkpoint trained again; a directory holding a run of another config is refused.
void plan_reruns(std::vector<GridRun>& runs, const ConfigSchema& schema, const std::string& command) {
  std::string clashes;
  int n_clash = 0;
  for (auto& r : runs) {
    r.plan = GridPlan::Fresh;
    if (!fs::exists(r.dir)) continue;
    if (!fs::is_directory(r.dir)) {
      if (n_clash++ < 3) clashes += "\n  " + r.dir.string() + " exists and is not a directory";
      continue;
    }
    if (!holds_run(r.dir)) continue;
    if (!fs::is_regular_file(r.dir / "config.ini")) {
      r.plan = GridPlan::Redo;  // ended before its config was written
      continue;
    }
    std::map<std::string, std::string> have;
    try {
      have = result_config(resolve_config(schema, (r.dir / "config.ini").string(), {}));
    } catch (const UserError& e) {
      if (n_clash++ < 3) clashes += "\n  " + r.dir.string() + ": its config.ini does not load: " + e.what();
      continue;
    }
    if (have != r.config) {
      if (n_clash++ < 3) clashes += "\n  " + r.dir.string() + " holds a run of another config: " + config_difference(r.config, have);
      continue;
    }
    if (fs::is_regular_file(r.dir / "summary.json")) {
      try {
        r.final = read_final(r.dir / "summary.json");
        r.plan = GridPlan::Reuse;
        r.ok = true;
        r.status = "ok";
        continue;
      } catch (const std::runtime_error&) {
        // a damaged summary: continue or redo the run below
      }
    }
    r.plan = Trainer::checkpoints((r.dir / "checkpoints").string()).empty() ? GridPlan::Redo : GridPlan::Resume;
  }
  if (n_clash > 0)
    throw UserError(std::to_string(n_clash) + " run director" + (n_clash == 1 ? "y" : "ies") + " of this " + command +
                    " hold something else:" + clashes +
                    "\npass --overwrite to train every run again, or choose another --out");
}

std::string last_line(const fs::path& log) {
  std::istringstream in(read_text(log));
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// Two-sided 95 % Student t quantile for df degrees of freedom.
double t95(int64_t df) {
  static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                             2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080, 2.074,  2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  return df <= 30 ? t[df] : 1.96;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string number(double v, int precision = 6) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

}  // namespace

pid_t spawn_logged(const std::vector<std::string>& argv, const fs::path& log, bool append) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Its own process group: a terminal's Ctrl-C reaches the grid only, which passes it on
    // once (twice would kill the run before its checkpoint). SIGTERM if the grid dies.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::perror("execv");
    _exit(127);
  }
  return pid;
}

static std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the emcomm executable (/proc/self/exe)");
  return p.string();
}

std::string grid_usage(const std::string& command) {
  return "usage: emcomm " + command + " CONFIG.ini --vary key=v1,v2[,...] [--vary ...] --seeds N [--jobs J] [--out DIR] "
         "[--plot] [--overwrite | --resume] [--section.key=value ...]";
}

bool grid_help(const std::string& command, const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::printf("%s\n"
                  "Every combination of the varied values x seeds 1..N, each an 'emcomm train' run in DIR/<variant>-seed<k>/\n"
                  "(default DIR: runs/%s-<config name>), then DIR/results.csv and DIR/summary.md (mean +- 95 %% CI).\n"
                  "A rerun keeps finished runs and resumes interrupted ones; --overwrite trains every run again.\n"
                  "SIGINT/SIGTERM stop every run with a checkpoint and write the tables (exit 130/143).\n"
                  "Exit codes: 0 every run finished, 2 bad arguments, 3 some run failed or did not finish.\n"
                  "See README.md, 'Comparing variants', and docs/scale-out.md.\n",
                  grid_usage(command).c_str(), command.c_str());
      return true;
    }
  return false;
}

Grid parse_grid(const std::string& command, const std::vector<std::string>& args) {
  const std::string usage = grid_usage(command);
  std::string config_path, out_arg;
  std::vector<GridVary> varies;
  std::vector<std::string> overrides;
  int64_t seeds = 0, jobs = 1;
  bool plot = false, overwrite = false, resume = false;
  auto positive = [&](const std::string& flag, const std::string& v) {
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 1 || n > 100000)
      throw UserError("option " + flag + ": got '" + v + "', expected an integer in [1, 100000]");
    return int64_t(n);
  };
  ArgReader r(args, "'emcomm " + command + "'", usage);
  std::string spec, value;
  while (r.next()) {
    const std::string& a = r.arg();
    if (r.value("--vary", spec, /*repeatable=*/true)) {
      auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        throw UserError("--vary '" + spec + "': expected section.key=v1,v2,...");
      GridVary v{spec.substr(0, eq), split(spec.substr(eq + 1), ',')};
      for (const auto& x : v.values)
        if (x.empty()) throw UserError("--vary " + v.key + ": empty value in '" + spec + "'");
      for (const auto& o : varies)
        if (o.key == v.key) throw UserError("--vary " + v.key + " given twice");
      varies.push_back(v);
    } else if (r.value("--seeds", value)) {
      seeds = positive("--seeds", value);
    } else if (r.value("--jobs", value)) {
      jobs = positive("--jobs", value);
    } else if (r.value("--out", out_arg)) {
    } else if (a == "--plot") {
      plot = true;
    } else if (a == "--overwrite") {
      overwrite = true;
    } else if (a == "--resume") {
      resume = true;  // the default; said explicitly
    } else if (a.rfind("--", 0) == 0) {
      overrides.push_back(a);
    } else if (!overrides.empty() && overrides.back().find('=') == std::string::npos && r.index() > 0 &&
               args[r.index() - 1] == overrides.back()) {
      throw UserError("options take their value after '=': write " + overrides.back() + "=" + a + " (got '" +
                      overrides.back() + " " + a + "')");
    } else if (config_path.empty()) {
      config_path = a;
    } else {
      throw UserError("'emcomm " + command + "' takes one config file; got a second one: '" + a + "'");
    }
  }
  if (config_path.empty()) throw UserError(usage);
  if (resume && overwrite)
    throw UserError("--resume and --overwrite exclude each other: --resume keeps finished runs and continues the others, "
                    "--overwrite trains every run again");
  if (fs::is_directory(config_path))
    throw UserError("config file '" + config_path + "' is a directory; give a config file (e.g. experiments/configs/*.ini)");
  if (!fs::is_regular_file(config_path)) throw UserError("config file '" + config_path + "' does not exist");
  if (seeds == 0) throw UserError(std::string("--seeds N is required; ") + usage);
  for (const auto& v : varies)
    for (const auto& o : overrides)
      if (o.rfind("--" + v.key + "=", 0) == 0) throw UserError("option " + v.key + " is both varied and overridden");
  // The grid sets run.seed (1..N) and run.out (DIR/<variant>-seed<k>) itself; anything else
  // would make the table's seeds or directories not the runs'.
  for (const auto& v : varies) {
    if (v.key == "run.seed")
      throw UserError("--vary run.seed: the seeds are set by --seeds N (runs use seeds 1..N); vary other options");
    if (v.key == "run.out")
      throw UserError("--vary run.out: every run has its own directory DIR/<variant>-seed<k>; set DIR with --out");
    std::set<std::string> seen;
    for (const auto& x : v.values)
      if (!seen.insert(x).second)
        throw UserError("--vary " + v.key + ": value '" + x + "' given twice; each variant must be distinct");
  }
  for (const auto& o : overrides) {
    if (o.rfind("--run.seed=", 0) == 0 || o == "--run.seed")
      throw UserError("option run.seed cannot be set for a grid: --seeds N runs seeds 1..N (got '" + o + "')");
    if (o.rfind("--run.out=", 0) == 0 || o == "--run.out")
      throw UserError("option run.out cannot be set for a grid: every run writes DIR/<variant>-seed<k>; set DIR with --out (got '" + o + "')");
  }

  // The grid: every combination of varied values, each with seeds 1..N.
  std::vector<GridRun> runs;
  std::vector<std::vector<std::string>> combos = {{}};
  for (const auto& v : varies) {
    std::vector<std::vector<std::string>> next;
    for (const auto& c : combos)
      for (const auto& x : v.values) {
        auto n = c;
        n.push_back(x);
        next.push_back(n);
      }
    combos = next;
  }
  fs::path out = out_arg.empty() ? fs::path("runs") / (command + "-" + fs::path(config_path).stem().string()) : fs::path(out_arg);
  out = fs::absolute(out).lexically_normal();
  const ConfigSchema schema = build_schema();
  std::map<std::string, std::string> dir_variant;  // directory name -> the variant that uses it
  for (const auto& c : combos) {
    std::string variant, label;
    std::vector<std::string> run_overrides = overrides;
    for (size_t k = 0; k < varies.size(); ++k) {
      variant += (variant.empty() ? "" : "_") + sanitize(varies[k].key + "-" + c[k]);
      label += (label.empty() ? "" : ", ") + varies[k].key + "=" + c[k];
      run_overrides.push_back("--" + varies[k].key + "=" + c[k]);
    }
    if (variant.empty()) variant = "base";
    if (label.empty()) label = "base";
    auto [it, fresh] = dir_variant.emplace(variant, label);
    if (!fresh)
      throw UserError("--vary: variants '" + it->second + "' and '" + label + "' would share the run directory '" +
                      variant + "-seed<k>'; give values that differ in letters, digits, '.', '-' or '_'");
    for (int64_t s = 1; s <= seeds; ++s) {
      GridRun r;
      r.values = c;
      r.seed = s;
      r.name = variant + "-seed" + std::to_string(s);
      r.dir = out / r.name;
      r.log = out / (r.name + ".log");
      auto o = run_overrides;
      o.push_back("--run.seed=" + std::to_string(s));
      o.push_back("--run.out=" + r.dir.string());
      // Bad keys or values: exit 2 before anything runs.
      r.config = result_config(resolve_config(schema, config_path, o));
      runs.push_back(r);
    }
  }
  // Two variants that resolve to the same config (env.comm=turns,turns; 3,03) would be one
  // run shown as two.
  for (size_t a = 0; a < runs.size(); ++a)
    for (size_t b = a + 1; b < runs.size(); ++b)
      if (runs[a].seed == runs[b].seed && runs[a].config == runs[b].config)
        throw UserError("--vary: runs '" + runs[a].name + "' and '" + runs[b].name +
                        "' resolve to the same config, so they would be one run counted twice; give distinct values");
  if (!overwrite) plan_reruns(runs, schema, command);
  else
    for (auto& r : runs) r.plan = GridPlan::Redo;
  Grid g;
  g.command = command;
  g.config_path = config_path;
  g.varies = varies;
  g.overrides = overrides;
  g.combos = combos;
  g.runs = runs;
  g.seeds = seeds;
  g.jobs = jobs;
  g.plot = plot;
  g.overwrite = overwrite;
  g.out = out;
  return g;
}

std::vector<std::string> grid_train_argv(const Grid& g, size_t i, const std::string& exe) {
  const GridRun& r = g.runs[i];
  if (r.plan == GridPlan::Resume) {
    std::vector<std::string> argv = {exe, "train", "--resume", r.dir.string()};
    for (const auto& o : g.overrides)
      for (const char* k : {"--run.stop_after=", "--run.checkpoint_every=", "--run.checkpoint_keep="})
        if (o.rfind(k, 0) == 0) argv.push_back(o);
    return argv;
  }
  std::vector<std::string> argv = {exe, "train", g.config_path, "--run.out=" + r.dir.string(),
                                   "--run.seed=" + std::to_string(r.seed)};
  if (r.plan == GridPlan::Redo) argv.push_back("--overwrite");
  argv.insert(argv.end(), g.overrides.begin(), g.overrides.end());
  for (size_t k = 0; k < g.varies.size(); ++k) argv.push_back("--" + g.varies[k].key + "=" + r.values[k]);
  return argv;
}

void make_grid_out(const Grid& g) {
  std::error_code ec;
  fs::create_directories(g.out, ec);
  if (ec || !fs::is_directory(g.out))
    throw UserError("--out '" + g.out.string() + "': cannot create the directory: " +
                    (ec ? ec.message() : std::string("a file of that name exists")));
}

void record_run_end(Grid& g, size_t i, int status) {
  GridRun& r = g.runs[i];
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string summary_problem;
  if (exited_ok && fs::exists(r.dir / "summary.json")) {
    try {
      r.final = read_final(r.dir / "summary.json");
      r.ok = true;
      r.status = "ok";
      r.error.clear();
      return;
    } catch (const std::runtime_error& e) {
      summary_problem = e.what();
    }
  }
  r.ok = false;
  r.final.clear();
  r.error = summary_problem.empty() ? last_line(r.log) : summary_problem;
  const bool by_signal = WIFSIGNALED(status) || (WIFEXITED(status) && (WEXITSTATUS(status) == 128 + SIGINT ||
                                                                        WEXITSTATUS(status) == 128 + SIGTERM));
  if (by_signal) r.status = "interrupted";
  else if (exited_ok && summary_problem.empty()) r.status = "stopped";  // run.stop_after: resumable
  else r.status = "failed";
  if (WIFSIGNALED(status))  // the log's last line is whatever the run printed before, not why it ended
    r.error = "killed by signal " + std::to_string(WTERMSIG(status)) + (r.error.empty() ? "" : "; its log ends: " + r.error);
  else if (r.error.empty())
    r.error = "exit code " + std::to_string(WEXITSTATUS(status));
}

void mark_not_run(Grid& g, const std::vector<bool>& started) {
  for (size_t i = 0; i < g.runs.size(); ++i)
    if (!started[i] && g.runs[i].plan != GridPlan::Reuse) {
      g.runs[i].ok = false;
      g.runs[i].status = "not run";
      g.runs[i].error = std::string("not started: ") + g.command + " was stopped by " +
                        (g.stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    }
}

namespace {

volatile std::sig_atomic_t g_grid_signal = 0;
volatile std::sig_atomic_t g_grid_signals = 0;
void on_grid_signal(int sig) {
  if (g_grid_signal == 0) g_grid_signal = sig;
  g_grid_signals = g_grid_signals + 1;
}
void on_child_end(int) {}

sigset_t g_old_mask;
struct sigaction g_old_int, g_old_term, g_old_chld;
bool g_blocked = false;

}  // namespace

GridSignals::GridSignals(bool block) {
  g_grid_signal = 0;
  g_grid_signals = 0;
  struct sigaction sa {};
  sa.sa_handler = on_grid_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // waits are sigsuspend/usleep, which a signal always interrupts
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
  struct sigaction chld {};
  chld.sa_handler = on_child_end;
  sigemptyset(&chld.sa_mask);
  chld.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &chld, &g_old_chld);
  g_blocked = block;
  if (block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &g_old_mask);
  }
}

GridSignals::~GridSignals() {
  if (g_blocked) sigprocmask(SIG_SETMASK, &g_old_mask, nullptr);  // pending ones reach our handler first
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGCHLD, &g_old_chld, nullptr);
}

int GridSignals::signal() { return g_grid_signal; }
int GridSignals::count() { return g_grid_signals; }

void GridSignals::wait() {
  // ppoll unblocks the signals and waits atomically; the timeout only guards against a signal
  // taken by another thread (MPI's, LibTorch's), which this thread would not see.
  struct timespec ts {0, g_blocked ? 200000000L : 2000000L};
  if (g_blocked) {
    sigset_t wait_mask = g_old_mask;
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGCHLD);
    ppoll(nullptr, 0, &ts, &wait_mask);
  } else {
    ppoll(nullptr, 0, &ts, nullptr);
  }
}

void print_run_end(const Grid& g, size_t i, size_t done, const std::string& where) {
  const GridRun& r = g.runs[i];
  std::fprintf(stderr, "%s: [%zu/%zu] %s %s%s\n", g.command.c_str(), done, g.runs.size(), r.name.c_str(),
               r.ok ? "done"
               : r.status == "failed" ? ("FAILED: " + r.error).c_str()
                                      : (r.status + ": " + r.error).c_str(),
               where.c_str());
}

StableExe::StableExe(const fs::path& dir) {
  path_ = dir / (".emcomm-" + std::to_string(getpid()));
  std::error_code ec;
  fs::copy_file(self_exe(), path_, fs::copy_options::overwrite_existing, ec);
  if (ec) throw std::runtime_error("cannot copy the emcomm executable to " + path_.string() + ": " + ec.message());
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add);
}

StableExe::~StableExe() {
  std::error_code ec;
  fs::remove(path_, ec);
}

void run_local_pool(Grid& g) {
  GridSignals signals(true);
  const StableExe stable(g.out);
  const std::string exe = stable.path();
  std::map<pid_t, size_t> running;
  std::vector<bool> started(g.runs.size(), false);
  size_t next = 0, done = 0;
  std::fprintf(stderr, "%s: %zu runs, %lld at a time, into %s\n", g.command.c_str(), g.runs.size(), (long long)g.jobs, g.out.c_str());
  int forwarded = 0;  // signals passed on to the running children
  while (true) {
    while (!GridSignals::signal() && next < g.runs.size() && int64_t(running.size()) < g.jobs) {
      const size_t i = next++;
      started[i] = true;
      if (g.runs[i].plan == GridPlan::Reuse) {
        std::fprintf(stderr, "%s: [%zu/%zu] %s reused (finished earlier, same config)\n", g.command.c_str(), ++done,
                     g.runs.size(), g.runs[i].name.c_str());
        continue;
      }
      if (g.runs[i].plan == GridPlan::Resume)
        std::fprintf(stderr, "%s: resuming %s from its checkpoint\n", g.command.c_str(), g.runs[i].name.c_str());
      running[spawn_logged(grid_train_argv(g, i, exe), g.runs[i].log, g.runs[i].plan == GridPlan::Resume)] = i;
    }
    if (GridSignals::count() > forwarded) {
      // Each child stops as `train` does on this signal (a second one stops it at once).
      if (forwarded == 0)
        std::fprintf(stderr, "%s: %s: stopping %zu running run(s); no further run starts\n", g.command.c_str(),
                     GridSignals::signal() == SIGINT ? "SIGINT" : "SIGTERM", running.size());
      for (const auto& [pid, i] : running) kill(pid, GridSignals::signal());
      forwarded = GridSignals::count();
    }
    if (running.empty() && (GridSignals::signal() || next >= g.runs.size())) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR && errno != ECHILD) throw std::runtime_error("waitpid failed");
    if (pid <= 0) {
      signals.wait();
      continue;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second;
    running.erase(it);
    record_run_end(g, i, status);
    print_run_end(g, i, ++done);
  }
  g.stop_signal = GridSignals::signal();
  if (g.stop_signal) mark_not_run(g, started);
}

int write_grid_results(const Grid& grid) {
  const auto& runs = grid.runs;
  const auto& varies = grid.varies;
  const auto& combos = grid.combos;
  const auto& out = grid.out;
  const auto& config_path = grid.config_path;
  const auto& command = grid.command;
  const int64_t seeds = grid.seeds;
  const bool plot = grid.plot;
  // results.csv: one row per run.
  std::set<std::string> metric_set;
  for (const auto& r : runs)
    for (const auto& kv : r.final) metric_set.insert(kv.first);
  std::vector<std::string> metrics(metric_set.begin(), metric_set.end());
  {
    std::ofstream csv(out / "results.csv");
    if (!csv) throw UserError("cannot write '" + (out / "results.csv").string() + "': " + std::strerror(errno));
    for (const auto& v : varies) csv << csv_field(v.key) << ",";
    csv << "seed,status,error,run_dir";
    for (const auto& m : metrics) csv << "," << csv_field(m);
    csv << "\n";
    for (const auto& r : runs) {
      for (const auto& x : r.values) csv << csv_field(x) << ",";
      csv << r.seed << "," << csv_field(r.status) << "," << csv_field(r.error) << "," << csv_field(r.dir.string());
      for (const auto& m : metrics) {
        auto it = r.final.find(m);
        csv << "," << (it == r.final.end() ? "" : number(it->second, 10));
      }
      csv << "\n";
    }
  }

  // summary.md: metrics as rows, variants as columns, mean +- 95 % CI over the seeds that finished.
  std::vector<std::string> labels;
  std::vector<std::vector<const GridRun*>> groups;
  for (const auto& c : combos) {
    std::string label;
    for (size_t k = 0; k < varies.size(); ++k) label += (label.empty() ? "" : ", ") + varies[k].key + "=" + c[k];
    labels.push_back(label.empty() ? "base" : label);
    std::vector<const GridRun*> g;
    for (const auto& r : runs)
      if (r.values == c) g.push_back(&r);
    groups.push_back(g);
  }
  std::ostringstream md;
  md << "| metric |";
  for (const auto& l : labels) md << " " << l << " |";
  md << "\n|---|";
  for (size_t i = 0; i < labels.size(); ++i) md << "---|";
  md << "\n| runs ok |";
  for (const auto& g : groups) {
    int64_t ok = std::count_if(g.begin(), g.end(), [](const GridRun* r) { return r->ok; });
    md << " " << ok << "/" << g.size() << " |";
  }
  md << "\n";
  for (const auto& m : metrics) {
    md << "| " << m << " |";
    for (const auto& g : groups) {
      std::vector<double> xs;
      for (const GridRun* r : g) {
        auto it = r->final.find(m);
        if (r->ok && it != r->final.end() && !std::isnan(it->second)) xs.push_back(it->second);
      }
      if (xs.empty()) {
        md << " - |";
        continue;
      }
      double mean = 0;
      for (double x : xs) mean += x;
      mean /= xs.size();
      if (xs.size() < 2) {
        md << " " << number(mean, 4) << " |";
        continue;
      }
      double var = 0;
      for (double x : xs) var += (x - mean) * (x - mean);
      var /= double(xs.size() - 1);
      double ci = t95(int64_t(xs.size()) - 1) * std::sqrt(var / double(xs.size()));
      md << " " << number(mean, 4) << " ± " << number(ci, 2) << " |";
    }
    md << "\n";
  }
  std::ostringstream failures;
  for (const auto& r : runs)
    if (!r.ok) failures << "- " << r.name << ": " << r.status << ": " << r.error << "\n";
  std::string table = md.str();
  {
    std::ofstream s(out / "summary.md");
    if (!s) throw UserError("cannot write '" + (out / "summary.md").string() + "': " + std::strerror(errno));
    s << "# emcomm " << command << ": " << config_path << "\n\n";
    s << "Mean ± 95 % confidence interval (Student t) over seeds 1.." << seeds
      << " of each variant's final figures (summary.json \"final\"). Runs: " << out.string() << "/\n\n";
    s << table;
    if (!failures.str().empty()) s << "\nFailed runs:\n" << failures.str();
  }
  std::printf("%s", table.c_str());
  if (!failures.str().empty()) std::printf("\nFailed runs:\n%s", failures.str().c_str());
  std::printf("\nresults: %s, %s\n", (out / "results.csv").c_str(), (out / "summary.md").c_str());
  const int64_t n_ok = std::count_if(runs.begin(), runs.end(), [](const GridRun& r) { return r.ok; });
  int code = 0;
  if (grid.stop_signal) {
    std::fprintf(stderr,
                 "%s: stopped by %s: %lld of %zu runs finished; rerun the same command to continue the others "
                 "(finished runs are kept, interrupted ones resume from their checkpoint)\n",
                 command.c_str(), grid.stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)n_ok, runs.size());
    code = 128 + grid.stop_signal;
  } else if (n_ok < int64_t(runs.size())) {
    std::fprintf(stderr, "%s: %lld of %zu runs did not finish (exit code %d); see Failed runs above\n", command.c_str(),
                 (long long)(int64_t(runs.size()) - n_ok), runs.size(), kExitRunsFailed);
    code = kExitRunsFailed;
  }

  std::fflush(stdout);
  if (plot) {
    const char* dir = std::getenv("EMCOMM_SCRIPTS_DIR");
    fs::path script = fs::path(dir ? dir : EMCOMM_SCRIPTS_DIR) / "plot.py";
    if (std::system("command -v /usr/bin/python3 >/dev/null 2>&1") != 0 || !fs::exists(script)) {
      std::fprintf(stderr, "%s: --plot skipped: needs /usr/bin/python3 and %s\n", command.c_str(), script.c_str());
    } else {
      std::string cmd = "/usr/bin/python3 '" + script.string() + "' --compare '" + out.string() + "'";
      if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "%s: plot.py failed (see its message above)\n", command.c_str());
    }
  }
  return code;
}

}  // namespace emcomm
