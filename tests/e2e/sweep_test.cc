// emcomm sweep: the compare grid under MPI gives the same results.csv as compare.
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/test_util.h"

using namespace emcomm;

#ifdef EMCOMM_MPIEXEC

namespace {

#if defined(__SANITIZE_ADDRESS__)
// OpenMPI unloads its plugins at MPI_Finalize, leaving allocations LeakSanitizer cannot
// attribute to any library (so no suppression matches): leak detection is off for the ranks,
// ASan's other checks and UBSan stay on (docs/reliability.md).
const std::string kMpirun = std::string(EMCOMM_MPIEXEC) + " -x ASAN_OPTIONS=detect_leaks=0";
#else
const std::string kMpirun = EMCOMM_MPIEXEC;
#endif

// A tiny S2P grid; seed_size=1000 exceeds the 51-object train split, so those runs fail.
const std::string kGrid =
    " --vary s2p.schedule=sched,sup2sp --vary s2p.seed_size=20,1000 --seeds 2"
    " --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=16"
    " --train.steps=30 --train.eval_every=15 --eval.size=32 --eval.log_rows=2 --train.batch_size=16"
    " --s2p.listener_pretrain=5 --s2p.speaker_pretrain=5";

// --allow-run-as-root and --oversubscribe are Open MPI's mpiexec flags (MPICH's and Intel MPI's
// refuse them): the tests that start ranks through mpiexec pass them, so they run only when
// EMCOMM_MPIEXEC is Open MPI's and are reported as skipped otherwise.
bool open_mpi() {
  static const bool yes = [] {
    const auto r = test::run_shell("'" + std::string(EMCOMM_MPIEXEC) + "' --version");
    return r.output.find("Open MPI") != std::string::npos || r.output.find("OpenRTE") != std::string::npos ||
           r.output.find("open-mpi.org") != std::string::npos;
  }();
  return yes;
}
#define EMCOMM_NEEDS_OPEN_MPI()                                                                            \
  do {                                                                                                     \
    if (!open_mpi()) {                                                                                     \
      WARN(EMCOMM_TEST_SKIPPED << EMCOMM_MPIEXEC << " is not Open MPI's mpiexec, and this test passes its " \
                                  "--allow-run-as-root and --oversubscribe");                              \
      return;                                                                                              \
    }                                                                                                      \
  } while (0)

// A tiny self-play grid of 4 runs, seconds each.
const std::string kLewisGrid =
    "'" + test::source_path("experiments/configs/lewis_selfplay.ini") + "' --vary agents.relaxation=gumbel,st_gumbel"
    " --seeds 2 --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=16"
    " --train.steps=20 --train.eval_every=10 --eval.size=32 --eval.log_rows=2 --train.batch_size=16";

std::string mpirun(int ranks, const std::string& sweep_args) {
  return kMpirun + " --allow-run-as-root --oversubscribe -n " + std::to_string(ranks) + " '" + EMCOMM_BIN +
         "' sweep " + sweep_args;
}

// Starts a shell command in the background, its output to `output_path`; returns its pid.
pid_t spawn_shell(const std::string& command, const std::string& output_path) {
  const std::string cmd = "exec " + command + " > '" + output_path + "' 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group: the test can end the whole job
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The pid of the process whose command line holds `text`, or -1.
pid_t process_mentioning(const std::string& text) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos || std::stoll(pid) == ::getpid()) continue;
    std::string cmd = test::read_text(e.path().string() + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    if (cmd.find(text) != std::string::npos && cmd.find(" train ") != std::string::npos) return pid_t(std::stoll(pid));
  }
  return -1;
}

// results.csv rows keyed by run name, without what legitimately differs between two grids run
// into different directories at different times: the run directory and wall-clock figures.
std::map<std::string, std::map<std::string, std::string>> comparable(const std::string& csv, const std::string& out) {
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (auto row : test::read_csv(csv)) {
    std::string dir = row.at("run_dir");
    REQUIRE(dir.rfind(out + "/", 0) == 0);
    row.erase("run_dir");
    for (auto it = row.begin(); it != row.end();) it = it->first.rfind("time/", 0) == 0 ? row.erase(it) : std::next(it);
    rows[dir.substr(out.size() + 1)] = row;
  }
  return rows;
}

}  // namespace


