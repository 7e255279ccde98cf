// The MarkovGame adapter over a SignalingGame (the Lewis game): who speaks and acts when, what
// the listener sees, the reward, and the REINFORCE learner running on it.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include "algorithms/reinforce.h"
#include "envs/adapter/signaling_adapter.h"
#include "envs/lewis/lewis.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

std::shared_ptr<LewisGame> lewis(LewisGame::Mode mode, int64_t attributes = 2) {
  LewisGame::Options o;
  o.attributes = attributes, o.values = 4, o.distractors = 3, o.mode = mode;
  return std::make_shared<LewisGame>(o, Rng(1));
}

}  // namespace

TEST_CASE("adapter: the Lewis game as a two-agent Markov game, reconstruction", "[adapter]") {
  SignalingAdapter g(lewis(LewisGame::Mode::Reconstruct), 5, 2);
  CHECK(g.num_agents() == 2);
  CHECK(g.agent_spec(0).obs_dim == 8);
  CHECK(g.agent_spec(0).action_factors == 0);
  CHECK(g.agent_spec(0).vocab_size == 5);
  CHECK(g.agent_spec(0).msg_len == 2);
  CHECK(g.agent_spec(1).obs_dim == 10);  // the message one-hots, 2 x 5
  CHECK(g.agent_spec(1).action_factors == 2);
  CHECK(g.agent_spec(1).action_values == 4);
  CHECK(g.agent_spec(1).vocab_size == 0);
  CHECK(g.hears(1, 0));
  CHECK_FALSE(g.hears(0, 1));
  Rng rng(2);
  const int64_t B = 6;
  MarkovState s = g.reset(B, rng);
  CHECK(s.speaks.select(1, 0).all().item<bool>());
  CHECK_FALSE(s.speaks.select(1, 1).any().item<bool>());
  CHECK_FALSE(s.acts.any().item<bool>());
  CHECK(torch::equal(s.obs[0], g.batch().sender_input));
  CHECK(s.obs[1].sum().item<float>() == 0);  // nothing heard yet
  auto messages = torch::zeros({B, 2, 2}, torch::kInt64);
  messages.select(1, 0).select(1, 0).fill_(3);
  messages.select(1, 0).select(1, 1).fill_(1);
  s = g.step(torch::zeros({B, 2, 2}, torch::kInt64), messages, rng);
  CHECK(s.acts.select(1, 1).all().item<bool>());
  CHECK_FALSE(s.acts.select(1, 0).any().item<bool>());
  CHECK(s.obs[1][0][3].item<float>() == 1);      // position 0, symbol 3
  CHECK(s.obs[1][0][5 + 1].item<float>() == 1);  // position 1, symbol 1
  CHECK(s.obs[1].sum().item<float>() == 2 * B);
  // The listener answers attribute 0 right and attribute 1 wrong: reward 1/2 for both agents.
  auto target = g.batch().target;  // [B, 2]
  auto actions = torch::zeros({B, 2, 2}, torch::kInt64);
  actions.select(1, 1).select(1, 0).copy_(target.select(1, 0));
  actions.select(1, 1).select(1, 1).copy_((target.select(1, 1) + 1).remainder(4));
  s = g.step(actions, messages, rng);
  CHECK(s.done.all().item<bool>());
  CHECK(torch::allclose(s.reward, torch::full({B, 2}, 0.5)));
  auto imposed = g.impose_message(1, 0, torch::zeros({1, 10}), torch::tensor({{4, 0}}, torch::kInt64));
  CHECK(imposed[0][4].item<float>() == 1);
  CHECK(imposed[0][5].item<float>() == 1);
  CHECK(imposed.sum().item<float>() == 2);
}

TEST_CASE("adapter: discrimination listeners see the candidates and pick one", "[adapter]") {
  SignalingAdapter g(lewis(LewisGame::Mode::Discriminate, 3), 4, 1);  // 64 objects: 6 in val
  CHECK(g.agent_spec(1).obs_dim == 4 * 12 + 4);
  CHECK(g.agent_spec(1).action_factors == 1);
  CHECK(g.agent_spec(1).action_values == 4);
  Rng rng(3);
  MarkovState s = g.reset_eval(3, rng);
  CHECK(torch::equal(s.obs[1].narrow(1, 0, 48), g.batch().receiver_input.reshape({3, 48})));
  s = g.step(torch::zeros({3, 2, 1}, torch::kInt64), torch::zeros({3, 2, 1}, torch::kInt64), rng);
  auto actions = torch::zeros({3, 2, 1}, torch::kInt64);
  actions.select(1, 1).select(1, 0).copy_(g.batch().target);
  s = g.step(actions, torch::zeros({3, 2, 1}, torch::kInt64), rng);
  CHECK(torch::allclose(s.reward, torch::ones({3, 2})));
}

TEST_CASE("adapter: REINFORCE learns a small Lewis game through the adapter", "[adapter]") {
  LewisGame::Options lo;
  lo.attributes = 2, lo.values = 4;  // 16 objects
  auto game = std::make_shared<SignalingAdapter>(std::make_shared<LewisGame>(lo, Rng(1)), 16, 1);
  Reinforce::Options opt;
  opt.eval_size = 200, opt.log_rows = 20, opt.cic.last_step = 1;
  opt.hidden = 64;
  opt.coefs.message = 1.0;  // the speaker learns as fast as the listener
  Reinforce learner(opt, game, Rng(4));
  double first = 0, last = 0;
  for (int64_t step = 1; step <= 600; ++step) {
    double r = learner.train_step(step)["reward"];
    if (step <= 20) first += r / 20;
    if (step > 580) last += r / 20;
  }
  INFO("reward first " << first << " last " << last);
  CHECK(first < 0.45);  // chance: 1/4 per attribute
  CHECK(last > 0.6);  // well above chance (0.25 per attribute)
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = learner.evaluate(1, log);
  CHECK(m["messages_per_episode"] == 1);
  CHECK(m.count("cic/sender0"));
  CHECK_FALSE(m.count("cic/sender1"));
}
