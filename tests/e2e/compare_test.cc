// emcomm compare on a tiny grid, and scripts/plot.py on its output.
#include <catch2/catch.hpp>
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

}  // namespace

TEST_CASE("compare: a tiny grid gives results.csv, a summary table, and reports failed runs", "[e2e][compare]") {
  test::TempDir dir;
  // seed_size=1000 exceeds the 51-object train split: those runs fail and the others still finish.
  auto r = test::run_emcomm("compare '" + test::source_path("experiments/configs/lewis_s2p.ini") +
                            "' --vary s2p.schedule=selfplay,supervised --vary s2p.seed_size=20,1000 --seeds 2"
                            " --jobs 2 --out '" + (dir / "cmp") + "'" + kSmall);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
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
                        Case{"/nonexistent.ini --seeds 1", "does not exist"}}) {
    auto r = test::run_emcomm("compare " + c.args + out);
    INFO(c.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.expect));
    CHECK_FALSE(fs::exists(dir / "cmp"));
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
