// Particle worlds: specs, observation layout, the reference physics on hand-computed steps,
// rewards, episode length, integer vs soft actions, target figures, determinism.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "core/errors.h"
#include "envs/particle/particle.h"

using namespace emcomm;

namespace {

ParticleWorld speaker_listener() { return ParticleWorld(ParticleWorld::Options{}); }

// Soft actions/messages for speaker_listener: listener moves with `move` (5), speaker says `say` (3).
std::pair<torch::Tensor, torch::Tensor> sl_actions(int64_t B, std::vector<float> move, std::vector<float> say) {
  auto a = torch::zeros({B, 2, 5}), m = torch::zeros({B, 2, 3});
  a.select(1, 1).copy_(torch::tensor(move).expand({B, 5}));
  m.select(1, 0).copy_(torch::tensor(say).expand({B, 3}));
  return {a, m};
}

}  // namespace

TEST_CASE("particle: speaker_listener specs and observation layout", "[particle]") {
  auto w = speaker_listener();
  CHECK(w.agent_spec(0).obs_dim == 3);
  CHECK(w.agent_spec(0).action_factors == 0);
  CHECK(w.agent_spec(0).vocab_size == 3);
  CHECK(w.agent_spec(1).obs_dim == 11);
  CHECK(w.agent_spec(1).action_factors == 1);
  CHECK(w.agent_spec(1).action_values == 5);
  CHECK(w.agent_spec(1).vocab_size == 0);
  CHECK(w.hears(1, 0));
  CHECK_FALSE(w.hears(0, 1));
  Rng rng(3);
  auto s = w.reset(4, rng);
  for (int64_t b = 0; b < 4; ++b) {
    const int64_t g = w.goal(b, 0);
    CHECK(g == w.goal(b, 1));
    // Speaker sees the goal's colour: 0.65 at the goal's index, 0.15 elsewhere.
    for (int64_t c = 0; c < 3; ++c) CHECK(s.obs[0][b][c].item<float>() == Approx(c == g ? 0.65 : 0.15));
    CHECK(s.obs[1][b][0].item<float>() == 0.0f);  // velocity
    for (int64_t l = 0; l < 3; ++l)
      for (int d = 0; d < 2; ++d)
        CHECK(s.obs[1][b][2 + 2 * l + d].item<float>() == Approx(w.position(b, 2 + l)[d] - w.position(b, 1)[d]));
    for (int64_t c = 8; c < 11; ++c) CHECK(s.obs[1][b][c].item<float>() == 0.0f);  // nothing heard yet
    for (int64_t e = 0; e < 5; ++e)
      for (int d = 0; d < 2; ++d) CHECK(std::abs(w.position(b, e)[d]) <= 1.0f);
  }
  CHECK(s.speaks.select(1, 0).all().item<bool>());
  CHECK_FALSE(s.speaks.select(1, 1).any().item<bool>());
  CHECK(s.acts.select(1, 1).all().item<bool>());
  CHECK_FALSE(s.acts.select(1, 0).any().item<bool>());
  CHECK(w.size(1) == 0.075f);
  CHECK(w.size(2) == 0.04f);
}

TEST_CASE("particle: one step of the reference physics by hand", "[particle]") {
  auto w = speaker_listener();
  Rng rng(1);
  w.reset(1, rng);
  w.set_position(0, 1, 0.1f, -0.2f);
  w.set_velocity(0, 1, 0.4f, 0.2f);
  // u = (a1 - a2, a3 - a4) * 5 = (0.5, -0.6) * 5
  auto [a, m] = sl_actions(1, {0.1f, 0.6f, 0.1f, 0.0f, 0.6f}, {0.2f, 0.3f, 0.5f});
  auto s = w.step_soft(a, m, rng);
  const float vx = 0.4f * 0.75f + 0.5f * 5.0f * 0.1f, vy = 0.2f * 0.75f - 0.6f * 5.0f * 0.1f;
  CHECK(w.velocity(0, 1)[0] == Approx(vx));
  CHECK(w.velocity(0, 1)[1] == Approx(vy));
  CHECK(w.position(0, 1)[0] == Approx(0.1f + vx * 0.1f));
  CHECK(w.position(0, 1)[1] == Approx(-0.2f + vy * 0.1f));
  // The listener hears the soft message; its observation holds the new velocity.
  CHECK(s.obs[1][0][8].item<float>() == Approx(0.2));
  CHECK(s.obs[1][0][10].item<float>() == Approx(0.5));
  CHECK(s.obs[1][0][0].item<float>() == Approx(vx));
  // Reward: both agents get -2 |listener - goal|^2.
  const int64_t g = w.goal(0, 0);
  const float dx = w.position(0, 1)[0] - w.position(0, 2 + g)[0], dy = w.position(0, 1)[1] - w.position(0, 2 + g)[1];
  CHECK(s.reward[0][0].item<float>() == Approx(-2 * (dx * dx + dy * dy)));
  CHECK(s.reward[0][1].item<float>() == Approx(-2 * (dx * dx + dy * dy)));
  // The immobile speaker does not move.
  CHECK(w.velocity(0, 0)[0] == 0.0f);
}

