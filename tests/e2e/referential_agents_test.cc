// End to end: the referential image configs train through the CLI with the GRU/CNN agents.
#include <catch2/catch.hpp>

#include <filesystem>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {
// Tiny scenes and short runs: a smoke test of the whole path, not of the learning.
const std::string kSmall =
    " --env.size=120 --eval.size=40 --eval.log_rows=5 --agents.hidden=16 --agents.embed=8 --agents.cnn_channels=4"
    " --train.batch_size=16 --overwrite";

test::CommandResult train(const test::TempDir& dir, const std::string& config, const std::string& extra) {
  return test::run_emcomm("train '" + test::source_path("experiments/configs/" + config) + "' --run.out='" +
                          (dir / "run") + "'" + kSmall + " " + extra);
}
}  // namespace

TEST_CASE("referential e2e: the self-play and S2P image configs train with GRU and CNN agents", "[e2e][gru][images]") {
  test::TempDir dir;
  {
    auto r = train(dir, "referential_selfplay.ini", "--train.steps=20 --train.eval_every=10");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    RunReader reader(dir / "run/run.h5");
    CHECK(reader.validate().empty());
    CHECK(reader.scalar("sp_acc/test").value.size() == 2);
    CHECK(reader.interaction_rows("test") == 2 * 5);
  }
  for (std::string extra : {"--agents.score=inv_mse --agents.shared_encoder=true", "--agents.relaxation=reinforce",
                            "--agents.relaxation=gumbel --population.size=2"}) {
    auto r = train(dir, "referential_s2p.ini",
                   "--train.steps=30 --train.eval_every=15 --s2p.seed_size=40 --s2p.listener_pretrain=5 "
                   "--s2p.speaker_pretrain=5 --s2p.sp_steps=5 --s2p.sup_steps=2 " + extra);
    INFO(extra << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    RunReader reader(dir / "run/run.h5");
    CHECK(reader.validate().empty());
    for (const char* m : {"listener_human_acc/test", "speaker_human_match/test", "speaker_token_acc/test"})
      CHECK(reader.scalar(m).value.size() == 2);
  }
  // Images need the GRU agents; captions of varying length need EOS.
  auto linear = train(dir, "referential_selfplay.ini", "--train.steps=2 --agents.arch=linear");
  CHECK(linear.exit_code == 2);
  CHECK_THAT(linear.output, Catch::Contains("agents.arch=gru"));
  auto no_eos = train(dir, "referential_s2p.ini", "--train.steps=300 --s2p.seed_size=40 --agents.eos=false --agents.max_len=8");
  CHECK(no_eos.exit_code == 2);
  CHECK_THAT(no_eos.output, Catch::Contains("agents.eos=true"));
}
