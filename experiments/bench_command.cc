// emcomm bench: throughput of every workload (bench/bench.h), the machine's matmul peak in the
// same run, and optionally the Python baseline of bench/python/ for the ratio, and (--vs-bindings)
// Markov-game stepping through the Python bindings against the same C++ loop (python -m emcomm.bench).
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/bench.h"
#include "core/errors.h"
#include "core/json.h"
#include "experiments/arg_reader.h"
#include "experiments/commands.h"

namespace emcomm {
namespace {

constexpr const char* kBenchUsage =
    "usage: emcomm bench [--json] [--only NAME[,NAME...]] [--seconds S] [--threads N] [--vs-python] [--vs-bindings]";
constexpr int64_t kPeakSize = 1024;  // the n x n x n matmul of the peak

double parse_number(const std::string& flag, const std::string& v, double lo, double hi, const char* what) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(x >= lo && x <= hi))
    throw UserError("option " + flag + ": got '" + v + "', expected " + what);
  return x;
}

std::string first_line_with(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "unknown";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  return "[" + json_number(a) + ", " + json_number(b) + ", " + json_number(c) + "]";
}

std::string python_dir() {
  const char* env = std::getenv("EMCOMM_BENCH_PYTHON_DIR");
  return env ? env : EMCOMM_BENCH_PYTHON_DIR;
}

// Runs a shell command; its standard output, or nullopt when it cannot start or exits non-zero.
std::optional<std::string> read_command(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return std::nullopt;
  return out;
}

struct PythonRate {
  double rate = 0, cpu_share = 0;
};

// Runs the Python baseline; returns its figures per workload (stdout lines "NAME RATE CPU_SHARE").
std::map<std::string, PythonRate> run_python(double seconds) {
  const char* py = std::getenv("EMCOMM_PYTHON");
  std::string cmd = std::string("'") + (py ? py : "/usr/bin/python3") + "' '" + python_dir() +
                    "/lewis_bench.py' --seconds " + std::to_string(seconds);
  const auto out = read_command(cmd);
  if (!out) throw UserError("the Python baseline failed (" + cmd + "); it needs python3-torch (scripts/setup-deps)");
  std::map<std::string, PythonRate> rates;
  std::istringstream lines(*out);
  std::string name;
  PythonRate r;
  while (lines >> name >> r.rate >> r.cpu_share) rates[name] = r;
  return rates;
}

// --vs-bindings: `python -m emcomm.bench --json` of the emcomm module built beside this binary
// (EMCOMM_PYTHON_MODULE_DIR, or $EMCOMM_PYTHONPATH), one line of JSON per env.
struct BindingsRate {
  std::string env;
  double python = 0, cpp = 0, ratio = 0, python_cpu = 0, cpp_cpu = 0, cpu_ratio = 0;
  int64_t batch = 0, rounds = 0;
};

