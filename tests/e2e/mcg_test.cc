// End-to-end: a short matrix-game REINFORCE run through the CLI, its interaction rows and CIC
// tables, and `emcomm analyze` on the run file.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;

TEST_CASE("mcg: a short reinforce run on the matrix game logs rows that emcomm analyze reads", "[e2e][mcg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/mcg_reinforce.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=200 --train.eval_every=100 --eval.size=300 --eval.log_rows=100 "
                            "--metrics.cic_rows=50");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  CHECK(reader.splits() == std::vector<std::string>{"eval"});
  REQUIRE(reader.interaction_rows("eval") == 200);  // two evaluations x 100 rows
  auto rows = reader.interactions("eval", 100, 100);
  for (int64_t i = 0; i < rows.rows; ++i) {
    CHECK(rows.receiver[i] == 1 - rows.sender[i]);
    CHECK(rows.length[i] == 1);
    CHECK(rows.message[i] >= 0);
    CHECK(rows.message[i] < 4);
    CHECK(rows.sender_action[i] >= 0);
    CHECK(rows.receiver_action[i] >= 0);
    CHECK(rows.t[i] <= 1);  // turns: steps 0 and 1 are the two messages
  }
  // Both agents speak once per episode; rows are episode-major.
  CHECK(rows.episode[0] == rows.episode[1]);
  CHECK(rows.sender[0] != rows.sender[1]);
  auto cic = reader.cic("eval", 100, 100);
  REQUIRE(cic);
  CHECK(cic->messages == 4);
  CHECK(cic->action_shape == std::vector<int64_t>{2});

  auto a = test::run_emcomm("analyze '" + (dir / "run/run.h5") + "' --json --no-write");
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  for (auto key : {"\"sc\": ", "\"ic\": ", "\"cic\": ", "\"entropy\": ", "\"ci_action\": "}) {
    auto pos = a.output.find(key);
    REQUIRE(pos != std::string::npos);
    CHECK(a.output.compare(pos + std::string(key).size(), 4, "null") != 0);
  }
  std::ifstream in(dir / "run/summary.json");
  std::stringstream ss;
  ss << in.rdbuf();
  for (auto key : {"\"reward/mean\"", "\"reward/agent0\"", "\"sc\"", "\"cic\"", "\"ic\"", "\"sc/agent0\"",
                   "\"ic/agent1\"", "\"mi_floor/agent0\"", "\"mi_floor\""})
    CHECK_THAT(ss.str(), Catch::Contains(key));
}

TEST_CASE("mcg: the released code's baseline with memory of past rounds runs through the CLI", "[e2e][mcg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/mcg_reinforce.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=40 --train.eval_every=20 --eval.size=256 --eval.log_rows=10 "
                            "--agents.baseline=batch_mean --env.memory=2 --agents.train_message=false");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  for (auto bad : {"--agents.baseline=median", "--env.memory=-1", "--eval.mi_batch=-2", "--eval.sample=maybe",
                   "--env.cic_reply=gone"}) {
    auto e = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "bad") + "' " + bad);
    INFO(bad << ": " << e.output);
    CHECK(e.exit_code == 2);
    const std::string name = std::string(bad).substr(2, std::string(bad).find('=') - 2);
    CHECK_THAT(e.output, Catch::Contains(name));
  }
}

TEST_CASE("mcg: the action probe and the weight norms are logged through the CLI", "[e2e][mcg][probe]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/mcg_reinforce.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=40 --train.eval_every=20 --eval.size=256 --eval.log_rows=10 "
                            "--agents.action_probe=true");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  for (auto name : {"probe_acc/agent0", "probe_acc_nocomm/agent1", "probe_acc_noinput/agent0", "train/probe_acc/agent1",
                    "probe_acc_sep/agent1", "probe_acc_sep_nocomm/agent0", "w_norm/comm/agent0",
                    "w_norm/payoff/agent1"}) {
    INFO(name);
    auto s = reader.scalar(name);
    CHECK(s.step == std::vector<int64_t>{20, 40});
  }
  // A bad value names the option; only matrix games have another agent's action to predict.
  auto e = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "bad") + "' --agents.probe_lr_scale=0");
  INFO(e.output);
  CHECK(e.exit_code == 2);
  CHECK_THAT(e.output, Catch::Contains("agents.probe_lr_scale"));
  e = test::run_emcomm("train --env.name=lewis --train.algorithm=reinforce --agents.action_probe=true --run.out='" +
                       (dir / "lewis") + "'");
  INFO(e.output);
  CHECK(e.exit_code == 2);
  CHECK_THAT(e.output, Catch::Contains("agents.action_probe"));
  CHECK_FALSE(std::ifstream(dir / "lewis/run.h5").good());
}

