// MADDPG/DDPG: the Gumbel-softmax segments, Glorot init, per-tensor clipping, Polyak targets,
// the update schedule in transitions, determinism, ensembles, local critics, integer games.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include "algorithms/maddpg.h"
#include "core/errors.h"
#include "core/run_file.h"
#include "envs/matrix/matrix.h"
#include "envs/particle/particle.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

Maddpg::Options small() {
  Maddpg::Options o;
  o.envs = 8;
  o.batch = 64;
  o.learning_starts = 400;
  o.update_every = 100;
  o.eval_size = 50;
  o.log_rows = 40;
  o.cic.last_step = -1;
  return o;
}

std::shared_ptr<ParticleWorld> sl_world() { return std::make_shared<ParticleWorld>(ParticleWorld::Options{}); }

// Ensemble test: sub-policy (0, 0) holds 250 transitions after 600 (moved in the last train step),
// (1, 1) 225 after 800 (never trained), seed 7.
constexpr int64_t kEnsembleLearningStarts = 240;

struct NullLog {
  test::TempPath path{"maddpg.h5"};
  RunWriter writer{path.str(), {}, "", "test"};
};

}  // namespace

TEST_CASE("maddpg: gumbel_soft is a distribution per factor and per message position", "[maddpg]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto logits = torch::randn({4, 5 + 2 * 3});
  auto s = gumbel_soft(logits, 5, 1, 3, 2, 1.0, true, gen);
  CHECK(s.sizes() == logits.sizes());
  CHECK(torch::allclose(s.narrow(1, 0, 5).sum(1), torch::ones({4})));
  CHECK(torch::allclose(s.narrow(1, 5, 3).sum(1), torch::ones({4})));
  CHECK(torch::allclose(s.narrow(1, 8, 3).sum(1), torch::ones({4})));
  auto plain = gumbel_soft(logits, 5, 1, 3, 2, 1.0, false, gen);
  CHECK(torch::allclose(plain.narrow(1, 0, 5), torch::softmax(logits.narrow(1, 0, 5), 1)));
  auto only_msg = gumbel_soft(logits.narrow(1, 0, 3), 5, 0, 3, 1, 1.0, false, gen);
  CHECK(torch::allclose(only_msg, torch::softmax(logits.narrow(1, 0, 3), 1)));
}

TEST_CASE("maddpg: Glorot-uniform init, per-tensor clipping and Polyak targets", "[maddpg]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  MaddpgMlp a(10, 64, 5), b(10, 64, 5);
  glorot_init(*a, gen);
  auto p = a->named_parameters();
  const double bound = std::sqrt(6.0 / (10 + 64));
  CHECK(p["l1.weight"].abs().max().item<double>() <= bound);
  CHECK(p["l1.weight"].abs().max().item<double>() > 0.9 * bound);
  CHECK(p["l1.bias"].abs().max().item<double>() == 0.0);
  polyak_update(*b, *a, 1.0);
  CHECK(torch::equal(b->named_parameters()["l3.weight"], p["l3.weight"]));
  auto before = b->named_parameters()["l3.weight"].clone();
  { torch::NoGradGuard g; p["l3.weight"].add_(1.0); }
  polyak_update(*b, *a, 0.01);
  CHECK(torch::allclose(b->named_parameters()["l3.weight"], before + 0.01));
  auto w = torch::zeros({3}, torch::requires_grad());
  auto v = torch::zeros({2}, torch::requires_grad());
  (w * torch::tensor({3.0, 4.0, 0.0})).sum().add((v * torch::tensor({0.1, 0.0})).sum()).backward();
  clip_each_grad({w, v}, 0.5);
  CHECK(w.grad().norm().item<double>() == Approx(0.5));
  CHECK(v.grad()[0].item<double>() == Approx(0.1));
}

