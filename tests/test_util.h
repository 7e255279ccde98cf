// Helpers shared by the tests: temporary directories and running the emcomm binary.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace emcomm::test {

// A fresh directory under the system temp dir, removed when the object goes away.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("emcomm-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// A unique file path under the system temp dir (nothing is created); the file is removed,
// even if made read-only, when the object goes away.
class TempPath {
 public:
  explicit TempPath(const std::string& stem) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("emcomm_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + stem))
                .string();
    std::filesystem::remove(path_);
  }
  ~TempPath() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove(path_, ec);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

// The whole text of a file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The message of the exception f throws, or "(nothing thrown)".
inline std::string thrown_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command with stderr joined to stdout.
inline CommandResult run_shell(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline CommandResult run_emcomm(const std::string& args) { return run_shell(std::string("'") + EMCOMM_BIN + "' " + args); }

// One CSV line split into fields (RFC 4180 quoting).
inline std::vector<std::string> csv_row(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// A CSV file with a header line as one map per row (header name -> field).
inline std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  auto header = csv_row(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    auto f = csv_row(line);
    if (f.size() != header.size()) throw std::runtime_error(path + ": a row has " + std::to_string(f.size()) + " fields, the header " + std::to_string(header.size()));
    std::map<std::string, std::string> r;
    for (size_t i = 0; i < f.size(); ++i) r[header[i]] = f[i];
    rows.push_back(r);
  }
  return rows;
}

// Starts `emcomm ARGS` in the background, stdout and stderr to `output_path`; returns its pid.
inline pid_t spawn_emcomm(const std::string& args, const std::string& output_path) {
  const std::string cmd = std::string("exec '") + EMCOMM_BIN + "' " + args + " > '" + output_path + "' 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for a spawned process; its exit code, or 128 + the signal that ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Tests wait on events (a file appears, a process ends), never on wall time. The waits below still
// give up after kHangSeconds so that a hung process fails the test instead of hanging CI: the bound
// is far beyond what any of them takes on a loaded machine and only ever catches a hang.
constexpr int kHangSeconds = 900;

// Polls every 10 ms until done() holds (true) or the process `pid` has ended (false; it is reaped).
// After kHangSeconds the process is killed and reaped and the answer is false.
inline bool wait_until(const std::function<bool()>& done, pid_t pid) {
  for (long i = 0; i < 100L * kHangSeconds; ++i) {
    if (done()) return true;
    if (::waitpid(pid, nullptr, WNOHANG) != 0) return false;
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return false;
}

// Waits for the process `pid` to end: its exit code, or 128 + the signal that ended it. A process
// still running after kHangSeconds is killed and -1 is returned (a hang, see kHangSeconds).
inline int wait_exit_or_kill(pid_t pid) {
  int status = 0;
  for (long i = 0; i < 100L * kHangSeconds; ++i) {
    if (::waitpid(pid, &status, WNOHANG) != 0) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::usleep(10000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// A test that cannot run here (a tool or package missing) prints this prefix and the reason;
// tests/CMakeLists.txt makes CTest report such a test as skipped, with that line in its output.
#define EMCOMM_TEST_SKIPPED "emcomm-test-skipped: "

// The Python interpreter the tests and scripts use, and the Debian package of each module a
// test imports from it (scripts/setup-deps installs them all).
inline const std::string kTestPython = "/usr/bin/python3";
inline std::string python_package(const std::string& module) {
  static const std::map<std::string, std::string> packages = {
      {"h5py", "python3-h5py"}, {"numpy", "python3-numpy"}, {"matplotlib", "python3-matplotlib"},
      {"torch", "python3-torch"}, {"PIL", "python3-pil"}};
  const auto it = packages.find(module);
  return it == packages.end() ? module : it->second;
}

// Why /usr/bin/python3 cannot run a test that imports `modules` ("" when it can): the missing
// interpreter or each module that does not import, with its package and Python's own error.
inline std::string python_missing(const std::vector<std::string>& modules) {
  static std::map<std::string, std::string> known;  // module -> "" or its problem
  if (::access(kTestPython.c_str(), X_OK) != 0)
    return "this test needs " + kTestPython + " (package python3; scripts/setup-deps installs it)";
  std::string missing;
  for (const auto& m : modules) {
    auto it = known.find(m);
    if (it == known.end()) {
      const CommandResult r = run_shell(kTestPython + " -c 'import " + m + "'");
      std::string problem;
      if (r.exit_code != 0) {
        const std::string out = r.output.substr(0, r.output.find_last_not_of('\n') + 1);
        problem = m + " (package " + python_package(m) + "; " + out.substr(out.rfind('\n') + 1) + ")";
      }
      it = known.emplace(m, problem).first;
    }
    if (!it->second.empty()) missing += (missing.empty() ? "" : ", ") + it->second;
  }
  return missing.empty() ? "" : "this test needs " + kTestPython + " with " + missing +
                                    "; scripts/setup-deps installs every package the tests use";
}

inline std::string source_path(const std::string& rel) { return std::string(EMCOMM_SOURCE_DIR) + "/" + rel; }

// Sets an environment variable for this scope (this process and the children it starts), then
// puts back what was there. Tests of HDF5 file locking set HDF5_USE_FILE_LOCKING=TRUE with it, so
// they hold when the user's shell disables locking (README suggests it for reading live runs).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) had_ = true, old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_.c_str(), old_.c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace emcomm::test

// Skips the rest of the test, saying which package is missing, when /usr/bin/python3 cannot
// import one of the modules named (strings): EMCOMM_NEEDS_PYTHON("h5py", "numpy");
#define EMCOMM_NEEDS_PYTHON(...)                                                             \
  do {                                                                                       \
    const std::string emcomm_python_missing_ = ::emcomm::test::python_missing({__VA_ARGS__}); \
    if (!emcomm_python_missing_.empty()) {                                                   \
      WARN(EMCOMM_TEST_SKIPPED << emcomm_python_missing_);                                   \
      return;                                                                                \
    }                                                                                        \
  } while (0)