TEST_CASE("mcg: matrix-game option errors name the option", "[e2e][mcg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/mcg_reinforce.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") + "' --env.payoffs=fixed");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("env.payoff0"));
  r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") + "' --adapter.vocab_size=5");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("adapter.vocab_size"));
  CHECK_FALSE(std::ifstream(dir / "run/run.h5").good());
}

TEST_CASE("mcg: same seed gives identical logged rows and CIC tables, another seed differs", "[e2e][mcg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/mcg_informed.ini");
  auto train = [&](const std::string& name, int seed) {
    auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / name) + "' --run.seed=" + std::to_string(seed) +
                              " --train.steps=60 --train.eval_every=30 --eval.size=200 --eval.log_rows=50");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    RunReader reader(dir / (name + "/run.h5"));
    return std::make_pair(reader.interactions("eval"), *reader.cic("eval", 50, 50));  // the last step is probed
  };
  auto [a, ca] = train("a", 1);
  auto [b, cb] = train("b", 1);
  auto [c, cc] = train("c", 2);
  REQUIRE(a.rows == 100);
  CHECK(a.message == b.message);
  CHECK(a.sender_action == b.sender_action);
  CHECK(a.receiver_action == b.receiver_action);
  CHECK(a.reward == b.reward);
  CHECK(ca.p_action == cb.p_action);
  CHECK(a.reward != c.reward);
  for (int64_t i = 0; i < a.rows; ++i) {  // oneag: agent 0 speaks, agent 1 listens
    CHECK(a.sender[i] == 0);
    CHECK(a.receiver[i] == 1);
  }
}

TEST_CASE("mcg: the figures training logs equal emcomm analyze on the same rows", "[e2e][mcg][analyze]") {
  // Every row of an evaluation is logged (two per episode: eval.log_rows = 2 x eval.size), the
  // figures are one estimate over all of them (eval.mi_batch=0) and every logged row is probed
  // (metrics.cic_rows=0): training's figures and analyze's are then the same measures of the same
  // rows (docs/RESULTS.md relies on it), whichever code computes them.
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/mcg_reinforce.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=200 --train.eval_every=100 --eval.size=300 --eval.log_rows=600 "
                            "--eval.mi_batch=0 --metrics.cic_rows=0 --metrics.cic_every=100");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  REQUIRE(reader.interaction_rows("eval") == 1200);
  auto a = test::run_emcomm("analyze '" + (dir / "run/run.h5") + "' --json --no-write --step all");
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  const auto j = nlohmann::json::parse(a.output)["eval"];
  REQUIRE(j.size() == 2);
  for (size_t e = 0; e < 2; ++e) {
    INFO("evaluation at step " << j[e]["step"]);
    CHECK(j[e]["step"].get<int64_t>() == int64_t(100 * (e + 1)));
    CHECK(j[e]["rows"].get<int64_t>() == 600);
    for (const std::string name : {"entropy", "sc", "ic", "ci_action", "cic"}) {
      INFO(name);
      const auto logged = reader.scalar(name);
      REQUIRE(logged.step.size() == 2);
      CHECK(logged.step[e] == int64_t(100 * (e + 1)));
      REQUIRE(j[e][name].is_number());
      CHECK(j[e][name].get<double>() == Approx(logged.value[e]).margin(1e-9));
    }
  }
  // The figures are not trivially equal: a learning pair's messages carry something.
  CHECK(reader.scalar("entropy").value.back() > 0.1);
}
