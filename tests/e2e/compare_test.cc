// emcomm compare on a tiny grid, and scripts/plot.py on its output.
#include <catch2/catch.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;

namespace {

bool is_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in && std::string(magic + 1, 3) == "PNG";
}

const std::string kSmall =
    " --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=32"
    " --train.steps=40 --train.eval_every=20 --eval.size=64 --eval.log_rows=4 --train.batch_size=32";

const std::string kSelfPlay = "'" + test::source_path("experiments/configs/lewis_selfplay.ini") + "'";

// results.csv rows keyed by run directory name, without wall-clock figures.
std::map<std::string, std::map<std::string, std::string>> rows_by_run(const std::string& csv) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (auto row : test::read_csv(csv)) {
    const std::string name = fs::path(row.at("run_dir")).filename().string();
    for (auto it = row.begin(); it != row.end();) it = it->first.rfind("time/", 0) == 0 ? row.erase(it) : std::next(it);
    out[name] = row;
  }
  return out;
}

// Waits until run_dir/checkpoints holds a step checkpoint (the run got that far); false when the
// process ended first. No wall-clock bound: only a hang gives up (test::kHangSeconds).
bool wait_for_checkpoint(const std::string& run_dir, pid_t pid) {
  return test::wait_until(
      [&] {
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints", ec))
          if (e.path().filename().string().rfind("step-", 0) == 0) return true;
        return false;
      },
      pid);
}

// Processes whose command line mentions `text` (a run directory): a grid's orphans.
int processes_mentioning(const std::string& text) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = test::read_text(e.path().string() + "/cmdline");
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    n += cmd.find(text) != std::string::npos;
  }
  return n;
}

}  // namespace

TEST_CASE("compare: a tiny grid gives results.csv, a summary table, and reports failed runs", "[e2e][compare]") {
  test::TempDir dir;
  // seed_size=1000 exceeds the 51-object train split: those runs fail and the others still finish.
  auto r = test::run_emcomm("compare '" + test::source_path("experiments/configs/lewis_s2p.ini") +
                            "' --vary s2p.schedule=selfplay,supervised --vary s2p.seed_size=20,1000 --seeds 2"
                            " --jobs 2 --out '" + (dir / "cmp") + "'" + kSmall);
  INFO(r.output);
  REQUIRE(r.exit_code == 3);  // some runs failed: not 0, and not 2 (the arguments were fine)
  CHECK_THAT(r.output, Catch::Contains("4 of 8 runs did not finish (exit code 3)"));
  auto rows = test::read_csv(dir / "cmp/results.csv");
  REQUIRE(rows.size() == 8);  // 2 schedules x 2 seed sizes x 2 seeds
  int ok = 0, failed = 0;
  for (const auto& row : rows) {
    CHECK((row.at("seed") == "1" || row.at("seed") == "2"));
    if (row.at("s2p.seed_size") == "1000") {
      CHECK(row.at("status") == "failed");
      CHECK_THAT(row.at("error"), Catch::Contains("s2p.seed_size=1000"));
      ++failed;
    } else {
      CHECK(row.at("status") == "ok");
      CHECK(fs::exists(row.at("run_dir") + "/run.h5"));
      ++ok;
    }
  }
  CHECK(ok == 4);
  CHECK(failed == 4);
  // The runs exec'd a private copy of emcomm (so a rebuild cannot break a long grid); it is gone.
  for (const auto& e : fs::directory_iterator(dir / "cmp")) CHECK(e.path().filename().string().rfind(".emcomm-", 0) != 0);
  // The summary's mean is the mean of the seeds' final figures.
  std::vector<double> sup;
  for (const auto& row : rows)
    if (row.at("s2p.schedule") == "supervised" && row.at("status") == "ok")
      sup.push_back(std::stod(row.at("listener_human_acc/val")));
  REQUIRE(sup.size() == 2);
  auto summary = test::read_text(dir / "cmp/summary.md");
  CHECK_THAT(summary, Catch::Contains("| s2p.schedule=supervised, s2p.seed_size=20 |"));
  CHECK_THAT(summary, Catch::Contains("| runs ok | 2/2 | 0/2 | 2/2 | 0/2 |"));
  char mean[32];
  std::snprintf(mean, sizeof mean, "%.4g", (sup[0] + sup[1]) / 2);
  CHECK_THAT(summary, Catch::Contains(std::string("| listener_human_acc/val | ")));
  CHECK_THAT(summary, Catch::Contains(std::string(" ") + mean + " ± "));
  CHECK_THAT(summary, Catch::Contains("failed: emcomm: error: s2p.seed_size=1000"));
  CHECK_THAT(r.output, Catch::Contains("| runs ok |"));  // the table is printed too

  // scripts/plot.py draws the comparison and the learning curves, headless.
  if (const std::string why = test::python_missing({"matplotlib", "h5py"}); !why.empty()) {
    WARN("scripts/plot.py and scripts/first-reach.py not checked: " << why);
    return;
  }
  auto plot = std::system(("/usr/bin/python3 '" + test::source_path("scripts/plot.py") + "' --compare '" +
                           (dir / "cmp") + "' > /dev/null")
                              .c_str());
  CHECK(plot == 0);
  CHECK(is_png(dir / "cmp/compare.png"));
  CHECK(is_png(dir / "cmp/curves.png"));
  auto runs = std::system(("/usr/bin/python3 '" + test::source_path("scripts/plot.py") + "' '" +
                           rows[0].at("run_dir") + "/run.h5' '" + rows[1].at("run_dir") + "/run.h5' --out '" +
                           (dir / "two.png") + "' > /dev/null")
                              .c_str());
  CHECK(runs == 0);
  CHECK(is_png(dir / "two.png"));

  // From another working directory: the run files are found (results.csv holds absolute
  // run_dir), and curves.png shows the headline figure of the two finished variants.
  const std::string plot_cmd = "cd / && /usr/bin/python3 '" + test::source_path("scripts/plot.py") + "' --compare '" +
                               (dir / "cmp") + "'";
  auto elsewhere = test::run_shell(plot_cmd);
  INFO(elsewhere.output);
  CHECK(elsewhere.exit_code == 0);
  CHECK_THAT(elsewhere.output, Catch::Contains("curves.png: sp_acc/val of 2 variant(s)"));
  // A finished run whose file is gone: exit 2 naming it, and the good curves.png stays.
  const auto drawn = fs::last_write_time(dir / "cmp/curves.png");
  std::string gone;
  for (const auto& row : rows)
    if (row.at("status") == "ok") gone = row.at("run_dir") + "/run.h5";
  fs::remove(gone);
  auto missing = test::run_shell(plot_cmd);
  INFO(missing.output);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("have no run file: " + gone));
  CHECK(fs::last_write_time(dir / "cmp/curves.png") == drawn);

  // first-reach.py: a series that is not there is an error listing the ones that are.
  const std::string reach = "/usr/bin/python3 '" + test::source_path("scripts/first-reach.py") + "' '" +
                            rows[0].at("run_dir") + "/run.h5' ";
  auto nosuch = test::run_shell(reach + "sp_acc/nosuch 0.5");
  INFO(nosuch.output);
  CHECK(nosuch.exit_code == 2);
  CHECK_THAT(nosuch.output, Catch::Contains("has no scalar series 'sp_acc/nosuch'") && Catch::Contains("sp_acc/val") &&
                                !Catch::Contains("Traceback"));
  auto reached = test::run_shell(reach + "sp_acc/val 0");
  INFO(reached.output);
  CHECK(reached.exit_code == 0);
  CHECK_THAT(reached.output, Catch::Contains("sp_acc/val >= 0.0: step 20"));
}

