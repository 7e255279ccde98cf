// The REINFORCE/A2C learner of Markov games: its loss on a hand-checked batch, the message
// ablation, determinism, and that it solves a coordination game with cheap talk in seconds.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <chrono>

#include "algorithms/reinforce.h"
#include "envs/matrix/matrix.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

Reinforce make_learner(const MatrixGame::Options& env, Reinforce::Options opt, uint64_t seed) {
  return Reinforce(opt, std::make_shared<MatrixGame>(env), Rng(seed));
}

Reinforce::Options small_eval() {
  Reinforce::Options o;
  o.eval_size = 500;
  o.log_rows = 50;
  o.cic.last_step = -1;
  return o;
}

}  // namespace

TEST_CASE("reinforce: the loss terms on a tiny hand-checked batch", "[reinforce]") {
  // T = 2 steps, B = 2 episodes: step 0 speaks, step 1 acts.
  auto t = [](std::vector<float> v) { return torch::tensor(v).view({2, 2}); };
  auto logp_a = t({-1, -2, -0.5, -0.1}).requires_grad_(true);
  auto ent_a = t({9, 9, 0.6, 0.4});
  auto act_mask = t({0, 0, 1, 1});
  auto logp_m = t({-0.7, -1.2, 0, 0}).requires_grad_(true);
  auto ent_m = t({1.0, 0.8, 7, 7});
  auto speak_mask = t({1, 1, 0, 0});
  auto value = t({0.5, 1.0, 1.5, -1.0}).requires_grad_(true);
  auto ret = t({2, 0, 2, 0});
  ReinforceCoefs c;  // 0.1 message, 0.01 entropy, 0.1 value
  ReinforceTerms r = reinforce_loss(logp_a, ent_a, act_mask, logp_m, ent_m, speak_mask, value, ret, c);
  // advantages (ret - value) = [1.5, -1.0, 0.5, 1.0]
  CHECK(r.action.item<double>() == Approx(0.175));           // -(0.5 * -0.5 + 1.0 * -0.1) / 2
  CHECK(r.message.item<double>() == Approx(-0.075));         // -(1.5 * -0.7 + -1.0 * -1.2) / 2
  CHECK(r.entropy_action.item<double>() == Approx(0.5));     // (0.6 + 0.4) / 2, masked
  CHECK(r.entropy_message.item<double>() == Approx(0.9));    // (1.0 + 0.8) / 2
  CHECK(r.value.item<double>() == Approx(2.25));             // (2.25 + 1 + 0.25 + 1) / 2
  CHECK(r.total.item<double>() == Approx(0.175 - 0.0075 - 0.014 + 0.225));
  r.total.backward();
  // The advantage is detached: the value learns only from its MSE.
  CHECK(value.grad()[0][0].item<double>() == Approx(0.1 * (0.5 - 2.0)));
  CHECK(logp_a.grad()[1][0].item<double>() == Approx(-0.5 / 2));
  CHECK(logp_a.grad()[0][0].item<double>() == 0);  // masked: no action at step 0
  CHECK(logp_m.grad()[0][0].item<double>() == Approx(-0.1 * 1.5 / 2));

  c.train_message = false;
  ReinforceTerms ablated = reinforce_loss(logp_a, ent_a, act_mask, logp_m, ent_m, speak_mask, value, ret, c);
  CHECK(ablated.total.item<double>() == Approx(0.175 - 0.005 + 0.225));
}

TEST_CASE("reinforce: solves a fixed coordination game with cheap talk within seconds", "[reinforce]") {
  MatrixGame::Options env;
  env.payoffs = "coordination";
  auto start = std::chrono::steady_clock::now();
  Reinforce learner = make_learner(env, small_eval(), 1);
  for (int64_t step = 1; step <= 300; ++step) learner.train_step(step);
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = learner.evaluate(300, log);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("reward/mean " << m["reward/mean"] << " after " << seconds << " s");
  CHECK(m["reward/mean"] > 0.95);  // both agents pick the same action (payoff 1 each)
  CHECK(seconds < 20);
  CHECK(m.count("sc"));
  CHECK(m.count("cic"));
  CHECK(m["messages_per_episode"] == 2);
}

TEST_CASE("reinforce: train_message=false leaves the message head as initialised", "[reinforce]") {
  MatrixGame::Options env;
  Reinforce::Options opt = small_eval();
  opt.coefs.train_message = false;
  Reinforce learner = make_learner(env, opt, 2);
  auto before = learner.agent(0)->named_parameters()["message.weight"].clone();
  auto trunk = learner.agent(0)->named_parameters()["l1.weight"].clone();
  for (int64_t step = 1; step <= 20; ++step) learner.train_step(step);
  CHECK(torch::equal(learner.agent(0)->named_parameters()["message.weight"], before));
  CHECK_FALSE(torch::equal(learner.agent(0)->named_parameters()["l1.weight"], trunk));

  opt.coefs.train_message = true;
  opt.separate_message_net = true;
  Reinforce separate = make_learner(env, opt, 2);
  auto params = separate.agent(0)->named_parameters();
  CHECK(params.contains("m1.weight"));
  CHECK(params.contains("m2.weight"));
  auto m_before = params["message.weight"].clone();
  for (int64_t step = 1; step <= 5; ++step) separate.train_step(step);
  CHECK_FALSE(torch::equal(separate.agent(0)->named_parameters()["message.weight"], m_before));
}

TEST_CASE("reinforce: same seed same results, another seed differs", "[reinforce]") {
  MatrixGame::Options env;
  auto run = [&](uint64_t seed) {
    Reinforce learner = make_learner(env, small_eval(), seed);
    std::vector<double> losses;
    for (int64_t step = 1; step <= 10; ++step) losses.push_back(learner.train_step(step)["loss"]);
    return losses;
  };
  CHECK(run(3) == run(3));
  CHECK(run(3) != run(4));
}