TEST_CASE("sweep: mpirun -n 3 gives the results.csv of compare on the same grid", "[e2e][sweep]") {
  EMCOMM_NEEDS_OPEN_MPI();
  test::TempDir dir;
  const std::string cfg = "'" + test::source_path("experiments/configs/lewis_s2p.ini") + "'";
  auto c = test::run_emcomm("compare " + cfg + kGrid + " --jobs 2 --out '" + (dir / "cmp") + "'");
  INFO(c.output);
  REQUIRE(c.exit_code == 3);  // some runs failed (seed_size=1000)
  const std::string cmd = kMpirun + " --allow-run-as-root --oversubscribe -n 3 '" + EMCOMM_BIN +
                          "' sweep " + cfg + kGrid + " --out '" + (dir / "swp") + "'";
  auto [status, output] = test::run_shell(cmd);
  INFO(output);
  REQUIRE(status == 3);  // every rank exits with rank 0's code: some runs failed
  CHECK_THAT(output, Catch::Contains("over 2 worker ranks"));
  CHECK_THAT(output, Catch::Contains("(rank 1)"));
  CHECK_THAT(output, Catch::Contains("(rank 2)"));
  CHECK_THAT(output, Catch::Contains("FAILED: emcomm: error: s2p.seed_size=1000"));  // and the sweep went on

  auto a = comparable(dir / "cmp/results.csv", dir / "cmp");
  auto b = comparable(dir / "swp/results.csv", dir / "swp");
  REQUIRE(a.size() == 8);
  CHECK(a == b);
  int ok = 0;
  for (const auto& [name, row] : b) ok += row.at("status") == "ok";
  CHECK(ok == 4);
  // summary.md is the same table apart from the title line and the runs' directory.
  auto table = [](const std::string& md) { return md.substr(md.find("| metric |")); };
  auto sa = table(test::read_text(dir / "cmp/summary.md")), sb = table(test::read_text(dir / "swp/summary.md"));
  auto drop_time = [](std::string md) {
    auto t = md.find("| time/wall_seconds |");
    if (t != std::string::npos) md.erase(t, md.find('\n', t) - t + 1);
    return md;
  };
  CHECK(drop_time(sa) == drop_time(sb));
}

TEST_CASE("sweep: bad arguments exit 2 on every rank before anything runs", "[e2e][sweep][errors]") {
  EMCOMM_NEEDS_OPEN_MPI();
  test::TempDir dir;
  const std::string cmd = kMpirun + " --allow-run-as-root --oversubscribe -n 2 '" + EMCOMM_BIN +
                          "' sweep '" + test::source_path("experiments/configs/lewis_s2p.ini") +
                          "' --vary s2p.schedul=sched --seeds 1 --out '" + (dir / "swp") + "'";
  auto [status, output] = test::run_shell(cmd);
  INFO(output);
  CHECK(status == 2);
  CHECK_THAT(output, Catch::Contains("did you mean 's2p.schedule'"));
  CHECK_FALSE(std::filesystem::exists(dir / "swp"));
}

TEST_CASE("sweep: SIGTERM to a one-rank sweep stops its run with a checkpoint and writes the tables", "[e2e][sweep][signals]") {
  test::TempDir dir;
  const std::string out = dir / "swp", run = out + "/base-seed1";
  const pid_t pid = test::spawn_emcomm(
      "sweep '" + test::source_path("experiments/configs/lewis_selfplay.ini") + "' --seeds 1 --out '" + out + "'" +
          " --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=16"
          " --train.steps=10000000 --train.eval_every=10 --run.checkpoint_every=10 --eval.size=32 --eval.log_rows=2",
      dir / "out.txt");
  // Until the run's first checkpoint; no wall-clock bound, only a hang gives up (test::kHangSeconds).
  const bool started = test::wait_until(
      [&] {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(run + "/checkpoints", ec))
          if (e.path().filename().string().rfind("step-", 0) == 0) return true;
        return false;
      },
      pid);
  REQUIRE(started);
  ::kill(pid, SIGTERM);
  CHECK(test::wait_exit(pid) == 143);
  INFO(test::read_text(dir / "out.txt"));
  CHECK_THAT(test::read_text(run + ".log"), Catch::Contains("stopped by SIGTERM after step"));
  auto rows = test::read_csv(out + "/results.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].at("status") == "interrupted");
}

TEST_CASE("sweep: one rank runs the grid itself and writes the results.csv of compare", "[e2e][sweep]") {
  test::TempDir dir;
  auto c = test::run_emcomm("compare " + kLewisGrid + " --jobs 2 --out '" + (dir / "cmp") + "'");
  INFO(c.output);
  REQUIRE(c.exit_code == 0);
  const auto want = comparable(dir / "cmp/results.csv", dir / "cmp");
  REQUIRE(want.size() == 4);
  // Started without mpiexec (a singleton MPI job), and by mpiexec with one rank.
  auto alone = test::run_emcomm("sweep " + kLewisGrid + " --jobs 2 --out '" + (dir / "alone") + "'");
  INFO(alone.output);
  CHECK(alone.exit_code == 0);
  CHECK_THAT(alone.output, !Catch::Contains("worker ranks"));  // no rank hands out runs: the pool of compare
  CHECK(comparable(dir / "alone/results.csv", dir / "alone") == want);
  if (open_mpi()) {
    auto one = test::run_shell(mpirun(1, kLewisGrid + " --jobs 2 --out '" + (dir / "one") + "'"));
    INFO(one.output);
    CHECK(one.exit_code == 0);
    CHECK(comparable(dir / "one/results.csv", dir / "one") == want);
  }
}

