// GRU agents through the trainers: self-play and S2P build them from agents.arch=gru and learn.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "algorithms/s2p.h"
#include "algorithms/selfplay.h"
#include "core/errors.h"
#include "envs/lewis/lewis.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

Config config(const std::vector<std::string>& common, const std::vector<std::string>& extra) {
  std::vector<std::string> args = common;
  args.insert(args.end(), extra.begin(), extra.end());
  return resolve_config(build_schema(), "", args);
}

// A tiny Lewis discrimination game: 3 attributes x 4 values, 1 target + 4 distractors.
const std::vector<std::string> kTinyDiscrimination = {
    "--env.attributes=3",     "--env.values=4",      "--env.mode=discrimination", "--env.distractors=4",
    "--agents.arch=gru",      "--agents.hidden=32",  "--agents.embed=8",          "--agents.vocab_size=10",
    "--agents.max_len=3",     "--agents.eos=true",   "--train.batch_size=64",     "--train.lr=0.01",
    "--eval.size=64",         "--eval.log_rows=4"};

template <class Algo>
std::unique_ptr<Algo> build(const Config& cfg, std::shared_ptr<LewisGame>& game) {
  game = std::make_shared<LewisGame>(LewisGame::Options::from(cfg), Rng(1).derive("env"));
  return std::make_unique<Algo>(Algo::Options::from(cfg), game, Rng(1).derive("algorithm"));
}

}  // namespace

TEST_CASE("gru self-play learns a tiny Lewis discrimination game", "[gru][learning]") {
  // Soft Gumbel with inv_mse learns too, more slowly (about 0.55 after 400 steps, 0.8 after 800).
  for (auto [relax, score] : std::vector<std::pair<std::string, std::string>>{
           {"st_gumbel", "dot"}, {"st_gumbel", "inv_mse"}, {"gumbel", "dot"}}) {
    {
      INFO(relax << " " << score);
      Config cfg = config(kTinyDiscrimination, {"--train.algorithm=selfplay", "--agents.relaxation=" + relax,
                                                "--agents.score=" + score});
      std::shared_ptr<LewisGame> game;
      auto algo = build<SelfPlay>(cfg, game);
      test::TempDir dir;
      RunWriter log(dir / "run.h5", {}, "", "test");
      const double before = algo->evaluate(0, log).at("sp_acc/train");
      for (int64_t t = 1; t <= 300; ++t) algo->train_step(t);
      const double after = algo->evaluate(300, log).at("sp_acc/train");
      CHECK(before < 0.5);
      CHECK(after > 0.65);  // chance is 0.2
    }
  }
}

TEST_CASE("gru self-play with reinforce: same seed, same losses", "[gru][determinism]") {
  Config cfg = config(kTinyDiscrimination, {"--train.algorithm=selfplay", "--agents.relaxation=reinforce"});
  std::shared_ptr<LewisGame> g1, g2;
  auto a = build<SelfPlay>(cfg, g1), b = build<SelfPlay>(cfg, g2);
  for (int64_t t = 1; t <= 5; ++t) CHECK(a->train_step(t).at("loss") == b->train_step(t).at("loss"));
}

TEST_CASE("gru s2p: teacher-forced supervision lowers the speaker loss and masters the seed set", "[gru][s2p]") {
  Config cfg = config(kTinyDiscrimination, {"--train.algorithm=s2p", "--s2p.schedule=supervised", "--s2p.seed_size=50",
                                            "--agents.max_len=4", "--agents.vocab_size=13", "--population.size=2"});
  std::shared_ptr<LewisGame> game;
  auto algo = build<S2P>(cfg, game);
  const double first = algo->train_step(1).at("loss/sup_speaker");
  double last = first;
  for (int64_t t = 2; t <= 200; ++t) last = algo->train_step(t).at("loss/sup_speaker");
  CHECK(last < 0.1 * first);
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = algo->evaluate(200, log);
  // The train evaluation set is the whole train split (51 objects), 45 of them seed-train.
  CHECK(m.at("speaker_human_match/train") > 0.8);
  CHECK(m.at("speaker_token_acc/train") >= m.at("speaker_human_match/train"));
  CHECK(m.at("speaker_token_acc/train") < 1.0 + 1e-9);
  CHECK(m.at("listener_human_acc/train") > 0.8);
}

TEST_CASE("agent factory: impossible combinations exit 2 naming the option", "[gru][errors]") {
  test::TempDir dir;
  const std::string base = "train '" + test::source_path("experiments/configs/lewis_selfplay.ini") + "' --run.out='" +
                           (dir / "bad") + "' --train.steps=2 ";
  struct Case {
    std::string args, expect;
  };
  for (const auto& c : {Case{"--agents.score=inv_mse", "agents.score=inv_mse needs agents.arch=gru"},
                        Case{"--agents.shared_encoder=true", "agents.shared_encoder=true needs agents.arch=gru"},
                        Case{"--agents.arch=gru --agents.shared_encoder=true", "needs a discrimination game"},
                        Case{"--agents.arch=gru --agents.score=inv_mse", "needs a discrimination game"},
                        Case{"--agents.arch=gru --metrics.cic_every=5", "metrics.cic_every=5"},
                        Case{"--agents.arch=lstm", "agents.arch"}}) {
    auto r = test::run_emcomm(base + c.args);
    INFO(c.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains(c.expect));
  }
}
