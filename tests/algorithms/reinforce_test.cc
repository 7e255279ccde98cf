// The REINFORCE/A2C learner of Markov games: its loss on a hand-checked batch, the message
// ablation, determinism, and that it learns to use cheap talk where the game needs it.
#include <ATen/CPUGeneratorImpl.h>
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <tuple>

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

  // train_message=false: no message terms, and the value loss only at the acting steps
  // ((0.25 + 1) / 2 = 0.625), as the released --mask-c-learning.
  c.train_message = false;
  value.grad().zero_();
  ReinforceTerms ablated = reinforce_loss(logp_a, ent_a, act_mask, logp_m, ent_m, speak_mask, value, ret, c);
  CHECK(ablated.value.item<double>() == Approx(0.625));
  CHECK(ablated.total.item<double>() == Approx(0.175 - 0.005 + 0.0625));
  ablated.total.backward();
  CHECK(value.grad()[0][0].item<double>() == 0);  // a speaking step's value does not learn
  CHECK(value.grad()[1][0].item<double>() == Approx(0.1 * (1.5 - 2.0)));
}

TEST_CASE("reinforce: the batch-mean baseline (the released code's) on a hand-checked batch", "[reinforce]") {
  // The batch of the test above. Acting steps (t = 1): V = (1.5, -1), G = (2, 0); speaking steps
  // (t = 0): V = (0.5, 1), G = (2, 0).
  auto t = [](std::vector<float> v) { return torch::tensor(v).view({2, 2}); };
  auto logp_a = t({-1, -2, -0.5, -0.1}).requires_grad_(true);
  auto ent_a = t({9, 9, 0.6, 0.4});
  auto act_mask = t({0, 0, 1, 1});
  auto logp_m = t({-0.7, -1.2, 0, 0}).requires_grad_(true);
  auto ent_m = t({1.0, 0.8, 7, 7});
  auto speak_mask = t({1, 1, 0, 0});
  auto value = t({0.5, 1.0, 1.5, -1.0}).requires_grad_(true);
  auto ret = t({2, 0, 2, 0});
  ReinforceCoefs c;
  c.baseline = Baseline::BatchMean;
  ReinforceTerms r = reinforce_loss(logp_a, ent_a, act_mask, logp_m, ent_m, speak_mask, value, ret, c);
  // Acting: Vbar = 0.25, advantages (1.75, -0.25); speaking: Vbar = 0.75, advantages (1.25, -0.75).
  CHECK(r.action.item<double>() == Approx(0.425));      // -(1.75 * -0.5 + -0.25 * -0.1) / 2
  CHECK(r.message.item<double>() == Approx(-0.0125));   // -(1.25 * -0.7 + -0.75 * -1.2) / 2
  // Every (G_j - V_i)^2 of a kind, over B * n = 4: acting (0.25 + 2.25 + 9 + 1) / 4 = 3.125,
  // speaking (2.25 + 0.25 + 1 + 1) / 4 = 1.125.
  CHECK(r.value.item<double>() == Approx(4.25));
  CHECK(r.total.item<double>() == Approx(0.425 - 0.00125 - 0.014 + 0.425));
  r.total.backward();
  // V is not detached: the acting V_0 gets d(L_action)/dVbar * dVbar/dV_0 = (-0.5 - 0.1) / 2 * 1/2
  // = -0.15, plus 0.1 * 2 / 4 * ((1.5 - 2) + (1.5 - 0)) = 0.05 from its regression to the batch.
  CHECK(value.grad()[1][0].item<double>() == Approx(-0.15 + 0.05));
  CHECK(value.grad()[1][1].item<double>() == Approx(-0.15 + 0.1 * 0.5 * ((-1.0 - 2) + (-1.0 - 0))));
  // The speaking V_0: 0.1 * (-0.7 - 1.2) / 2 * 1/2 = -0.0475, plus 0.1 * 2 / 4 * (-1.5 + 0.5) = -0.05.
  CHECK(value.grad()[0][0].item<double>() == Approx(-0.0475 - 0.05));
  CHECK(logp_a.grad()[1][0].item<double>() == Approx(-1.75 / 2));
  CHECK(logp_a.grad()[1][1].item<double>() == Approx(0.25 / 2));
  CHECK(logp_a.grad()[0][0].item<double>() == 0);
  CHECK(logp_m.grad()[0][1].item<double>() == Approx(-0.1 * -0.75 / 2));

  // --mask-c-learning: no message terms and no value loss at the speaking steps.
  c.train_message = false;
  value.grad().zero_();
  ReinforceTerms ablated = reinforce_loss(logp_a, ent_a, act_mask, logp_m, ent_m, speak_mask, value, ret, c);
  CHECK(ablated.value.item<double>() == Approx(3.125));
  CHECK(ablated.total.item<double>() == Approx(0.425 - 0.005 + 0.3125));
  ablated.total.backward();
  CHECK(value.grad()[0][0].item<double>() == 0);
  CHECK(value.grad()[1][0].item<double>() == Approx(-0.15 + 0.05));
}