TEST_CASE("sweep: a run killed by a signal is reported as such and the sweep goes on", "[e2e][sweep][signals]") {
  EMCOMM_NEEDS_OPEN_MPI();
  test::TempDir dir;
  // One worker rank, one run at a time: the long run first (killed), then the short one.
  const std::string out = dir / "swp", victim = out + "/train.steps-100000-seed1";
  const pid_t job = spawn_shell(mpirun(2, "'" + test::source_path("experiments/configs/lewis_selfplay.ini") +
                                              "' --vary train.steps=100000,20 --seeds 1 --env.attributes=3 --env.values=4"
                                              " --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=16"
                                              " --train.eval_every=10 --run.checkpoint_every=10 --eval.size=32"
                                              " --eval.log_rows=2 --train.batch_size=16 --out '" + out + "'"),
                                dir / "out.txt");
  // Until the long run's first checkpoint; no wall-clock bound, only a hang gives up (test::kHangSeconds).
  pid_t run = -1;
  const bool started = test::wait_until(
      [&] {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(victim + "/checkpoints", ec))
          if (e.path().filename().string().rfind("step-", 0) == 0) run = process_mentioning("--run.out=" + victim);
        return run > 0;
      },
      job);
  if (!started) ::kill(-job, SIGKILL);
  REQUIRE(started);
  ::kill(run, SIGKILL);
  const int code = test::wait_exit_or_kill(job);
  if (code == -1) ::kill(-job, SIGKILL);
  const std::string output = test::read_text(dir / "out.txt");
  INFO(output);
  CHECK(code == 3);  // a run did not finish
  auto rows = test::read_csv(out + "/results.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].at("status") == "interrupted");  // resumable from its checkpoint by a rerun
  CHECK_THAT(rows[0].at("error"), Catch::StartsWith("killed by signal 9"));
  CHECK(rows[1].at("status") == "ok");
  CHECK_THAT(output, Catch::Contains("killed by signal 9") && Catch::Contains("(rank 1)"));
}

TEST_CASE("sweep: an --out that cannot be created exits 2 on every rank, naming it", "[e2e][sweep][errors]") {
  test::TempDir dir;
  { std::ofstream(dir / "file") << "not a directory\n"; }
  const std::string out = dir / "file/swp";
  auto alone = test::run_emcomm("sweep " + kLewisGrid + " --out '" + out + "'");
  INFO(alone.output);
  CHECK(alone.exit_code == 2);
  CHECK_THAT(alone.output, Catch::StartsWith("emcomm: error: --out '" + out + "': cannot create the directory: "));
  auto compare = test::run_emcomm("compare " + kLewisGrid + " --out '" + out + "'");
  INFO(compare.output);
  CHECK(compare.exit_code == 2);
  CHECK_THAT(compare.output, Catch::StartsWith("emcomm: error: --out '" + out + "': cannot create the directory: "));
  if (!open_mpi()) return;
  auto ranks = test::run_shell(mpirun(2, kLewisGrid + " --out '" + out + "'"));
  INFO(ranks.output);
  CHECK(ranks.exit_code == 2);
  CHECK_THAT(ranks.output, Catch::Contains("--out '" + out + "': cannot create the directory"));
  CHECK_THAT(ranks.output, !Catch::Contains("internal error") && !Catch::Contains("fatal"));
}

TEST_CASE("sweep: over an existing results.csv a rerun keeps the finished runs and writes the same table; one that "
          "cannot be replaced exits 2", "[e2e][sweep]") {
  EMCOMM_NEEDS_OPEN_MPI();
  test::TempDir dir;
  const std::string out = dir / "swp";
  auto first = test::run_shell(mpirun(2, kLewisGrid + " --out '" + out + "'"));
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const auto table = comparable(out + "/results.csv", out);
  REQUIRE(table.size() == 4);
  auto again = test::run_shell(mpirun(2, kLewisGrid + " --out '" + out + "'"));
  INFO(again.output);
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("reused (finished earlier, same config)"));
  CHECK(comparable(out + "/results.csv", out) == table);
  // results.csv is a directory now: the runs are kept, the table cannot be written.
  std::filesystem::remove(out + "/results.csv");
  std::filesystem::create_directories(out + "/results.csv");
  auto blocked = test::run_shell(mpirun(2, kLewisGrid + " --out '" + out + "'"));
  INFO(blocked.output);
  CHECK(blocked.exit_code == 2);
  CHECK_THAT(blocked.output, Catch::Contains("emcomm: error: cannot write '" + out + "/results.csv'"));
}

#else

TEST_CASE("sweep: without MPI at build time, sweep says so and exits 2", "[e2e][sweep][errors]") {
  auto r = test::run_emcomm("sweep '" + test::source_path("experiments/configs/lewis_s2p.ini") + "' --seeds 1");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("built without MPI"));
}

#endif