TEST_CASE("particle: 25-step episodes, done only at the time limit", "[particle]") {
  auto w = speaker_listener();
  Rng rng(2);
  auto s = w.reset(3, rng);
  auto [a, m] = sl_actions(3, {1, 0, 0, 0, 0}, {1, 0, 0});
  int steps = 0;
  while (!s.all_done()) {
    CHECK_FALSE(s.done.any().item<bool>());
    CHECK(s.speaks.select(1, 0).all().item<bool>() == (steps < 24));
    s = w.step_soft(a, m, rng);
    ++steps;
  }
  CHECK(steps == 25);
  CHECK_FALSE(s.acts.any().item<bool>());
  CHECK_THROWS(w.step_soft(a, m, rng));
}

TEST_CASE("particle: integer actions are one-hot soft actions", "[particle]") {
  auto w1 = speaker_listener(), w2 = speaker_listener();
  Rng r1(5), r2(5);
  w1.reset(2, r1);
  w2.reset(2, r2);
  auto ia = torch::tensor({0, 3, 0, 1}, torch::kInt64).view({2, 2, 1});
  auto im = torch::tensor({2, 0, 1, 0}, torch::kInt64).view({2, 2, 1});
  auto s1 = w1.step(ia, im, r1);
  auto sa = torch::zeros({2, 2, 5}), sm = torch::zeros({2, 2, 3});
  sa[0][1][3] = 1, sa[1][1][1] = 1, sm[0][0][2] = 1, sm[1][0][1] = 1;
  auto s2 = w2.step_soft(sa, sm, r2);
  CHECK(torch::equal(s1.obs[1], s2.obs[1]));
  CHECK(torch::equal(s1.reward, s2.reward));
  CHECK_THROWS(w1.step(torch::full({2, 2, 1}, 5, torch::kInt64), im, r1));
}

TEST_CASE("particle: target reach and touch at the current state", "[particle]") {
  auto w = speaker_listener();
  Rng rng(7);
  w.reset(1, rng);
  const int64_t g = w.goal(0, 0);
  w.set_position(0, 2, -0.5f, 0.0f);
  w.set_position(0, 3, 0.0f, 0.0f);
  w.set_position(0, 4, 0.5f, 0.0f);
  const float gx = -0.5f + 0.5f * float(g);
  w.set_position(0, 1, gx + 0.1f, 0.0f);  // 0.1 < 0.115: touching
  CHECK(w.target_reach()[0] == 1);
  CHECK(w.target_touch()[0] == 1);
  w.set_position(0, 1, gx + 0.2f, 0.0f);  // still nearest (landmarks 0.5 apart) but not touching
  CHECK(w.target_reach()[0] == 1);
  CHECK(w.target_touch()[0] == 0);
  w.set_position(0, 1, gx + (g == 2 ? -0.4f : 0.4f), 0.0f);  // nearest is a neighbour
  CHECK(w.target_reach()[0] == 0);
}

TEST_CASE("particle: impose_message writes a one-hot in the heard slot", "[particle]") {
  auto w = speaker_listener();
  Rng rng(1);
  auto s = w.reset(2, rng);
  auto out = w.impose_message(1, 0, s.obs[1], torch::tensor({2, 0}, torch::kInt64).view({2, 1}));
  CHECK(out[0][10].item<float>() == 1.0f);
  CHECK(out[1][8].item<float>() == 1.0f);
  CHECK(torch::equal(out.narrow(1, 0, 8), s.obs[1].narrow(1, 0, 8)));
  CHECK_THROWS(w.impose_message(0, 1, s.obs[0], torch::zeros({2, 1}, torch::kInt64)));
}

TEST_CASE("particle: the reference scenario and determinism", "[particle]") {
  ParticleWorld::Options o;
  o.scenario = ParticleWorld::Scenario::Reference;
  ParticleWorld w1(o), w2(o);
  CHECK(w1.agent_spec(0).obs_dim == 21);
  CHECK(w1.agent_spec(1).vocab_size == 10);
  CHECK(w1.agent_spec(0).action_factors == 1);
  Rng r1(9), r2(9);
  auto s1 = w1.reset(8, r1), s2 = w2.reset(8, r2);
  CHECK(torch::equal(s1.obs[0], s2.obs[0]));
  auto a = torch::rand({8, 2, 5}), m = torch::rand({8, 2, 10});
  s1 = w1.step_soft(a, m, r1);
  s2 = w2.step_soft(a, m, r2);
  CHECK(torch::equal(s1.obs[1], s2.obs[1]));
  // Agent 0 hears agent 1's message in its last 10 values, and sees the colour of its own goal.
  CHECK(torch::allclose(s1.obs[0].narrow(1, 11, 10), m.select(1, 1)));
  const int64_t g = w1.goal(0, 0);
  CHECK(s1.obs[0][0][8 + g].item<float>() == Approx(0.75));
  // Reward: -(|agent1 - goal0|^2 + |agent0 - goal1|^2), the same for both.
  auto d2 = [&](int64_t agent, int64_t lm) {
    const float* p = w1.position(0, agent);
    const float* q = w1.position(0, 2 + lm);
    return (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]);
  };
  CHECK(s1.reward[0][0].item<float>() == Approx(-(d2(1, w1.goal(0, 0)) + d2(0, w1.goal(0, 1)))));
  CHECK(s1.reward[0][1].item<float>() == s1.reward[0][0].item<float>());
}