TEST_CASE("reinforce: the batch-mean baseline equals the [B] - [B, 1] broadcast of the released code", "[reinforce]") {
  // One kind of step over B = 5 episodes (every entry masked in): the loss and the gradients of
  // a * mean((G - V[:, None]) ...) over the B x B table, computed here with an explicit broadcast.
  torch::manual_seed(3);
  const int64_t B = 5;
  auto logp = (-torch::rand({1, B}) * 2).requires_grad_(true);
  auto value = torch::randn({1, B}).requires_grad_(true);
  auto ret = torch::randn({1, B}) * 3;
  auto ones = torch::ones({1, B}), zeros = torch::zeros({1, B});
  ReinforceCoefs c;
  c.baseline = Baseline::BatchMean;
  c.entropy = 0;
  ReinforceTerms r = reinforce_loss(logp, zeros, ones, zeros, zeros, zeros, value, ret, c);
  r.total.backward();
  auto lp2 = logp.detach().clone().requires_grad_(true), v2 = value.detach().clone().requires_grad_(true);
  auto table = ret.view({1, B}) - v2.view({B, 1});  // [B, B]: row i = V_i, column j = G_j
  auto expected = (-lp2.view({1, B}) * table).mean() + 0.1 * table.pow(2).mean();
  expected.backward();
  CHECK(r.total.item<double>() == Approx(expected.item<double>()));
  for (int64_t b = 0; b < B; ++b) {
    CHECK(value.grad()[0][b].item<double>() == Approx(v2.grad()[0][b].item<double>()));
    CHECK(logp.grad()[0][b].item<double>() == Approx(lp2.grad()[0][b].item<double>()));
  }
}

TEST_CASE("reinforce: learns to use cheap talk in a game that needs it", "[reinforce]") {
  // One common-interest N(0, 9) 2x2 matrix per episode that only agent 0 sees; agent 0 speaks,
  // then both act. Without the message agent 1 can only play a fixed action, and the best the
  // pair can then get is E[max of 2 payoffs] = 3 / sqrt(pi) = 1.69; telling agent 1 what to play
  // gets E[max of 4] = 3.09.
  MatrixGame::Options env;
  env.common_payoff = true;
  env.visibility = MatrixGame::Visibility::Agent0;
  env.comm = MatrixGame::Comm::OneAgent;
  Reinforce::Options opt = small_eval();
  opt.coefs.message = 1.0;
  Reinforce learner = make_learner(env, opt, 1);
  for (int64_t step = 1; step <= 800; ++step) learner.train_step(step);  // 51,200 episodes
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = learner.evaluate(800, log);
  INFO("reward/mean " << m["reward/mean"] << " ic " << m["ic"]);
  CHECK(m["reward/mean"] > 2.4);
  CHECK(m["ic/agent0"] > 0.5);  // agent 1's action follows the message
  CHECK(m["cic"] > 0.001);
  CHECK(m["messages_per_episode"] == 1);
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

TEST_CASE("reinforce: choose_heads draws what torch::multinomial draws head by head, from the same stream",
          "[reinforce]") {
  // Two agents' action and message heads of one step, as play() lays them out: [B, N, F] and [B, N, L].
  const int64_t B = 50, N = 2, F = 2, L = 3;
  torch::manual_seed(7);
  std::vector<torch::Tensor> logits = {torch::randn({B, F, 2}) * 3, torch::randn({B, L, 5}) * 3,
                                       torch::randn({B, 1, 2}) * 3, torch::randn({B, L, 5}) * 3};
  auto run = [&](bool greedy) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    auto actions = torch::full({B, N, F}, -1, torch::kInt64), messages = torch::full({B, N, L}, -1, torch::kInt64);
    choose_heads({{logits[0], actions.data_ptr<int64_t>(), N * F},
                  {logits[1], messages.data_ptr<int64_t>(), N * L},
                  {logits[2], actions.data_ptr<int64_t>() + F, N * F},
                  {logits[3], messages.data_ptr<int64_t>() + L, N * L}},
                 greedy, gen);
    return std::make_tuple(actions, messages, torch::rand({4}, gen));  // the stream after the draws
  };
  auto want = [&](bool greedy) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    std::vector<torch::Tensor> c;
    for (const auto& l : logits) {
      const auto K = l.size(2);
      c.push_back(greedy ? l.argmax(-1)
                         : torch::multinomial(torch::softmax(l, -1).reshape({-1, K}), 1, false, gen).view({B, -1}));
    }
    auto actions = torch::full({B, N, F}, -1, torch::kInt64), messages = torch::full({B, N, L}, -1, torch::kInt64);
    actions.select(1, 0).copy_(c[0]);
    messages.select(1, 0).copy_(c[1]);
    actions.select(1, 1).narrow(1, 0, 1).copy_(c[2]);
    messages.select(1, 1).copy_(c[3]);
    return std::make_tuple(actions, messages, torch::rand({4}, gen));
  };
  for (bool greedy : {false, true}) {
    auto [a, m, next] = run(greedy);
    auto [a_want, m_want, next_want] = want(greedy);
    CHECK(torch::equal(a, a_want));
    CHECK(torch::equal(m, m_want));
    CHECK(torch::equal(next, next_want));
  }
  // Not a probability: the error torch::multinomial gives.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  auto out = torch::zeros({1, 1, 1}, torch::kInt64);
  auto bad = torch::full({1, 1, 2}, std::nan(""));
  CHECK_THROWS_WITH(choose_heads({{bad, out.data_ptr<int64_t>(), 1}}, false, gen), Catch::Contains("nan"));
}

