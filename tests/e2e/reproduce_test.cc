// scripts/reproduce (every published table by name) and the table makers it calls.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_util.h"

using namespace emcomm;

namespace {

std::string script(const std::string& rel) { return "'" + test::source_path(rel) + "'"; }

// The names scripts/reproduce --list gives, with their kind ("table" or "measurement") and doc.
std::map<std::string, std::pair<std::string, std::string>> registry() {
  auto r = test::run_shell(script("scripts/reproduce") + " --list");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::istringstream in(r.output);
  std::string line;
  const std::regex entry(R"(^([a-z0-9-]+)  \[(table|measurement), (docs/[A-Z]+\.md), .*\]$)");
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_match(line, m, entry)) out[m[1]] = {m[2], m[3]};
  return out;
}

// The <!-- NAME --> ... <!-- /NAME --> pairs of a doc.
std::set<std::string> markers(const std::string& doc) {
  const std::string text = test::read_text(test::source_path(doc));
  std::set<std::string> out;
  const std::regex open(R"(<!-- ([a-z0-9-]+) -->)");
  for (std::sregex_iterator it(text.begin(), text.end(), open), end; it != end; ++it) {
    const std::string name = (*it)[1];
    if (text.find("<!-- /" + name + " -->") != std::string::npos) out.insert(name);
  }
  return out;
}

}  // namespace

TEST_CASE("reproduce: every marked table of the docs has an entry, and every table entry its markers",
          "[e2e][reproduce]") {
  const auto reg = registry();
  REQUIRE(reg.size() >= 20);
  for (const std::string doc : {"docs/RESULTS.md", "docs/PERFORMANCE.md"}) {
    for (const auto& name : markers(doc)) {
      INFO(doc << " marks a table '" << name << "'");
      REQUIRE(reg.count(name) == 1);
      CHECK(reg.at(name).first == "table");
      CHECK(reg.at(name).second == doc);
      // Each marked table names its command in the text, except the two older generated ones
      // whose section shows their own script.
      const std::string text = test::read_text(test::source_path(doc));
      if (name != "bench-table" && name != "maddpg-timing")
        CHECK(text.find("scripts/reproduce " + name + "`") != std::string::npos);
    }
  }
  for (const auto& [name, kind_doc] : reg) {
    if (kind_doc.first != "table") continue;
    INFO("table entry '" << name << "' in " << kind_doc.second);
    CHECK(markers(kind_doc.second).count(name) == 1);
  }
}

TEST_CASE("reproduce: bad input exits 2 naming what is allowed; --dry-run runs nothing", "[e2e][reproduce]") {
  auto bad = test::run_shell(script("scripts/reproduce") + " no-such-table");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Catch::Contains("unknown table no-such-table; one of: lewis-example"));
  auto none = test::run_shell(script("scripts/reproduce"));
  CHECK(none.exit_code == 2);
  auto check_measure = test::run_shell(script("scripts/reproduce") + " threads --check");
  CHECK(check_measure.exit_code == 2);
  CHECK_THAT(check_measure.output, Catch::Contains("threads is a measurement"));
  test::TempDir dir;
  auto dry =
      test::run_shell(script("scripts/reproduce") + " s2p-populations-p4 --dry-run --runs '" + dir.path.string() + "'");
  INFO(dry.output);
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.output, Catch::Contains("--population.pairing=uniform"));
  CHECK(!std::filesystem::exists(dir / "pop4-independent"));
}

TEST_CASE("compare-table.py keeps the header, 'runs ok' and the chosen rows of summary.md", "[e2e][reproduce]") {
  test::TempDir dir;
  {
    std::ofstream md(dir / "summary.md");
    md << "# emcomm compare: x.ini\n\nMean ± 95 % CI.\n\n"
          "| metric | a=1 | a=2 |\n|---|---|---|\n| runs ok | 3/3 | 2/3 |\n"
          "| sp_acc/train | 1 ± 0 | 0.5 ± 0.1 |\n| sp_acc/val | 0.9 ± 0 | 0.4 ± 0.2 |\n"
          "| time/wall_seconds | 10 ± 1 | 12 ± 2 |\n| train/loss | 0.1 ± 0 | 0.3 ± 0 |\n"
          "\nFailed runs:\n| a | seed |\n";
  }
  auto keep =
      test::run_shell(script("scripts/results/compare-table.py") + " '" + dir.path.string() + "' --rows sp_acc/");
  INFO(keep.output);
  REQUIRE(keep.exit_code == 0);
  CHECK(keep.output ==
        "| metric | a=1 | a=2 |\n|---|---|---|\n| runs ok | 3/3 | 2/3 |\n"
        "| sp_acc/train | 1 ± 0 | 0.5 ± 0.1 |\n| sp_acc/val | 0.9 ± 0 | 0.4 ± 0.2 |\n");
  auto drop =
      test::run_shell(script("scripts/results/compare-table.py") + " '" + dir.path.string() + "' --drop time/,train/");
  CHECK(drop.output == keep.output);
  auto missing = test::run_shell(script("scripts/results/compare-table.py") + " '" + (dir / "nope") + "'");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("summary.md does not exist"));
}