TEST_CASE("maddpg: updates follow the transition schedule and runs are deterministic", "[maddpg]") {
  auto o = small();
  Maddpg m1(o, sl_world(), Rng(4)), m2(o, sl_world(), Rng(4));
  // 8 worlds x 25 steps = 200 transitions per train step; learning starts at 400.
  m1.train_step(1);
  m1.train_step(2);
  CHECK(m1.updates() == 0);
  auto t = m1.train_step(3);
  CHECK(m1.transitions() == 600);
  // Step 2's last env step fills the replay to 400 (8 transitions due), step 3 adds 200: 2 updates.
  CHECK(m1.updates() == 2);
  CHECK(t.count("critic_loss") == 1);
  for (int s = 1; s <= 3; ++s) m2.train_step(s);
  NullLog l1, l2;
  auto e1 = m1.evaluate(3, l1.writer), e2 = m2.evaluate(3, l2.writer);
  CHECK(e1.at("reward") == e2.at("reward"));
  CHECK(e1.at("cic") == e2.at("cic"));
  CHECK(e1.count("target_reach") == 1);
  CHECK(e1.count("target_touch") == 1);
  CHECK(e1.at("cic") >= 0.0);
  CHECK(e1.at("cic") <= std::log2(3.0) + 1e-6);
}

TEST_CASE("maddpg: ensembles, local critics, the reference scenario and matrix games run", "[maddpg]") {
  auto o = small();
  NullLog log;
  SECTION("ensemble") {
    o.ensemble = 2;
    Maddpg m(o, sl_world(), Rng(1));
    for (int s = 1; s <= 6; ++s) m.train_step(s);
    CHECK(m.updates() > 0);
    CHECK(std::isfinite(m.evaluate(6, log.writer).at("reward")));
  }
  SECTION("local critic") {
    o.local_critic = true;
    Maddpg m(o, sl_world(), Rng(1));
    for (int s = 1; s <= 4; ++s) m.train_step(s);
    CHECK(std::isfinite(m.evaluate(4, log.writer).at("cic")));
  }
  SECTION("reference") {
    ParticleWorld::Options w;
    w.scenario = ParticleWorld::Scenario::Reference;
    Maddpg m(o, std::make_shared<ParticleWorld>(w), Rng(1));
    for (int s = 1; s <= 4; ++s) m.train_step(s);
    auto e = m.evaluate(4, log.writer);
    CHECK(std::isfinite(e.at("reward")));
    CHECK(e.count("cic") == 1);
  }
  SECTION("matrix game through integer actions") {
    MatrixGame::Options mo;
    o.learning_starts = 64;
    o.update_every = 8;
    Maddpg m(o, std::make_shared<MatrixGame>(mo), Rng(1));
    for (int s = 1; s <= 20; ++s) m.train_step(s);
    CHECK(m.updates() > 0);
    auto e = m.evaluate(20, log.writer);
    CHECK(std::isfinite(e.at("reward")));
    CHECK(e.count("cic") == 1);
  }
}

namespace {

std::shared_ptr<ParticleWorld> world(ParticleWorld::Scenario s) {
  ParticleWorld::Options w;
  w.scenario = s;
  return std::make_shared<ParticleWorld>(w);
}

// Random observations and soft actions of every agent of `game`, batch 6.
void random_inputs(const MarkovGame& game, std::vector<torch::Tensor>& obs, std::vector<torch::Tensor>& act) {
  torch::manual_seed(5);
  obs.clear(), act.clear();
  for (int64_t i = 0; i < game.num_agents(); ++i) {
    const AgentSpec s = game.agent_spec(i);
    obs.push_back(torch::randn({6, s.obs_dim}));
    const int64_t d = s.action_factors * s.action_values + (s.vocab_size > 0 ? s.msg_len * s.vocab_size : 0);
    act.push_back(torch::softmax(torch::randn({6, d}), 1));
  }
}

// Whether critic i's value moves when agent j's observation (what = 0) or action (what = 1) changes.
bool critic_depends_on(Maddpg& m, int64_t i, int64_t j, int what, const std::vector<torch::Tensor>& obs,
                       const std::vector<torch::Tensor>& act) {
  torch::NoGradGuard g;
  auto o2 = obs, a2 = act;
  if (what == 0) o2[j] = obs[j] + 1.0;
  else a2[j] = act[j].flip({1});
  return !torch::allclose(m.critic_value(i, obs, act), m.critic_value(i, o2, a2));
}

}  // namespace

