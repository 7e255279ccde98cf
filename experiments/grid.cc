// The experiment grid of `emcomm compare` and `emcomm sweep` (grid.h).
#include "experiments/grid.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
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

pid_t spawn_logged(const std::vector<std::string>& argv, const fs::path& log) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
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

Grid parse_grid(const std::string& command, const std::vector<std::string>& args) {
  const std::string usage =
      "usage: emcomm " + command + " CONFIG.ini --vary key=v1,v2[,...] [--vary ...] --seeds N [--jobs J] [--out DIR] "
      "[--plot] [--overwrite] [--section.key=value ...]";
  std::string config_path, out_arg;
  std::vector<GridVary> varies;
  std::vector<std::string> overrides;
  int64_t seeds = 0, jobs = 1;
  bool plot = false, overwrite = false;
  auto value_of = [&](size_t& i, const std::string& flag) -> std::string {
    const std::string& a = args[i];
    if (a.size() > flag.size() && a[flag.size()] == '=') return a.substr(flag.size() + 1);
    if (i + 1 >= args.size()) throw UserError(flag + " needs a value; " + usage);
    return args[++i];
  };
  auto positive = [&](const std::string& flag, const std::string& v) {
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 1 || n > 100000)
      throw UserError("option " + flag + ": got '" + v + "', expected an integer in [1, 100000]");
    return int64_t(n);
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto is = [&](const std::string& flag) { return a == flag || a.rfind(flag + "=", 0) == 0; };
    if (is("--vary")) {
      std::string spec = value_of(i, "--vary");
      auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        throw UserError("--vary '" + spec + "': expected section.key=v1,v2,...");
      GridVary v{spec.substr(0, eq), split(spec.substr(eq + 1), ',')};
      for (const auto& x : v.values)
        if (x.empty()) throw UserError("--vary " + v.key + ": empty value in '" + spec + "'");
      for (const auto& o : varies)
        if (o.key == v.key) throw UserError("--vary " + v.key + " given twice");
      varies.push_back(v);
    } else if (is("--seeds")) {
      seeds = positive("--seeds", value_of(i, "--seeds"));
    } else if (is("--jobs")) {
      jobs = positive("--jobs", value_of(i, "--jobs"));
    } else if (is("--out")) {
      out_arg = value_of(i, "--out");
    } else if (a == "--plot") {
      plot = true;
    } else if (a == "--overwrite") {
      overwrite = true;
    } else if (a.rfind("--", 0) == 0) {
      overrides.push_back(a);
    } else if (config_path.empty()) {
      config_path = a;
    } else {
      throw UserError("'emcomm " + command + "' takes one config file; got a second one: '" + a + "'");
    }
  }
  if (config_path.empty()) throw UserError(usage);
  if (!fs::is_regular_file(config_path)) throw UserError("config file '" + config_path + "' does not exist");
  if (seeds == 0) throw UserError(std::string("--seeds N is required; ") + usage);
  for (const auto& v : varies)
    for (const auto& o : overrides)
      if (o.rfind("--" + v.key + "=", 0) == 0) throw UserError("option " + v.key + " is both varied and overridden");

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
  const ConfigSchema schema = build_schema();
  for (const auto& c : combos) {
    std::string variant;
    std::vector<std::string> run_overrides = overrides;
    for (size_t k = 0; k < varies.size(); ++k) {
      variant += (variant.empty() ? "" : "_") + sanitize(varies[k].key + "-" + c[k]);
      run_overrides.push_back("--" + varies[k].key + "=" + c[k]);
    }
    if (variant.empty()) variant = "base";
    for (int64_t s = 1; s <= seeds; ++s) {
      GridRun r;
      r.values = c;
      r.seed = s;
      r.name = variant + "-seed" + std::to_string(s);
      r.dir = out / r.name;
      r.log = out / (r.name + ".log");
      auto o = run_overrides;
      o.push_back("--run.seed=" + std::to_string(s));
      resolve_config(schema, config_path, o);  // bad keys or values: exit 2 before anything runs
      runs.push_back(r);
    }
  }
  if (fs::exists(out / "results.csv") && !overwrite)
    throw UserError(command + " directory '" + out.string() + "' already holds results; pass --overwrite or choose --out");
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
  std::vector<std::string> argv = {exe, "train", g.config_path, "--overwrite", "--run.out=" + r.dir.string(),
                                   "--run.seed=" + std::to_string(r.seed)};
  argv.insert(argv.end(), g.overrides.begin(), g.overrides.end());
  for (size_t k = 0; k < g.varies.size(); ++k) argv.push_back("--" + g.varies[k].key + "=" + r.values[k]);
  return argv;
}

void record_run_end(Grid& g, size_t i, int status) {
  GridRun& r = g.runs[i];
  const bool exited_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::string summary_problem;
  if (exited_ok && fs::exists(r.dir / "summary.json")) {
    try {
      r.final = read_final(r.dir / "summary.json");
      r.ok = true;
      return;
    } catch (const std::runtime_error& e) {
      summary_problem = e.what();
    }
  }
  r.ok = false;
  r.error = summary_problem.empty() ? last_line(r.log) : summary_problem;
  if (r.error.empty())
    r.error = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                  : "exit code " + std::to_string(WEXITSTATUS(status));
}

void print_run_end(const Grid& g, size_t i, size_t done, const std::string& where) {
  const GridRun& r = g.runs[i];
  std::fprintf(stderr, "%s: [%zu/%zu] %s %s%s\n", g.command.c_str(), done, g.runs.size(), r.name.c_str(),
               r.ok ? "done" : ("FAILED: " + r.error).c_str(), where.c_str());
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
  const StableExe stable(g.out);
  const std::string exe = stable.path();
  std::map<pid_t, size_t> running;
  size_t next = 0, done = 0;
  std::fprintf(stderr, "%s: %zu runs, %lld at a time, into %s\n", g.command.c_str(), g.runs.size(), (long long)g.jobs, g.out.c_str());
  while (done < g.runs.size()) {
    while (next < g.runs.size() && int64_t(running.size()) < g.jobs) {
      running[spawn_logged(grid_train_argv(g, next, exe), g.runs[next].log)] = next;
      ++next;
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) throw std::runtime_error("waitpid failed");
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second;
    running.erase(it);
    record_run_end(g, i, status);
    print_run_end(g, i, ++done);
  }
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
    for (const auto& v : varies) csv << csv_field(v.key) << ",";
    csv << "seed,status,error,run_dir";
    for (const auto& m : metrics) csv << "," << csv_field(m);
    csv << "\n";
    for (const auto& r : runs) {
      for (const auto& x : r.values) csv << csv_field(x) << ",";
      csv << r.seed << "," << (r.ok ? "ok" : "failed") << "," << csv_field(r.error) << "," << csv_field(r.dir.string());
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
    if (!r.ok) failures << "- " << r.name << ": failed: " << r.error << "\n";
  std::string table = md.str();
  {
    std::ofstream s(out / "summary.md");
    s << "# emcomm " << command << ": " << config_path << "\n\n";
    s << "Mean ± 95 % confidence interval (Student t) over seeds 1.." << seeds
      << " of each variant's final figures (summary.json \"final\"). Runs: " << out.string() << "/\n\n";
    s << table;
    if (!failures.str().empty()) s << "\nFailed runs:\n" << failures.str();
  }
  std::printf("%s", table.c_str());
  if (!failures.str().empty()) std::printf("\nFailed runs:\n%s", failures.str().c_str());
  std::printf("\nresults: %s, %s\n", (out / "results.csv").c_str(), (out / "summary.md").c_str());

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
  return 0;
}

}  // namespace emcomm