TEST_CASE("compare: bad arguments exit 2 before anything runs", "[e2e][compare][errors]") {
  test::TempDir dir;
  const std::string cfg = "'" + test::source_path("experiments/configs/lewis_s2p.ini") + "'";
  const std::string out = " --out '" + (dir / "cmp") + "'";
  struct Case {
    std::string args, expect;
  };
  for (const auto& c : {Case{cfg + " --vary s2p.schedul=sched --seeds 1", "did you mean 's2p.schedule'"},
                        Case{cfg + " --vary s2p.schedule=sched,nope --seeds 1", "s2p.schedule"},
                        Case{cfg + " --vary s2p.schedule=sched", "--seeds N is required"},
                        Case{cfg + " --vary s2p.schedule --seeds 1", "expected section.key=v1,v2"},
                        Case{cfg + " --vary s2p.schedule=sched --seeds 0", "--seeds"},
                        Case{"/nonexistent.ini --seeds 1", "does not exist"},
                        // Seeds and variants must be what the table says they are.
                        Case{cfg + " --seeds 2 --run.seed=5", "run.seed cannot be set for a grid"},
                        Case{cfg + " --vary run.seed=1,2 --seeds 1", "the seeds are set by --seeds N"},
                        Case{cfg + " --vary run.out=a,b --seeds 1", "set DIR with --out"},
                        Case{cfg + " --seeds 1 --run.out=x", "run.out cannot be set for a grid"},
                        Case{cfg + " --vary s2p.schedule=sched,sched --seeds 1", "value 'sched' given twice"},
                        Case{cfg + " --vary env.attributes=3,03 --seeds 1", "resolve to the same config"},
                        Case{cfg + " --seeds 1 --resume --overwrite", "exclude each other"}}) {
    auto r = test::run_emcomm("compare " + c.args + out);
    INFO(c.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.expect));
    CHECK_FALSE(fs::exists(dir / "cmp"));
  }
  if (const std::string why = test::python_missing({"matplotlib", "h5py"}); !why.empty()) {
    WARN("scripts/plot.py not checked: " << why);
    return;
  }
  auto plot = std::system(("/usr/bin/python3 '" + test::source_path("scripts/plot.py") + "' --compare '" +
                           (dir / "none") + "' 2> /dev/null")
                              .c_str());
  CHECK(WEXITSTATUS(plot) == 2);
}