TEST_CASE("maddpg: teams give each side a global (maddpg) or local (ddpg) critic", "[maddpg]") {
  auto o = small();
  auto game = world(ParticleWorld::Scenario::Adversary);  // 0 = adversary (obs 8), 1-2 good (obs 10); 5 moves each
  std::vector<torch::Tensor> obs, act;
  random_inputs(*game, obs, act);
  auto everything = torch::cat({obs[0], obs[1], obs[2], act[0], act[1], act[2]}, 1);
  SECTION("MADDPG good agents vs a DDPG adversary") {
    o.adversary_local = true;
    Maddpg m(o, game, Rng(1));
    CHECK(m.critic_is_local(0));
    CHECK_FALSE(m.critic_is_local(1));
    CHECK_FALSE(m.critic_is_local(2));
    CHECK(torch::equal(m.critic_input(0, obs, act), torch::cat({obs[0], act[0]}, 1)));
    CHECK(torch::equal(m.critic_input(1, obs, act), everything));
    CHECK(torch::equal(m.critic_input(2, obs, act), everything));
    for (int what = 0; what < 2; ++what) {
      CHECK(critic_depends_on(m, 0, 0, what, obs, act));
      CHECK_FALSE(critic_depends_on(m, 0, 1, what, obs, act));
      CHECK_FALSE(critic_depends_on(m, 0, 2, what, obs, act));
      for (int64_t j = 0; j < 3; ++j) CHECK(critic_depends_on(m, 1, j, what, obs, act));
    }
    for (int s = 1; s <= 3; ++s) m.train_step(s);  // trains with the mixed input widths
    CHECK(m.updates() > 0);
  }
  SECTION("DDPG good agents vs a MADDPG adversary") {
    o.good_local = true;
    Maddpg m(o, game, Rng(1));
    CHECK_FALSE(m.critic_is_local(0));
    CHECK(torch::equal(m.critic_input(0, obs, act), everything));
    for (int64_t i = 1; i < 3; ++i) {
      CHECK(m.critic_is_local(i));
      CHECK(torch::equal(m.critic_input(i, obs, act), torch::cat({obs[i], act[i]}, 1)));
      for (int what = 0; what < 2; ++what)
        for (int64_t j = 0; j < 3; ++j) CHECK(critic_depends_on(m, i, j, what, obs, act) == (j == i));
    }
  }
  SECTION("maddpg.local_critic makes every critic local") {
    o.local_critic = true;
    Maddpg m(o, game, Rng(1));
    for (int64_t i = 0; i < 3; ++i) {
      CHECK(m.critic_is_local(i));
      CHECK(torch::equal(m.critic_input(i, obs, act), torch::cat({obs[i], act[i]}, 1)));
      for (int what = 0; what < 2; ++what)
        for (int64_t j = 0; j < 3; ++j) CHECK(critic_depends_on(m, i, j, what, obs, act) == (j == i));
    }
  }
  SECTION("the default is MADDPG on both sides") {
    Maddpg m(o, game, Rng(1));
    for (int64_t i = 0; i < 3; ++i) CHECK(torch::equal(m.critic_input(i, obs, act), everything));
  }
  SECTION("predator-prey: the predators are the adversaries") {
    o.adversary_local = true;
    Maddpg m(o, world(ParticleWorld::Scenario::Tag), Rng(1));
    for (int64_t i = 0; i < 3; ++i) CHECK(m.critic_is_local(i));
    CHECK_FALSE(m.critic_is_local(3));
  }
  SECTION("maddpg.adversary is refused on a game without adversaries") {
    o.adversary_given = true;
    CHECK_THROWS_AS(Maddpg(o, sl_world(), Rng(1)), UserError);
    CHECK_THROWS_WITH(Maddpg(o, world(ParticleWorld::Scenario::Spread), Rng(1)), Catch::Contains("maddpg.adversary"));
    CHECK_NOTHROW(Maddpg(o, game, Rng(1)));
  }
}

