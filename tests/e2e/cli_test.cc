// End-to-end tests: the emcomm binary as a user runs it.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;

namespace {

const std::string kConfig = test::source_path("experiments/configs/lewis_selfplay.ini");


// A short run of the reference config into dir/name.
test::CommandResult train(const test::TempDir& dir, const std::string& name, const std::string& extra) {
  return test::run_emcomm("train '" + kConfig + "' --run.out='" + (dir / name) + "' " + extra);
}

void require_same_rows(const InteractionBatch& a, const InteractionBatch& b) {
  REQUIRE(a.rows == b.rows);
  CHECK(a.step == b.step);
  CHECK(a.episode == b.episode);
  CHECK(a.message == b.message);
  CHECK(a.length == b.length);
  CHECK(a.concept == b.concept);
  CHECK(a.receiver_action == b.receiver_action);
  CHECK(a.target == b.target);
  CHECK(a.reward == b.reward);
}

}  // namespace

TEST_CASE("cli: a short Lewis self-play run beats chance clearly and writes a valid run", "[e2e]") {
  test::TempDir dir;
  auto r = train(dir, "run", "--train.steps=600 --train.eval_every=200 --eval.size=2000");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("sp_acc/val"));
  CHECK_THAT(r.output, Catch::Contains("run directory: " + (dir / "run")));
  CHECK_THAT(r.output, !Catch::Contains("steps/s"));  // no progress line when not on a terminal

  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  CHECK(reader.schema_version() == 2);
  CHECK(reader.attribute("format") == "emcomm.run");
  CHECK(reader.config().at("env.attributes") == "6");
  CHECK(reader.config().at("agents.vocab_size") == "60");
  auto acc = reader.scalar("sp_acc/val");
  REQUIRE(acc.step == std::vector<int64_t>{200, 400, 600});
  // Chance is 10^-6 (six attributes of ten values each); after 600 steps the speaker and
  // listener solve a good part of unseen objects.
  CHECK(acc.value.back() > 0.2);
  for (auto split : {"train", "val", "test"}) {
    REQUIRE(reader.interaction_rows(split) == 3 * 100);  // three evaluations x eval.log_rows
    auto rows = reader.interactions(split, 200, 100);
    CHECK(rows.msg_len == 6);
    CHECK(rows.concept_width == 6);
    CHECK(rows.receiver_action_width == 6);
    CHECK(rows.step == std::vector<int64_t>(100, 600));
    for (int64_t i = 0; i < rows.rows; ++i) {
      CHECK(rows.length[i] == 6);
      CHECK(rows.sender_action[i] == -1);
      bool all_right = std::equal(&rows.receiver_action[i * 6], &rows.receiver_action[i * 6 + 6], &rows.target[i * 6]);
      CHECK(rows.reward[i] == (all_right ? 1.0f : 0.0f));
    }
  }
  auto summary = test::read_text(dir / "run/summary.json");
  CHECK_THAT(summary, Catch::Contains("\"sp_acc/val\":"));
  CHECK_THAT(summary, Catch::Contains("\"sp_acc/train\":"));
  CHECK_THAT(summary, Catch::Contains("\"sp_acc/test\":"));
  CHECK_THAT(summary, Catch::Contains("\"steps\": 600"));
  CHECK_THAT(summary, Catch::Contains("\"wall_seconds\":"));
  CHECK(fs::exists(dir / "run/checkpoints/final.pt"));

  // The saved config.ini reruns as is (into another directory) and resolves to the same run.
  auto again = test::run_emcomm("train '" + (dir / "run/config.ini") + "' --run.out='" + (dir / "again") + "'");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  RunReader second(dir / "again/run.h5");
  require_same_rows(reader.interactions("val"), second.interactions("val"));
}

TEST_CASE("cli: same config and seed give identical interaction rows, another seed differs", "[e2e][determinism]") {
  test::TempDir dir;
  const std::string extra = "--train.steps=150 --train.eval_every=50 --eval.size=500";
  REQUIRE(train(dir, "a", extra).exit_code == 0);
  REQUIRE(train(dir, "b", extra).exit_code == 0);
  REQUIRE(train(dir, "c", extra + " --run.seed=2").exit_code == 0);
  RunReader a(dir / "a/run.h5"), b(dir / "b/run.h5"), c(dir / "c/run.h5");
  for (auto split : {"train", "val", "test"}) require_same_rows(a.interactions(split), b.interactions(split));
  CHECK(a.scalar("sp_acc/val").value == b.scalar("sp_acc/val").value);
  CHECK(a.interactions("val").message != c.interactions("val").message);
}