TEST_CASE("population run: P = 4 with uniform pairing end to end, cross-play matrix in the run file", "[e2e][population]") {
  test::TempDir dir;
  auto r = test::run_emcomm("train '" + test::source_path("experiments/configs/lewis_s2p.ini") + "' --run.out='" +
                            (dir / "pop") + "' --population.size=4 --population.pairing=uniform" + kSmall +
                            " --s2p.seed_size=20 --s2p.listener_pretrain=5 --s2p.speaker_pretrain=5");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "pop/run.h5");
  CHECK(reader.validate().empty());
  // One [P, P] array per evaluation (P - 1 = 3 <= eval.crossplay_partners: every pair), no P^2 scalars.
  const MatrixSeries cross = reader.matrix("crossplay/val");
  CHECK(cross.step == std::vector<int64_t>{20, 40});
  REQUIRE((cross.rows == 4 && cross.cols == 4));
  for (size_t point = 0; point < 2; ++point)
    for (int i = 0; i < 16; ++i) {
      CHECK(cross.at(point)[i] >= 0.0f);
      CHECK(cross.at(point)[i] <= 1.0f);
    }
  for (const auto& name : reader.scalar_names()) CHECK(name.rfind("crossplay/", 0) != 0);
  CHECK(reader.interaction_rows("val") == 2 * 4 * 4);  // 2 evaluations x 4 members x eval.log_rows
  auto summary = test::read_text(dir / "pop/summary.json");
  CHECK_THAT(summary, Catch::Contains("\"crossplay_mean/val\""));
}

TEST_CASE("compare: a rerun keeps finished runs, trains missing ones, and refuses a directory of another config",
          "[e2e][compare]") {
  test::TempDir dir;
  const std::string cmd = "compare " + kSelfPlay + " --vary agents.relaxation=gumbel,st_gumbel --seeds 1 --out '" +
                          (dir / "cmp") + "'" + kSmall;
  auto first = test::run_emcomm(cmd);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const std::string a = dir / "cmp/agents.relaxation-gumbel-seed1", b = dir / "cmp/agents.relaxation-st_gumbel-seed1";
  const std::string a_summary = test::read_text(a + "/summary.json");
  const auto a_written = fs::last_write_time(a + "/run.h5");
  const auto before = rows_by_run(dir / "cmp/results.csv");
  // results.csv holds absolute run directories, so the tables work from anywhere.
  for (const auto& [name, row] : before) CHECK(fs::path(row.at("run_dir")).is_absolute());

  // An interrupted grid: one run's directory and the tables are gone.
  fs::remove_all(b);
  fs::remove(dir / "cmp/results.csv");
  auto again = test::run_emcomm(cmd);
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK_THAT(again.output, Catch::Contains("agents.relaxation-gumbel-seed1 reused"));
  CHECK(test::read_text(a + "/summary.json") == a_summary);  // not trained again
  CHECK(fs::last_write_time(a + "/run.h5") == a_written);
  CHECK(fs::exists(b + "/summary.json"));
  CHECK(rows_by_run(dir / "cmp/results.csv") == before);  // and the same figures (same seeds)

  // The same directory with another config: refused, naming the option, nothing touched.
  auto clash = test::run_emcomm(cmd + " --train.steps=20");
  INFO(clash.output);
  CHECK(clash.exit_code == 2);
  CHECK_THAT(clash.output, Catch::Contains("2 run directories of this compare hold something else") &&
                               Catch::Contains("train.steps=40 there, 20 here") && Catch::Contains("--overwrite"));
  CHECK(test::read_text(a + "/summary.json") == a_summary);
  // --overwrite trains every run again.
  auto over = test::run_emcomm(cmd + " --train.steps=20 --overwrite");
  INFO(over.output);
  REQUIRE(over.exit_code == 0);
  CHECK_THAT(test::read_text(a + "/summary.json"), Catch::Contains("\"steps\": 20"));
}