TEST_CASE("maddpg ensembles: K actors per agent, a replay per sub-policy filled by whole episodes, each updated from its own",
          "[maddpg]") {
  auto o = small();  // 8 worlds x 25 steps: 200 transitions per train step
  o.ensemble = 3;
  o.learning_starts = kEnsembleLearningStarts;
  auto game = sl_world();
  Maddpg m(o, game, Rng(7));
  // Fixed observations through each sub-policy (the softmax, no noise): [agent][k].
  const int64_t B = 6;
  std::vector<torch::Tensor> obs;
  torch::manual_seed(3);
  for (int64_t i = 0; i < 2; ++i) obs.push_back(torch::randn({B, game->agent_spec(i).obs_dim}));
  auto all = [&](int64_t k) { return std::vector<int64_t>(B * 2, k); };  // one index per (row, agent)
  auto policies = [&] {
    torch::NoGradGuard g;
    std::vector<std::vector<torch::Tensor>> p(2);
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 3; ++k) p[i].push_back(m.act(i, obs[i], all(k), false, false));
    return p;
  };
  const auto before = policies();
  // Three different actors per agent; a mixed index picks each row's own.
  std::vector<int64_t> mixed(B * 2);
  for (int64_t b = 0; b < B; ++b) mixed[b * 2 + 0] = b % 3, mixed[b * 2 + 1] = (b + 1) % 3;
  for (int64_t i = 0; i < 2; ++i) {
    CHECK_FALSE(torch::allclose(before[i][0], before[i][1]));
    CHECK_FALSE(torch::allclose(before[i][1], before[i][2]));
    torch::NoGradGuard g;
    auto picked = m.act(i, obs[i], mixed, false, false);
    for (int64_t b = 0; b < B; ++b) CHECK(torch::equal(picked[b], before[i][mixed[b * 2 + i]][b]));
  }

  for (int s = 1; s <= 3; ++s) m.train_step(s);
  std::vector<std::vector<int64_t>> sizes3(2);  // before the last train step
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 3; ++k) sizes3[i].push_back(m.replay_size(i, k));
  m.train_step(4);
  REQUIRE(m.transitions() == 800);
  // Every agent's transitions are split over its 3 replays, by whole episodes (a world keeps the
  // sub-policies it drew for the 25 steps of an episode); the agents draw independently.
  std::vector<std::vector<int64_t>> sizes(2);
  for (int64_t i = 0; i < 2; ++i) {
    int64_t sum = 0;
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t n = m.replay_size(i, k);
      INFO("agent " << i << " sub-policy " << k << ": " << n << " transitions");
      CHECK(n > 0);
      CHECK(n % 25 == 0);
      sizes[i].push_back(n);
      sum += n;
    }
    CHECK(sum == 800);
  }
  CHECK(sizes[0] != sizes[1]);
  // A sub-policy is trained only from its own replay, once that holds maddpg.learning_starts
  // transitions: one whose replay never got there has not moved; one whose replay got there
  // before the last train step (200 transitions, two update rounds) has. Seed 7 has both kinds.
  const auto after = policies();
  int moved = 0, still = 0;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 3; ++k) {
      INFO("agent " << i << " sub-policy " << k << ": " << sizes3[i][k] << " then " << sizes[i][k] << " transitions");
      const bool changed = !torch::equal(after[i][k], before[i][k]);
      if (sizes[i][k] < o.learning_starts) {
        CHECK_FALSE(changed);
        ++still;
      }
      if (sizes3[i][k] >= o.learning_starts) {
        CHECK(changed);
        ++moved;
      }
    }
  CHECK(moved > 0);
  CHECK(still > 0);
}