TEST_CASE("cli: discrimination mode and the other relaxations generalise to held-out objects", "[e2e]") {
  test::TempDir dir;
  struct Case {
    std::string extra;
    double above;  // held-out accuracy, far above chance (seed 1 gets more, seeds 2-4 too)
  };
  for (const auto& c : {Case{"--env.mode=discrimination --env.distractors=4 --train.steps=300", 0.8},  // chance 1/5
                        Case{"--agents.relaxation=st_gumbel --agents.eos=true --agents.activation=relu --env.attributes=4 "
                             "--env.values=4 --agents.vocab_size=9 --agents.max_len=5 --train.steps=300",
                             0.6},  // chance 1/256
                        Case{"--agents.relaxation=reinforce --env.attributes=3 --env.values=4 --agents.vocab_size=12 "
                             "--agents.max_len=3 --train.steps=600",
                             0.4}}) {  // chance 1/64
    auto r = train(dir, "run", "--train.eval_every=300 --eval.size=500 --overwrite " + c.extra);
    INFO(c.extra << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    RunReader reader(dir / "run/run.h5");
    CHECK(reader.validate().empty());
    // Objects the agents never trained on: the val and test splits (a few dozen objects at most
    // in the small games, so their mean).
    const double held_out = (reader.scalar("sp_acc/val").value.back() + reader.scalar("sp_acc/test").value.back()) / 2;
    CHECK(held_out > c.above);
  }
}

TEST_CASE("cli: config errors exit 2 naming the option", "[e2e][errors]") {
  test::TempDir dir;
  struct Case {
    std::string args, expect;
  };
  std::vector<Case> cases = {
      {"--env.atributes=3", "did you mean 'env.attributes'"},
      {"--env.attributes=six", "env.attributes"},
      {"--env.attributes=0", "an integer in [1, 64]"},
      {"--agents.temperature=-1", "agents.temperature"},
      {"--agents.relaxation=magic", "one of gumbel|st_gumbel|reinforce"},
      {"--agents.eos=maybe", "true or false"},
      {"--env.name=nope", "env.name"},
      {"--env.mode=discrimination --env.distractors=1000 --env.attributes=2 --env.values=100", "env.distractors"},
      {"stray", "second one"},
      {"--agents.max_len=1000 --agents.vocab_size=100000", "agents.hidden x agents.max_len x agents.vocab_size"},
  };
  for (const auto& c : cases) {
    auto r = train(dir, "bad", c.args);
    INFO(c.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.expect));
    CHECK_THAT(r.output, Catch::StartsWith("emcomm: error:"));
    CHECK_FALSE(fs::exists(dir / "bad"));  // nothing left behind
  }
  auto missing = test::run_emcomm("train /nonexistent/x.ini");
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Catch::Contains("/nonexistent/x.ini"));
  CHECK(test::run_emcomm("frobnicate").exit_code == 2);
  CHECK(test::run_emcomm("").exit_code == 2);
}

TEST_CASE("cli: an existing run directory is refused unless --overwrite", "[e2e][errors]") {
  test::TempDir dir;
  const std::string extra = "--train.steps=5 --eval.size=100";
  REQUIRE(train(dir, "run", extra).exit_code == 0);
  auto again = train(dir, "run", extra);
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.output, Catch::Contains("--overwrite"));
  CHECK(train(dir, "run", extra + " --overwrite").exit_code == 0);
}

TEST_CASE("cli: list prints every env and algorithm with options and defaults", "[e2e]") {
  auto r = test::run_emcomm("list");
  REQUIRE(r.exit_code == 0);
  for (auto s : {"lewis", "selfplay", "--env.attributes", "--agents.relaxation", "--run.seed", "default 60"})
    CHECK_THAT(r.output, Catch::Contains(s));
}