TEST_CASE("reinforce: reinforce_loss_grad is the gradient of reinforce_loss through log-softmax, every variant",
          "[reinforce]") {
  // T = 3 steps of B = 8 episodes; 2 action factors of 3 values, 2 message positions of 4 symbols.
  const int64_t T = 3, B = 8, F = 2, K = 3, L = 2, V = 4;
  torch::manual_seed(5);
  const auto za = torch::randn({T * B, F, K}) * 2, zm = torch::randn({T * B, L, V}) * 2;
  const auto ca = torch::randint(0, K, {T, B, F}, torch::kInt64), cm = torch::randint(0, V, {T, B, L}, torch::kInt64);
  const auto act = (torch::rand({T, B}) < 0.5).to(torch::kFloat32), speak = (torch::rand({T, B}) < 0.6).to(torch::kFloat32);
  const auto value = torch::randn({T, B}), ret = torch::randn({T, B}) * 3;
  // What train_step fed reinforce_loss: log pi and entropy summed over factors, [T, B].
  auto terms = [&](const torch::Tensor& z, const torch::Tensor& c) {
    auto lp = torch::log_softmax(z, -1);
    auto logp = lp.gather(2, c.reshape({T * B, -1}).unsqueeze(2)).squeeze(2).sum(1).view({T, B});
    auto ent = -(lp.exp() * lp).sum(2).sum(1).view({T, B});
    return std::make_pair(logp, ent);
  };
  for (auto baseline : {Baseline::State, Baseline::BatchMean})
    for (bool train_message : {true, false})
      for (bool speaks : {true, false}) {
        CAPTURE(baseline == Baseline::State, train_message, speaks);
        ReinforceCoefs c;
        c.baseline = baseline;
        c.train_message = train_message;
        c.message = 0.3, c.entropy = 0.05, c.value = 0.2;
        auto za_ = za.clone().requires_grad_(true), zm_ = zm.clone().requires_grad_(true);
        auto v_ = value.clone().requires_grad_(true);
        auto [lpa, ea] = terms(za_, ca);
        auto [lpm, em] = speaks ? terms(zm_, cm) : std::make_pair(torch::zeros({T, B}), torch::zeros({T, B}));
        ReinforceTerms want = reinforce_loss(lpa, ea, act, lpm, em, speak, v_, ret, c);
        want.total.backward();
        ReinforceGrad got = reinforce_loss_grad(za, ca, act, speaks ? zm : torch::Tensor(), cm, speak, value, ret, c);
        CHECK(got.total == Approx(want.total.item<double>()).epsilon(1e-5));
        CHECK(got.value_loss == Approx(want.value.item<double>()).epsilon(1e-5));
        CHECK(torch::allclose(got.action_logits, za_.grad(), 1e-4, 1e-6));
        CHECK(torch::allclose(got.value, v_.grad(), 1e-4, 1e-6));
        if (speaks && train_message) CHECK(torch::allclose(got.message_logits, zm_.grad(), 1e-4, 1e-6));
        if (speaks && !train_message) CHECK(got.message_logits.abs().max().item<float>() == 0.0f);
        if (!speaks) CHECK_FALSE(got.message_logits.defined());
      }
}