TEST_CASE("compare: runs stopped before the end are resumed by a rerun and end as an uninterrupted grid",
          "[e2e][compare][resume]") {
  test::TempDir dir;
  const std::string grid = " --vary agents.relaxation=gumbel,st_gumbel --seeds 1" + kSmall;
  // run.stop_after stops every run at step 20 as a signal would (checkpoint, resumable).
  auto stopped = test::run_emcomm("compare " + kSelfPlay + grid + " --run.stop_after=20 --out '" + (dir / "cmp") + "'");
  INFO(stopped.output);
  REQUIRE(stopped.exit_code == 3);
  for (const auto& [name, row] : rows_by_run(dir / "cmp/results.csv")) CHECK(row.at("status") == "stopped");
  auto resumed = test::run_emcomm("compare " + kSelfPlay + grid + " --out '" + (dir / "cmp") + "'");
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Catch::Contains("resuming agents.relaxation-gumbel-seed1 from its checkpoint"));
  CHECK_THAT(test::read_text(dir / "cmp/agents.relaxation-gumbel-seed1.log"), Catch::Contains("(step 20)"));
  auto straight = test::run_emcomm("compare " + kSelfPlay + grid + " --out '" + (dir / "ref") + "'");
  REQUIRE(straight.exit_code == 0);
  auto x = rows_by_run(dir / "cmp/results.csv"), y = rows_by_run(dir / "ref/results.csv");
  REQUIRE(x.size() == 2);
  for (auto* rows : {&x, &y})
    for (auto& [name, row] : *rows) {
      CHECK(row.at("status") == "ok");
      row.erase("run_dir");
    }
  CHECK(x == y);
}

TEST_CASE("compare: SIGTERM and SIGINT stop every running child with a checkpoint, write the tables, exit 128+sig",
          "[e2e][compare][signals]") {
  test::TempDir dir;
  // Runs far too long to end by themselves; a checkpoint every 10 steps.
  const std::string grid = " --vary agents.relaxation=gumbel,st_gumbel --seeds 1" + kSmall +
                           " --train.steps=10000000 --train.eval_every=10 --run.checkpoint_every=10";
  struct Case {
    int sig, jobs;
  };
  for (const auto& c : {Case{SIGTERM, 2}, Case{SIGINT, 1}}) {
    const std::string out = dir / ("cmp" + std::to_string(c.sig));
    const std::string a = out + "/agents.relaxation-gumbel-seed1", b = out + "/agents.relaxation-st_gumbel-seed1";
    const pid_t pid = test::spawn_emcomm("compare " + kSelfPlay + grid + " --jobs " + std::to_string(c.jobs) +
                                             " --out '" + out + "'",
                                         dir / "out.txt");
    REQUIRE(wait_for_checkpoint(a, pid));
    if (c.jobs == 2) REQUIRE(wait_for_checkpoint(b, pid));
    ::kill(pid, c.sig);  // the compare process only, as `kill` from another shell does
    const int code = test::wait_exit(pid);
    const std::string output = test::read_text(dir / "out.txt");
    INFO(output);
    CHECK(code == 128 + c.sig);
    CHECK(processes_mentioning(out) == 0);  // no run left training as an orphan
    const std::string name = c.sig == SIGINT ? "SIGINT" : "SIGTERM";
    CHECK_THAT(output, Catch::Contains("stopped by " + name + ": 0 of 2 runs finished; rerun the same command"));
    CHECK_THAT(test::read_text(a + ".log"), Catch::Contains("emcomm: stopped by " + name + " after step"));
    auto rows = rows_by_run(out + "/results.csv");
    REQUIRE(rows.size() == 2);
    CHECK(rows.at("agents.relaxation-gumbel-seed1").at("status") == "interrupted");
    CHECK(rows.at("agents.relaxation-st_gumbel-seed1").at("status") == (c.jobs == 2 ? "interrupted" : "not run"));
    if (c.jobs == 1) CHECK_FALSE(fs::exists(b));
    CHECK_THAT(test::read_text(out + "/summary.md"), Catch::Contains("| runs ok | 0/1 | 0/1 |"));
    for (const auto& e : fs::directory_iterator(out)) CHECK(e.path().filename().string().rfind(".emcomm-", 0) != 0);

    // The same command continues each interrupted run from its checkpoint (run.stop_after
    // makes it stop again, 20 steps after the later of the two, so the test ends).
    long long last = 0;
    for (const auto& log : {a + ".log", b + ".log"}) {
      const std::string text = test::read_text(log);
      const auto at = text.find("after step ");
      if (at != std::string::npos) last = std::max(last, std::stoll(text.substr(at + 11)));
    }
    const std::string stop = std::to_string(last + 20);
    auto again = test::run_emcomm("compare " + kSelfPlay + grid + " --jobs 2 --out '" + out + "' --run.stop_after=" + stop);
    INFO(again.output);
    CHECK(again.exit_code == 3);  // stopped by run.stop_after: not finished
    CHECK_THAT(again.output, Catch::Contains("resuming agents.relaxation-gumbel-seed1 from its checkpoint"));
    CHECK_THAT(test::read_text(a + ".log"), Catch::Contains("emcomm: resuming") &&
                                                Catch::Contains("stopped (run.stop_after) after step " + stop + ";"));
  }
}
