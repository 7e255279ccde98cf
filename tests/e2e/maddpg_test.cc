// End-to-end: a short MADDPG run on speaker_listener through the CLI; summary.json carries
// target_reach / target_touch / reward and `emcomm analyze` computes cic and ic from the rows.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;

TEST_CASE("maddpg e2e: a short speaker_listener run logs rows that emcomm analyze reads", "[e2e][maddpg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/particle_speaker_listener_maddpg.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=4 --train.eval_every=2 --maddpg.envs=16 --maddpg.learning_starts=800 "
                            "--maddpg.batch=128 --eval.size=100 --eval.log_rows=200 --metrics.cic_rows=100");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  REQUIRE(reader.interaction_rows("eval") == 400);  // two evaluations x 200 rows
  // Counters at each evaluation, not averages: 2 steps x 16 envs x 25 env steps per evaluation;
  // the first update once the replay holds 800 transitions (after step 2), one per 100 then.
  CHECK(reader.scalar("transitions").value == std::vector<double>{800, 1600});
  CHECK(reader.scalar("updates").value == std::vector<double>{0, 8});
  auto rows = reader.interactions("eval", 200, 200);
  for (int64_t i = 0; i < rows.rows; ++i) {
    CHECK(rows.sender[i] == 0);
    CHECK(rows.receiver[i] == 1);
    CHECK(rows.message[i] >= 0);
    CHECK(rows.message[i] < 3);
    CHECK(rows.sender_action[i] == -1);
    CHECK(rows.receiver_action[i] >= 0);
    CHECK(rows.receiver_action[i] < 5);
    CHECK(rows.t[i] < 24);
  }
  auto cic = reader.cic("eval", 200, 200);
  REQUIRE(cic);
  CHECK(cic->messages == 3);
  CHECK(cic->action_shape == std::vector<int64_t>{5});
  auto a = test::run_emcomm("analyze '" + (dir / "run/run.h5") + "' --json --no-write");
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  for (auto key : {"\"ic\": ", "\"cic\": "}) {
    auto pos = a.output.find(key);
    REQUIRE(pos != std::string::npos);
    CHECK(a.output.compare(pos + std::string(key).size(), 4, "null") != 0);
  }
  CHECK_THAT(a.output, Catch::Contains("\"accuracy\": null"));  // rewards are distances: no success defined
  std::ifstream in(dir / "run/summary.json");
  std::stringstream ss;
  ss << in.rdbuf();
  for (auto key : {"\"target_reach\"", "\"target_touch\"", "\"reward\"", "\"cic\""})
    CHECK_THAT(ss.str(), Catch::Contains(key));
}

TEST_CASE("maddpg e2e: option errors name the option", "[e2e][maddpg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/particle_speaker_listener_ddpg.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") + "' --maddpg.ensemble=0");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("maddpg.ensemble"));
  r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run2") + "' --env.dim_c=4");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("env.dim_c"));
}

TEST_CASE("maddpg e2e: team options are refused where they do not apply", "[e2e][maddpg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/particle_speaker_listener_maddpg.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") + "' --maddpg.adversary=ddpg");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("maddpg.adversary applies only to games with adversaries"));
  r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run2") + "' --maddpg.local_critic=true --maddpg.good=ddpg");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("maddpg.local_critic"));
  r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run3") + "' --maddpg.good=ddgp");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("maddpg.good"));
}

TEST_CASE("maddpg e2e: a short simple_crypto run logs Alice -> Eve / Bob rows and the final evaluation",
          "[e2e][maddpg]") {
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/particle_simple_crypto_maddpg_vs_ddpg.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=3 --train.eval_every=3 --maddpg.envs=8 --maddpg.learning_starts=200 "
                            "--maddpg.batch=64 --eval.size=50 --eval.log_rows=100 --metrics.cic_rows=100 "
                            "--eval.final_episodes=300");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  auto rows = reader.interactions("eval");
  REQUIRE(rows.rows == 100);
  for (int64_t i = 0; i < rows.rows; ++i) {
    CHECK(rows.sender[i] == 2);
    CHECK(rows.receiver[i] == i % 2);
    CHECK(rows.target[i] >= 0);
    CHECK(rows.target[i] < 2);
  }
  REQUIRE(reader.cic("eval"));
  std::ifstream in(dir / "run/summary.json");
  std::stringstream ss;
  ss << in.rdbuf();
  for (auto key : {"\"final/bob_success\"", "\"final/eve_success\"", "\"final/reward/sum\"", "\"final/episodes\": 300",
                   "\"ic/receiver1\"", "\"cic/receiver0\""})
    CHECK_THAT(ss.str(), Catch::Contains(key));
}

TEST_CASE("maddpg e2e: cooperative communication is learned in a short run, and the listener follows the speaker",
          "[e2e][maddpg][learning]") {
  // The reference config (seed 1) for 75 steps x 64 worlds = 4 800 episodes: a listener that ignores
  // the speaker cannot beat chance (1/3: it cannot tell which of the 3 landmarks is the goal), and a
  // speaker that does not tie messages to colours gives it nothing to follow. Docs: RESULTS.md.
  test::TempDir dir;
  const std::string cfg = test::source_path("experiments/configs/particle_speaker_listener_maddpg.ini");
  auto r = test::run_emcomm("train '" + cfg + "' --run.out='" + (dir / "run") +
                            "' --train.steps=75 --train.eval_every=75 --eval.size=300 --eval.final_episodes=0");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  const double reach = reader.scalar("target_reach").value.back();
  const double follows = reader.scalar("cic_uniform").value.back();
  INFO("target_reach " << reach << ", cic_uniform " << follows);
  CHECK(reach > 0.75);     // chance 1/3; the reference's 84 % over its full budget
  CHECK(follows > 0.4);    // bits of log2(5) the listener's move depends on the message
  CHECK(reader.scalar("transitions").value.back() == 75 * 64 * 25);
}