TEST_CASE("s2p-returned-last-table.py: the returned model from summary.json, the last evaluation from run.h5",
          "[e2e][reproduce]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  test::TempDir dir;
  // Variant a=1: two finished seeds; a=2: seed 1 finished (its results.csv path from before the
  // directory moved), seed 2 failed (left out).
  auto run = [&](const std::string& name, double returned, const std::string& series, int step) {
    std::filesystem::create_directories(dir / name);
    std::ofstream(dir / (name + "/summary.json"))
        << "{\"final\": {\"sp_acc/test\": " << returned << ", \"selected_step\": " << step << "}}";
    auto r = test::run_shell("HDF5_USE_FILE_LOCKING=FALSE /usr/bin/python3 -c \"import h5py, numpy; "
                             "f = h5py.File('" + (dir / (name + "/run.h5")) + "', 'w'); "
                             "f['scalars/sp_acc:test/step'] = numpy.array([1, 2]); "
                             "f['scalars/sp_acc:test/value'] = numpy.array(" + series + ")\"");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  };
  run("a1s1", 0.2, "[0.9, 0.1]", 100);
  run("a1s2", 0.4, "[0.7, 0.3]", 300);
  run("a2s1", 0.5, "[0.6, 0.8]", 50);
  std::ofstream(dir / "results.csv") << "a,seed,status,error,run_dir,sp_acc/test\n"
                                     << "1,1,ok,," << (dir / "a1s1") << ",0.2\n"
                                     << "1,2,ok,," << (dir / "a1s2") << ",0.4\n"
                                     << "2,1,ok,,/elsewhere/a2s1,0.5\n"  // moved: found beside results.csv
                                     << "2,2,failed,exit 1," << (dir / "a2s2") << ",\n";
  auto r = test::run_shell(script("scripts/results/s2p-returned-last-table.py") + " '" + dir.path.string() +
                           "' --returned sp_acc/test --last sp_acc/test");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Two seeds: mean ± t(1) 12.706 × sd / sqrt(2), sd = 0.1414 -> ± 1.271 (and 1271 steps).
  CHECK(r.output ==
        "| metric | 1 | 2 |\n|---|---|---|\n| runs ok | 2 | 1 |\n"
        "| sp_acc/test, returned | 0.300 ± 1.271 | 0.500 |\n"
        "| sp_acc/test, last | 0.200 ± 1.271 | 0.800 |\n"
        "| selected step | 200 ± 1271 | 50 |\n");
  auto missing = test::run_shell(script("scripts/results/s2p-returned-last-table.py") + " '" + (dir / "nope") + "'");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("results.csv does not exist"));
}

TEST_CASE("maddpg-table.py: each matchup's mean over its finished seeds, only the scenarios asked for",
          "[e2e][reproduce]") {
  EMCOMM_NEEDS_PYTHON("json");
  test::TempDir dir;
  auto run = [&](const std::string& scenario, const std::string& name, const std::string& good,
                 const std::string& adversary, const std::string& final_json) {
    const auto run_dir = dir / (scenario + "/" + name);
    std::filesystem::create_directories(run_dir);
    std::ofstream(run_dir + "/config.ini") << "[maddpg]\ngood = " << good << "\nadversary = " << adversary << "\n";
    if (!final_json.empty()) std::ofstream(run_dir + "/summary.json") << "{\"final\": {" << final_json << "}}";
  };
  // simple_push: MADDPG vs DDPG over two seeds, DDPG vs DDPG one seed plus one unfinished run.
  run("simple_push", "md1", "maddpg", "ddpg",
      "\"final/good_distance\": 0.2, \"final/adversary_distance\": 0.4, \"final/reward/agent0\": -1, "
      "\"final/reward/agent1\": -3");
  run("simple_push", "md2", "maddpg", "ddpg",
      "\"final/good_distance\": 0.4, \"final/adversary_distance\": 0.6, \"final/reward/agent0\": -3, "
      "\"final/reward/agent1\": -5");
  run("simple_push", "dd1", "ddpg", "ddpg",
      "\"final/good_distance\": 0.5, \"final/adversary_distance\": 0.5, \"final/reward/agent0\": -2, "
      "\"final/reward/agent1\": -2");
  run("simple_push", "dd2", "ddpg", "ddpg", "");
  run("simple_tag", "mm1", "maddpg", "maddpg",
      "\"final/collisions\": 2, \"final/reward/agent0\": 20, \"final/reward/agent3\": -20");
  auto r = test::run_shell(script("scripts/results/maddpg-table.py") + " '" + dir.path.string() + "' simple_push");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // MADDPG good vs DDPG adversary, two seeds: sd 0.1414 -> ± t(1) 12.706 × 0.1 = 1.271 (reward: ± 12.706).
  CHECK(r.output ==
        "**simple_push**\n\n"
        "| good agents | adversaries | seeds | good_distance | adversary_distance | reward/agent0 | reward/agent1 |\n"
        "|---|---|---|---|---|---|---|\n"
        "| MADDPG | DDPG | 2 | 0.300 ± 1.271 | 0.500 ± 1.271 | -2.000 ± 12.706 | -4.000 ± 12.706 |\n"
        "| DDPG | DDPG | 1 | 0.500 | 0.500 | -2.000 | -2.000 |\n\n"
        "(1 run(s) not finished, left out.)\n\n");
  auto both = test::run_shell(script("scripts/results/maddpg-table.py") + " '" + dir.path.string() + "'");
  CHECK_THAT(both.output, Catch::Contains("**simple_tag**") && Catch::Contains("| MADDPG | MADDPG | 1 | 2.000 |"));
  auto bad = test::run_shell(script("scripts/results/maddpg-table.py") + " '" + dir.path.string() + "' simple_pushh");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Catch::Contains("unknown scenario simple_pushh") && Catch::Contains("simple_push"));
  auto absent = test::run_shell(script("scripts/results/maddpg-table.py") + " '" + dir.path.string() + "' simple_spread");
  CHECK(absent.exit_code == 2);  // asked for by name, but never run: said, not an empty table
  CHECK_THAT(absent.output, Catch::Contains("has no simple_spread/ directory"));
  auto no_dir = test::run_shell(script("scripts/results/maddpg-table.py") + " '" + (dir / "nope") + "'");
  CHECK(no_dir.exit_code == 2);
  CHECK_THAT(no_dir.output, Catch::Contains("is not a directory"));
}