std::vector<BindingsRate> run_bindings(double seconds) {
  const char* py = std::getenv("EMCOMM_PYTHON");
  const char* path = std::getenv("EMCOMM_PYTHONPATH");
  const std::string dir = path ? path : EMCOMM_PYTHON_MODULE_DIR;
  std::vector<BindingsRate> out;
  for (const std::string env : {"particle", "matrix"}) {
    const std::string cmd = "PYTHONPATH='" + dir + "' '" + (py ? py : "/usr/bin/python3") +
                            "' -m emcomm.bench --json --batch 1024 --env " + env + " --seconds " + std::to_string(seconds);
    const auto output = read_command(cmd);
    if (!output)
      throw UserError("the bindings bench failed (" + cmd + "); it needs the emcomm Python module (built with "
                      "pybind11-dev and python3-dev, docs/python.md) and numpy");
    const std::string& text = *output;
    // A flat JSON object of numbers and one string: read the fields by name.
    auto number = [&](const std::string& key) {
      const size_t at = text.find("\"" + key + "\":");
      if (at == std::string::npos) throw std::runtime_error("bindings bench output lacks " + key + ": " + text);
      return std::strtod(text.c_str() + at + key.size() + 3, nullptr);
    };
    BindingsRate r;
    r.env = env;
    r.python = number("python_steps_per_s");
    r.cpp = number("cpp_steps_per_s");
    r.ratio = number("ratio");
    r.python_cpu = number("python_steps_per_cpu_s");
    r.cpp_cpu = number("cpp_steps_per_cpu_s");
    r.cpu_ratio = number("cpu_ratio");
    r.batch = int64_t(number("batch"));
    r.rounds = int64_t(number("rounds"));
    out.push_back(r);
  }
  return out;
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  bool json = false, vs_python = false, vs_bindings = false;
  double seconds = 2.0;
  int threads = 1;
  std::vector<std::string> only;
  for (const auto& a : args)
    if (a == "--help" || a == "-h") {
      std::printf("%s\nMeasures the throughput of each workload; see docs/PERFORMANCE.md.\n", kBenchUsage);
      return 0;
    }
  ArgReader r(args, "'emcomm bench'", kBenchUsage);
  std::string v, list;
  while (r.next()) {
    const std::string& a = r.arg();
    if (a == "--json") json = true;
    else if (a == "--vs-python") vs_python = true;
    else if (a == "--vs-bindings") vs_bindings = true;
    else if (r.value("--seconds", v)) seconds = parse_number("--seconds", v, 0.01, 3600, "a number of seconds in [0.01, 3600]");
    else if (r.value("--threads", v)) {
      double t = parse_number("--threads", v, 1, 256, "an integer in [1, 256]");
      if (t != double(int(t))) throw UserError("option --threads: got '" + v + "', expected an integer in [1, 256]");
      threads = int(t);
    } else if (r.value("--only", list)) {
      for (size_t begin = 0, end; begin <= list.size(); begin = end + 1) {
        end = std::min(list.find(',', begin), list.size());
        const std::string name = list.substr(begin, end - begin);
        bool known = false;
        std::string names;
        for (const auto& w : bench::workloads()) {
          known = known || w.name == name;
          names += (names.empty() ? "" : ", ") + w.name;
        }
        if (!known) throw UserError("--only: unknown workload '" + name + "'; workloads: " + names);
        only.push_back(name);
      }
    } else {
      throw UserError("unknown argument '" + a + "'; " + kBenchUsage);
    }
  }
  if (only.empty())
    for (const auto& w : bench::workloads()) only.push_back(w.name);

  const std::string load_start = load_average();
  // Peaks first on one thread, then on the bench's threads (the workloads' reference).
  set_threads(1);
  const double peak_seconds = std::min(1.0, std::max(0.1, seconds / 2));
  const double peak1 = matmul_gflops(kPeakSize, peak_seconds);
  set_threads(threads);
  const double peak = threads == 1 ? peak1 : matmul_gflops(kPeakSize, peak_seconds);

  std::vector<bench::Result> results;
  for (const auto& name : only) {
    if (!json) std::fprintf(stderr, "bench: %s ...\n", name.c_str());
    results.push_back(bench::run_workload(name, seconds, threads));
  }
  std::map<std::string, PythonRate> py;
  if (vs_python) {
    if (!json) std::fprintf(stderr, "bench: Python baseline ...\n");
    py = run_python(seconds);
  }
  std::vector<BindingsRate> bindings;
  if (vs_bindings) {
    if (!json) std::fprintf(stderr, "bench: Markov stepping through the Python bindings vs C++ ...\n");
    bindings = run_bindings(seconds);
  }
  // Achieved matmul flops over the peak on the same threads; NaN (JSON null) when not counted.
  auto fraction = [&](const bench::Result& r) {
    return r.flops_per_unit > 0 ? r.rate * r.flops_per_unit / (peak * 1e9) : std::nan("");
  };

  if (json) {
    std::string s = "{\n  \"machine\": {\"cores\": " + std::to_string(std::thread::hardware_concurrency()) +
                    ", \"cpu\": " + json_string(first_line_with("/proc/cpuinfo", "model name")) +
                    ", \"blas\": " + json_string(blas_library()) + ", \"torch\": " + json_string(TORCH_VERSION) +
                    ", \"threads\": " + std::to_string(threads) + ",\n              \"load_average_start\": " + load_start + ", \"load_average_end\": " + load_average() + "},\n";
    s += "  \"peak\": {\"matmul_size\": " + std::to_string(kPeakSize) + ", \"gflops_1_thread\": " + json_number(peak1) +
         ", \"gflops\": " + json_number(peak) + ", \"threads\": " + std::to_string(threads) + "},\n";
    s += "  \"seconds\": " + json_number(seconds) + ",\n  \"workloads\": {";
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      s += std::string(i ? ",\n" : "\n") + "    " + json_string(r.name) + ": {\"rate\": " + json_number(r.rate) +
           ", \"unit\": " + json_string(r.unit) + ", \"flops_fraction\": " + json_number(fraction(r)) +
           ", \"units\": " + std::to_string(r.units) + ", \"seconds\": " + json_number(r.seconds) + ", \"cpu_seconds\": " + json_number(r.cpu_seconds);
      if (py.count(r.name))
        s += ", \"python_rate\": " + json_number(py[r.name].rate) + ", \"python_cpu_share\": " +
             json_number(py[r.name].cpu_share) + ", \"vs_python\": " + json_number(r.rate / py[r.name].rate);
      s += "}";
    }
    s += "\n  }";
    if (vs_bindings) {
      s += ",\n  \"bindings\": {";
      for (size_t i = 0; i < bindings.size(); ++i) {
        const auto& b = bindings[i];
        s += std::string(i ? ",\n" : "\n") + "    " + json_string(b.env) + ": {\"batch\": " + std::to_string(b.batch) +
             ", \"rounds\": " + std::to_string(b.rounds) + ", \"python_steps_per_s\": " + json_number(b.python) +
             ", \"cpp_steps_per_s\": " + json_number(b.cpp) + ", \"ratio\": " + json_number(b.ratio) +
             ", \"python_steps_per_cpu_s\": " + json_number(b.python_cpu) + ", \"cpp_steps_per_cpu_s\": " +
             json_number(b.cpp_cpu) + ", \"cpu_ratio\": " + json_number(b.cpu_ratio) + "}";
      }
      s += "\n  }";
    }
    s += "\n}\n";
    std::fputs(s.c_str(), stdout);
    return 0;
  }
  std::printf("machine: %u cores, %s; BLAS %s; LibTorch %s; %d thread(s)\n", std::thread::hardware_concurrency(),
              first_line_with("/proc/cpuinfo", "model name").c_str(), blas_library().c_str(), TORCH_VERSION,
              threads);
  std::printf("matmul peak (%lldx%lld float mm): %.1f GFLOP/s on 1 thread, %.1f on %d\n", (long long)kPeakSize,
              (long long)kPeakSize, peak1, peak, threads);
  std::printf("%-32s %14s  %-16s %8s %10s %9s\n", "workload", "rate", "unit", "flops", "python", "ratio");
  for (const auto& r : results) {
    const double f = fraction(r);
    char pct[16] = "-";
    if (!std::isnan(f)) std::snprintf(pct, sizeof pct, "%.1f%%", 100 * f);
    std::printf("%-32s %14.1f  %-16s %8s", r.name.c_str(), r.rate, r.unit.c_str(), pct);
    if (py.count(r.name)) std::printf(" %10.1f %8.2fx", py[r.name].rate, r.rate / py[r.name].rate);
    std::printf("\n");
  }
  if (vs_bindings) {
    std::printf("\nMarkov env step() at batch %lld, env steps/s (each world counting): through the Python bindings vs the "
                "same C++ loop\n", (long long)(bindings.empty() ? 0 : bindings[0].batch));
    std::printf("%-12s %14s %14s %8s %16s %16s %8s\n", "env", "bindings", "C++", "ratio", "bindings/CPU s",
                "C++/CPU s", "ratio");
    for (const auto& b : bindings)
      std::printf("%-12s %14.0f %14.0f %7.1f%% %16.0f %16.0f %7.1f%%\n", b.env.c_str(), b.python, b.cpp, 100 * b.ratio,
                  b.python_cpu, b.cpp_cpu, 100 * b.cpu_ratio);
  }
  return 0;
}

}  // namespace emcomm
