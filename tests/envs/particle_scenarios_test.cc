// The particle scenarios of the MADDPG paper beyond speaker_listener/reference: specs and teams,
// observation layouts, rewards on hand-placed positions, collisions and the contact force, reset
// ranges, and short fixed-action rollouts. The expected numbers were produced by running the
// reference's own core.py and scenario files (openai/multiagent-particle-envs) in float64 on the
// same positions and actions (the action -> force path of its environment.py re-typed around them),
// and checked by hand where noted.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>
#include <map>

#include "core/config.h"
#include "core/errors.h"
#include "envs/particle/particle.h"

using namespace emcomm;
using S = ParticleWorld::Scenario;

namespace {

ParticleWorld world(S s, bool self_collision = true) {
  ParticleWorld::Options o;
  o.scenario = s;
  o.self_collision = self_collision;
  return ParticleWorld(o);
}

// One-hot movement k for every agent in `moves` (-1: the agent does not move) as [1, N, 5].
torch::Tensor moves(std::vector<int> k) {
  auto a = torch::zeros({1, int64_t(k.size()), 5});
  for (size_t i = 0; i < k.size(); ++i)
    if (k[i] >= 0) a[0][i][k[i]] = 1.0f;
  return a;
}

void check_xy(const float* got, double x, double y) {
  CHECK(got[0] == Approx(x).margin(2e-5));
  CHECK(got[1] == Approx(y).margin(2e-5));
}

void check_obs(const torch::Tensor& obs, std::vector<double> want) {
  REQUIRE(obs.size(1) == int64_t(want.size()));
  for (size_t k = 0; k < want.size(); ++k) {
    INFO("observation index " << k);
    CHECK(obs[0][k].item<float>() == Approx(want[k]).margin(2e-5));
  }
}

std::map<std::string, std::vector<double>> figures(const ParticleWorld& w) {
  std::map<std::string, std::vector<double>> m;
  for (auto& [k, v] : w.episode_figures()) m[k] = v;
  return m;
}

}  // namespace

TEST_CASE("particle scenarios: agents, teams, observation and action sizes", "[particle]") {
  struct Row {
    S s;
    std::vector<int64_t> obs, factors, vocab;
    std::vector<bool> adversary;
    bool shared;
    int64_t landmarks;
  };
  const std::vector<Row> rows = {
      {S::SpeakerListener, {3, 11}, {0, 1}, {3, 0}, {false, false}, true, 3},
      {S::Reference, {21, 21}, {1, 1}, {10, 10}, {false, false}, true, 3},
      {S::Crypto, {4, 8, 8}, {0, 0, 0}, {4, 4, 4}, {true, false, false}, false, 2},
      {S::Adversary, {8, 10, 10}, {1, 1, 1}, {0, 0, 0}, {true, false, false}, false, 2},
      {S::Spread, {18, 18, 18}, {1, 1, 1}, {0, 0, 0}, {false, false, false}, true, 3},
      {S::Tag, {16, 16, 16, 14}, {1, 1, 1, 1}, {0, 0, 0, 0}, {true, true, true, false}, false, 2},
      {S::Push, {8, 19}, {1, 1}, {0, 0}, {true, false}, false, 2}};
  for (const auto& r : rows) {
    auto w = world(r.s);
    INFO("scenario " << int(r.s));
    REQUIRE(w.num_agents() == int64_t(r.obs.size()));
    CHECK(w.num_landmarks() == r.landmarks);
    CHECK(w.shared_reward() == r.shared);
    Rng rng(1);
    auto s = w.reset(2, rng);
    for (int64_t i = 0; i < w.num_agents(); ++i) {
      CHECK(w.agent_spec(i).obs_dim == r.obs[i]);
      CHECK(s.obs[i].size(1) == r.obs[i]);
      CHECK(w.agent_spec(i).action_factors == r.factors[i]);
      CHECK(w.agent_spec(i).vocab_size == r.vocab[i]);
      CHECK(w.is_adversary(i) == r.adversary[i]);
    }
  }
  // Who hears whom: crypto's Bob and Eve hear Alice (2) only; silent scenarios nobody.
  auto c = world(S::Crypto);
  CHECK(c.hears(0, 2));
  CHECK(c.hears(1, 2));
  CHECK_FALSE(c.hears(2, 1));
  CHECK_FALSE(c.hears(1, 0));
  CHECK_FALSE(world(S::Spread).hears(0, 1));
  // simple_tag's bodies (reference make_world).
  auto t = world(S::Tag);
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(t.size(i) == 0.075f);
    CHECK(t.accel(i) == 3.0f);
    CHECK(t.max_speed(i) == 1.0f);
  }
  CHECK(t.size(3) == 0.05f);
  CHECK(t.accel(3) == 4.0f);
  CHECK(t.max_speed(3) == 1.3f);
  CHECK(t.size(t.landmark(0)) == 0.2f);
  CHECK(t.collides(t.landmark(1)));
  CHECK(world(S::Adversary).size(0) == 0.15f);
  CHECK(world(S::Adversary).size(3) == 0.08f);
  CHECK(world(S::Spread).size(2) == 0.15f);
  CHECK_FALSE(world(S::Spread).collides(3));
  CHECK_FALSE(world(S::Adversary).collides(0));
}

TEST_CASE("particle: scenario options are checked", "[particle]") {
  auto parse = [](std::map<std::string, std::string> set) {
    const OptionSet opts = ParticleWorld::option_set();
    std::map<std::string, std::string> values;
    for (const auto& s : opts.specs()) values[s.name] = s.default_value;
    Config cfg(opts.specs(), values, "test");
    for (const auto& kv : set) cfg.set(kv.first, kv.second);
    return ParticleWorld::Options::from(cfg);
  };
  CHECK(parse({{"env.scenario", "simple_tag"}}).scenario == S::Tag);
  CHECK(parse({{"env.scenario", "simple_crypto"}}).scenario == S::Crypto);
  CHECK(parse({{"env.scenario", "simple_spread"}, {"env.self_collision", "false"}}).self_collision == false);
  CHECK_THROWS_AS(parse({{"env.scenario", "simple_tag"}, {"env.dim_c", "4"}}), UserError);
  CHECK_THROWS_AS(parse({{"env.scenario", "reference"}, {"env.self_collision", "false"}}), UserError);
  CHECK_THROWS_AS(parse({{"env.scenario", "simple_world_comm"}}), UserError);
}

TEST_CASE("particle: contact force in logaddexp form stays finite", "[particle]") {
  // 100 * 1e-3 * log(1 + exp((dmin - d) / 1e-3)), by hand.
  CHECK(ParticleWorld::contact_force(0.3f, 0.3f) == Approx(0.1 * std::log(2.0)));
  CHECK(ParticleWorld::contact_force(0.2995f, 0.3f) == Approx(0.1 * std::log1p(std::exp(0.5))).epsilon(1e-3));
  CHECK(ParticleWorld::contact_force(0.35f, 0.3f) == Approx(0.1 * std::exp(-50.0)).margin(1e-12));
  // A deep overlap: (0.3 - 1e-4) / 1e-3 = 299.9, where float exp overflows; the force is 29.99.
  const float deep = ParticleWorld::contact_force(1e-4f, 0.3f);
  CHECK(std::isfinite(deep));
  CHECK(deep == Approx(29.99).epsilon(1e-4));
  // In a world: two predators (d_min 0.15) almost on top of each other are pushed apart, finitely
  // and along the line between them: force 100 * 1e-3 * 149.9 = 14.99, so v = 1.499 before the
  // clip to predators' max speed 1.
  auto w = world(S::Tag);
  Rng rng(2);
  w.reset(1, rng);
  for (int64_t e = 0; e < w.entities(); ++e) w.set_position(0, e, -0.9f + 0.3f * float(e), 0.8f);
  w.set_position(0, 0, 0.0f, 0.0f);
  w.set_position(0, 1, 1e-4f, 0.0f);
  w.step_soft(moves({0, 0, 0, 0}), torch::zeros({1, 4, 0}), rng);
  CHECK(std::isfinite(w.velocity(0, 0)[0]));
  CHECK(w.velocity(0, 0)[0] == Approx(-1.0f));
  CHECK(w.velocity(0, 1)[0] == Approx(1.0f));
  CHECK(w.velocity(0, 0)[1] == 0.0f);
  CHECK(w.position(0, 0)[0] == Approx(-0.1f));
}

TEST_CASE("particle: reset ranges and determinism of every scenario", "[particle]") {
  for (S s : {S::Crypto, S::Adversary, S::Spread, S::Tag, S::Push}) {
    INFO("scenario " << int(s));
    auto w1 = world(s), w2 = world(s);
    Rng r1(4), r2(4);
    auto s1 = w1.reset(200, r1), s2 = w2.reset(200, r2);
    for (int64_t i = 0; i < w1.num_agents(); ++i) CHECK(torch::equal(s1.obs[i], s2.obs[i]));
    CHECK(s1.reward.abs().sum().item<float>() == 0.0f);
    const float range = s == S::Tag ? 0.9f : 1.0f;
    float lo = 1, hi = -1;
    std::vector<int> goals(4, 0), keys(4, 0);
    for (int64_t b = 0; b < 200; ++b) {
      for (int64_t e = 0; e < w1.entities(); ++e)
        for (int d = 0; d < 2; ++d) {
          const float bound = e < w1.num_agents() ? 1.0f : range, x = w1.position(b, e)[d];
          CHECK(std::abs(x) <= bound);
          if (e >= w1.num_agents()) lo = std::min(lo, x), hi = std::max(hi, x);
          CHECK(w1.velocity(b, e)[d] == 0.0f);
        }
      if (s == S::Crypto || s == S::Adversary || s == S::Push) {
        const int64_t g = w1.goal(b, 0);
        REQUIRE((g >= 0 && g < w1.num_landmarks()));
        for (int64_t i = 1; i < w1.num_agents(); ++i) CHECK(w1.goal(b, i) == g);
        ++goals[g];
      }
      if (s == S::Crypto) ++keys[w1.key(b)];
    }
    // The landmarks fill their range: obstacles of simple_tag stay inside 0.9, the others reach past it.
    CHECK(hi > range - 0.05f);
    CHECK(lo < -range + 0.05f);
    if (s == S::Crypto || s == S::Adversary || s == S::Push) CHECK((goals[0] > 50 && goals[1] > 50));
    if (s == S::Crypto) CHECK((keys[0] > 50 && keys[1] > 50));
  }
}

TEST_CASE("particle: simple_crypto observations, rewards and figures (reference numbers)", "[particle]") {
  auto w = world(S::Crypto);
  Rng rng(1);
  auto s = w.reset(1, rng);
  w.set_goal(0, 0, 1), w.set_goal(0, 1, 1), w.set_goal(0, 2, 1);
  w.set_key(0, 0);
  // Messages: Eve (0), Bob (1), Alice (2).
  auto m1 = torch::tensor({0.0f, 0.0f, 0.0f, 0.0f, 0.25f, 0.25f, 0.25f, 0.25f, 0.1f, 0.7f, 0.1f, 0.1f}).view({1, 3, 4});
  auto m2 = torch::tensor({0.5f, 0.2f, 0.2f, 0.1f, 0.1f, 0.6f, 0.2f, 0.1f, 0.2f, 0.5f, 0.2f, 0.1f}).view({1, 3, 4});
  s = w.step_soft(torch::zeros({1, 3, 0}), m1, rng);
  check_obs(s.obs[2], {0, 1, 0, 0, 1, 0, 0, 0});           // Alice: goal, key
  check_obs(s.obs[1], {1, 0, 0, 0, 0.1, 0.7, 0.1, 0.1});   // Bob: key, Alice's message
  check_obs(s.obs[0], {0.1, 0.7, 0.1, 0.1});               // Eve: Alice's message
  // Eve's all-zero guess is not scored; Bob's costs 3 * 0.25^2 + 0.75^2 = 0.75 (by hand).
  CHECK(s.reward[0][0].item<float>() == 0.0f);
  CHECK(s.reward[0][1].item<float>() == Approx(-0.75));
  CHECK(s.reward[0][2].item<float>() == Approx(-0.75));
  s = w.step_soft(torch::zeros({1, 3, 0}), m2, rng);
  check_obs(s.obs[0], {0.2, 0.5, 0.2, 0.1});
  // Eve: -(0.25 + 0.64 + 0.04 + 0.01) = -0.94; good: -0.22 + 0.94 = 0.72 (not summed: mixed).
  CHECK(s.reward[0][0].item<float>() == Approx(-0.94));
  CHECK(s.reward[0][1].item<float>() == Approx(0.72));
  CHECK(s.reward[0][2].item<float>() == Approx(0.72));
  // Figures over the steps from the second on: Bob's guess (argmax 1) is the goal, Eve's (0) not.
  auto f = figures(w);
  CHECK(f["bob_success"][0] == 1.0);
  CHECK(f["eve_success"][0] == 0.0);
  // Masks: Bob and Eve guess at every step (scored), Alice's message is only heard: off at the last.
  ParticleWorld::Options o;
  o.scenario = S::Crypto;
  o.episode_length = 2;
  ParticleWorld w2(o);
  auto s2 = w2.reset(1, rng);
  CHECK(s2.speaks.all().item<bool>());
  s2 = w2.step_soft(torch::zeros({1, 3, 0}), m1, rng);
  CHECK(s2.speaks[0][0].item<bool>());
  CHECK(s2.speaks[0][1].item<bool>());
  CHECK_FALSE(s2.speaks[0][2].item<bool>());
  CHECK_FALSE(s2.acts.any().item<bool>());
  // impose_message writes into the last 4 values of Bob's and Eve's observations.
  auto obs = w.impose_message(1, 2, s.obs[1], torch::tensor({3}, torch::kInt64).view({1, 1}));
  check_obs(obs, {1, 0, 0, 0, 0, 0, 0, 1});
  CHECK_THROWS(w.impose_message(2, 1, s.obs[2], torch::zeros({1, 1}, torch::kInt64)));
}

TEST_CASE("particle: simple_adversary rollout, rewards and figures (reference numbers)", "[particle]") {
  auto w = world(S::Adversary);
  Rng rng(1);
  w.reset(1, rng);
  const float pos[][2] = {{0.3f, 0.2f}, {-0.4f, 0.1f}, {0.5f, -0.5f}, {0.35f, 0.25f}, {-0.2f, 0.0f}};
  for (int e = 0; e < 5; ++e) w.set_position(0, e, pos[e][0], pos[e][1]);
  for (int i = 0; i < 3; ++i) w.set_goal(0, i, 0);
  // Adversary -x, good agent 1 +x, good agent 2 +y.
  auto s = w.step_soft(moves({2, 1, 3}), torch::zeros({1, 3, 0}), rng);
  check_xy(w.position(0, 0), 0.25, 0.2);
  check_xy(w.velocity(0, 0), -0.5, 0.0);
  check_xy(w.position(0, 1), -0.35, 0.1);
  check_xy(w.position(0, 2), 0.5, -0.45);
  check_obs(s.obs[0], {0.1, 0.05, -0.45, -0.2, -0.6, -0.1, 0.25, -0.65});
  check_obs(s.obs[1], {0.7, 0.15, 0.7, 0.15, 0.15, -0.1, 0.6, 0.1, 0.85, -0.55});
  CHECK(s.reward[0][0].item<float>() == Approx(-0.0125));
  CHECK(s.reward[0][1].item<float>() == Approx(-0.6040876542888282));
  CHECK(s.reward[0][2].item<float>() == Approx(-0.6040876542888282));
  s = w.step_soft(moves({2, 1, 3}), torch::zeros({1, 3, 0}), rng);
  check_xy(w.position(0, 0), 0.1625, 0.2);
  check_xy(w.position(0, 2), 0.5, -0.3625);
  check_obs(s.obs[2], {-0.15, 0.6125, -0.15, 0.6125, -0.7, 0.3625, -0.3375, 0.5625, -0.7625, 0.4625});
  CHECK(s.reward[0][0].item<float>() == Approx(-0.03765625));
  CHECK(s.reward[0][1].item<float>() == Approx(-0.4365477290782217));
  // Figures: the adversary is within 2 * 0.08 of the goal (0.194), the good agents are not.
  auto f = figures(w);
  CHECK(f["adversary_success"][0] == 0.0);  // 0.194 > 0.16
  CHECK(f["good_success"][0] == 0.0);
  w.set_position(0, 0, 0.4f, 0.3f);  // 0.0707 from the goal
  CHECK(figures(w)["adversary_success"][0] == 1.0);
  // Mean over the 2 steps of the distances (adversary: sqrt(0.0125), sqrt(0.03765625)).
  CHECK(f["adversary_distance"][0] == Approx((std::sqrt(0.0125) + std::sqrt(0.03765625)) / 2).epsilon(1e-5));
}

TEST_CASE("particle: simple_spread rollout with contacts, collisions and the self term", "[particle]") {
  auto w = world(S::Spread);
  Rng rng(1);
  w.reset(1, rng);
  const float pos[][2] = {{0.0f, 0.0f}, {0.2f, 0.1f}, {0.8f, 0.8f}, {0.1f, 0.1f}, {-0.5f, 0.3f}, {0.7f, 0.9f}};
  for (int e = 0; e < 6; ++e) w.set_position(0, e, pos[e][0], pos[e][1]);
  // Agent 0 -y, agent 1 +x, agent 2 no-op; agents 0 and 1 overlap (0.224 < 0.3): contact force.
  const double want_pos[3][3][2] = {{{-0.06832815729997473, -0.08416407864998737}, {0.31832815729997477, 0.13416407864998736}, {0.8, 0.8}},
                                    {{-0.11957427527495577, -0.1972871376374779}, {0.4570742752749558, 0.15978713763747787}, {0.8, 0.8}},
                                    {{-0.15800886375619155, -0.33212943187809585}, {0.6111338637561916, 0.17900443187809575}, {0.8, 0.8}}};
  const double want_rew[3] = {-5.820800198134478, -6.388739668236801, -7.090277898403276};
  for (int t = 0; t < 3; ++t) {
    INFO("step " << t + 1);
    auto s = w.step_soft(moves({4, 1, 0}), torch::zeros({1, 3, 0}), rng);
    for (int i = 0; i < 3; ++i) check_xy(w.position(0, i), want_pos[t][i][0], want_pos[t][i][1]);
    for (int i = 0; i < 3; ++i) CHECK(s.reward[0][i].item<float>() == Approx(want_rew[t]).epsilon(1e-5));
    if (t == 0) {
      check_obs(s.obs[0], {-0.6832815729997472, -0.8416407864998736, -0.06832815729997473, -0.08416407864998737,
                           0.16832815729997475, 0.18416407864998738, -0.4316718427000253, 0.38416407864998736,
                           0.7683281572999747, 0.9841640786499875, 0.3866563145999495, 0.21832815729997473,
                           0.8683281572999748, 0.8841640786499874, 0, 0, 0, 0});
      check_xy(w.velocity(0, 1), 1.1832815729997472, 0.3416407864998736);
    }
  }
  // Two agents that end the step overlapping: each is charged the pair, and itself (reference).
  auto collide = [&](bool self) {
    auto v = world(S::Spread, self);
    Rng r(1);
    v.reset(1, r);
    const float p[][2] = {{0.0f, 0.0f}, {0.5f, 0.0f}, {-0.8f, 0.8f}, {0.1f, 0.1f}, {-0.5f, 0.3f}, {0.7f, 0.9f}};
    for (int e = 0; e < 6; ++e) v.set_position(0, e, p[e][0], p[e][1]);
    v.set_velocity(0, 0, 3.0f, 0.0f);
    v.set_velocity(0, 1, -3.0f, 0.0f);
    auto s = v.step_soft(moves({0, 0, 0}), torch::zeros({1, 3, 0}), r);
    check_xy(v.position(0, 0), 0.225, 0.0);
    check_xy(v.position(0, 1), 0.275, 0.0);
    CHECK(v.in_collision(0, 0, 1));
    CHECK_FALSE(v.in_collision(0, 0, 2));
    auto f = figures(v);
    CHECK(f["collisions"][0] == 1.0);  // one distinct pair
    CHECK(f["distance"][0] == Approx(1.7384747572900706).epsilon(1e-5));
    return s.reward[0][0].item<float>();
  };
  // 3 * -1.73847 (landmark cover) - 2 (the pair, for both agents) - 3 (self terms): reference -10.2154.
  CHECK(collide(true) == Approx(-10.215424271870212).epsilon(1e-5));
  CHECK(collide(false) == Approx(-7.215424271870212).epsilon(1e-5));
}

TEST_CASE("particle: simple_tag rollout with obstacles, capture, boundary and speed limits", "[particle]") {
  auto w = world(S::Tag);
  Rng rng(1);
  w.reset(1, rng);
  // Predator 0 overlaps obstacle 0 and predator 1; predator 2 runs at the prey along y = -0.95.
  const float pos[][2] = {{0.0f, 0.0f}, {0.1f, 0.05f}, {0.3f, -0.95f}, {0.5f, -0.95f}, {0.0f, 0.25f}, {-0.6f, -0.6f}};
  for (int e = 0; e < 6; ++e) w.set_position(0, e, pos[e][0], pos[e][1]);
  w.set_velocity(0, 0, 0.5f, 0.0f);
  w.set_velocity(0, 2, 1.0f, 0.0f);
  w.set_velocity(0, 3, -1.3f, 0.0f);
  const double want[3][4][4] = {
      {{0.0033359213500126386, -0.012082039325007591, 0.03335921350012638, -0.1208203932500759},
       {0.1271478174124758, 0.02111456180001682, 0.27147817412475794, -0.2888543819998318},
       {0.4, -0.95, 1.0, 0.0},
       {0.37, -0.95, -1.3, 0.0}},
      {{-0.01506873811102941, -0.009688771833814506, -0.18404659461042047, 0.02393267491193085},
       {0.1449747783959083, -0.0064126142119767075, 0.17826960983432508, -0.27527176011993526},
       {0.5, -0.95, 1.0, 0.0},
       {0.24, -0.95, -1.3, 0.0}},
      {{-0.02973392973787658, 0.007256750656721222, -0.14665191626847168, 0.16945522490535728},
       {0.12834504115880824, -0.02705799536351633, -0.16629737237100053, -0.2064538115153962},
       {0.6, -0.95, 1.0, 0.0},
       {0.11, -0.95, -1.3, 0.0}}};
  // Step 1: predator 2 and the prey end 0.03 apart: +10 to every predator, -10 - 0.5 (|y| = 0.95)
  // to the prey; then the boundary penalty alone.
  const double want_rew[3][4] = {{10, 10, 10, -10.5}, {0, 0, 0, -0.5}, {0, 0, 0, -0.5}};
  for (int t = 0; t < 3; ++t) {
    INFO("step " << t + 1);
    // Predators +y, -x, +x; prey -x (its speed stays clipped to 1.3, predator 2's to 1).
    auto s = w.step_soft(moves({3, 2, 1, 2}), torch::zeros({1, 4, 0}), rng);
    for (int i = 0; i < 4; ++i) {
      check_xy(w.position(0, i), want[t][i][0], want[t][i][1]);
      check_xy(w.velocity(0, i), want[t][i][2], want[t][i][3]);
      CHECK(s.reward[0][i].item<float>() == Approx(want_rew[t][i]).margin(2e-5));
    }
    if (t == 0) {
      check_obs(s.obs[0], {0.03335921350012638, -0.1208203932500759, 0.0033359213500126386, -0.012082039325007591,
                           -0.0033359213500126386, 0.26208203932500757, -0.6033359213500126, -0.5879179606749924,
                           0.12381189606246316, 0.033196601125024414, 0.3966640786499874, -0.9379179606749923,
                           0.36666407864998735, -0.9379179606749923, -1.3, 0.0});
      check_obs(s.obs[3], {-1.3, 0.0, 0.37, -0.95, -0.37, 1.2, -0.97, 0.35, -0.36666407864998735, 0.9379179606749923,
                           -0.2428521825875242, 0.9711145618000168, 0.030000000000000027, 0.0});
    }
  }
  CHECK(figures(w)["collisions"][0] == 1.0);
  // The boundary penalty on hand-placed positions (nothing moves the prey): 0 inside 0.9, linear
  // to 1, then exp(2x - 2) capped at 10.
  auto penalty = [&](float x, float y) {
    auto v = world(S::Tag);
    Rng r(3);
    v.reset(1, r);
    for (int64_t e = 0; e < v.entities(); ++e) v.set_position(0, e, -0.9f + 0.35f * float(e), 0.5f);
    v.set_position(0, 3, x, y);
    return -v.step_soft(moves({0, 0, 0, 0}), torch::zeros({1, 4, 0}), r).reward[0][3].item<float>();
  };
  CHECK(penalty(0.5f, -0.2f) == 0.0f);
  CHECK(penalty(0.95f, 0.0f) == Approx(0.5f));
  CHECK(penalty(-1.2f, 0.0f) == Approx(std::exp(0.4)));
  CHECK(penalty(1.2f, -3.0f) == Approx(std::exp(0.4) + 10.0));
}

TEST_CASE("particle: simple_push rollout and observation layout (reference numbers)", "[particle]") {
  auto w = world(S::Push);
  Rng rng(1);
  w.reset(1, rng);
  const float pos[][2] = {{0.0f, 0.0f}, {0.05f, 0.0f}, {0.5f, 0.5f}, {-0.5f, 0.2f}};
  for (int e = 0; e < 4; ++e) w.set_position(0, e, pos[e][0], pos[e][1]);
  w.set_goal(0, 0, 1), w.set_goal(0, 1, 1);
  // Adversary +x into the good agent, which moves +y; they overlap (0.05 < 0.1) and push apart.
  auto s = w.step_soft(moves({1, 3}), torch::zeros({1, 2, 0}), rng);
  check_xy(w.position(0, 0), 0.0, 0.0);  // its push +5 and the contact -5 cancel
  check_xy(w.position(0, 1), 0.1, 0.05);
  check_obs(s.obs[0], {0, 0, 0.5, 0.5, -0.5, 0.2, 0.1, 0.05});
  check_obs(s.obs[1], {0.5, 0.5, -0.6, 0.15, 0.25, 0.25, 0.75, 0.4, 0.45, -0.6, 0.15, 0.1, 0.9, 0.1, 0.1, 0.1, 0.9,
                       -0.1, -0.05});
  CHECK(s.reward[0][0].item<float>() == Approx(0.07994936312919865));
  CHECK(s.reward[0][1].item<float>() == Approx(-0.6184658438426491));
  s = w.step_soft(moves({1, 3}), torch::zeros({1, 2, 0}), rng);
  check_xy(w.position(0, 0), 0.049999993310519845, 0.0);
  check_xy(w.position(0, 1), 0.13750000668948018, 0.1375000033447401);
  CHECK(s.reward[0][0].item<float>() == Approx(0.055321414704864735).epsilon(1e-4));
  s = w.step_soft(moves({1, 3}), torch::zeros({1, 2, 0}), rng);
  check_xy(w.position(0, 0), 0.13749998829340973, 0.0);
  check_xy(w.velocity(0, 1), 0.2812500501711012, 1.1562500250855505);
  CHECK(s.reward[0][0].item<float>() == Approx(-0.0003947328569285924).margin(2e-5));
  CHECK(s.reward[0][1].item<float>() == Approx(-0.6677416584700336));
}

TEST_CASE("particle: simple_tag random soft-action rollout in a crowded box (reference numbers)", "[particle]") {
  // Positions and soft actions drawn once (numpy, seed 7) inside [-0.3, 0.3]^2, so that agents
  // touch the obstacles; the expected states come from the reference's core.py.
  auto w = world(S::Tag);
  Rng rng(1);
  w.reset(1, rng);
  const float pos[][2] = {{-0.2542f, 0.168f}, {-0.037f, 0.1341f}, {0.2868f, 0.0231f},
                          {0.0007f, -0.2568f}, {-0.1389f, -0.0001f}, {0.1075f, 0.1822f}};
  for (int e = 0; e < 6; ++e) w.set_position(0, e, pos[e][0], pos[e][1]);
  const float acts[4][4][5] = {
      {{0.3809f, 0.0659f, 0.2881f, 0.9096f, 0.2134f}, {0.4521f, 0.9312f, 0.0249f, 0.6005f, 0.9501f},
       {0.2303f, 0.5485f, 0.9091f, 0.1332f, 0.5234f}, {0.7504f, 0.669f, 0.4678f, 0.2048f, 0.4908f}},
      {{0.3724f, 0.4774f, 0.3659f, 0.8379f, 0.7686f}, {0.314f, 0.5726f, 0.276f, 0.4528f, 0.353f},
       {0.6574f, 0.3704f, 0.4591f, 0.7193f, 0.413f}, {0.9064f, 0.1805f, 0.7411f, 0.4224f, 0.4265f}},
      {{0.6344f, 0.5229f, 0.4149f, 0.0014f, 0.0923f}, {0.7094f, 0.5243f, 0.6962f, 0.9555f, 0.6829f},
       {0.0531f, 0.3089f, 0.5926f, 0.2351f, 0.965f}, {0.945f, 0.8484f, 0.4723f, 0.8415f, 0.1311f}},
      {{0.3087f, 0.463f, 0.7418f, 0.4858f, 0.1369f}, {0.3435f, 0.3244f, 0.3004f, 0.1655f, 0.4149f},
       {0.4481f, 0.7749f, 0.7964f, 0.5224f, 0.4606f}, {0.7782f, 0.8873f, 0.6749f, 0.8005f, 0.9391f}}};
  const double want[4][4][4] = {
      {{-0.30111513585903515, 0.24756665687687612, -0.46915135859035195, 0.7956665687687612},
       {-0.06183228917165068, 0.16967462855204352, -0.2483228917165068, 0.355746285520435},
       {0.30237772215565645, -0.012027970970245081, 0.15577722155656465, -0.3512797097024508},
       {0.008748000000000002, -0.26824, 0.08048000000000002, -0.11440000000000002}},
      {{-0.3329564877537021, 0.3093206495351296, -0.31841351894666997, 0.6175399265825345},
       {-0.12239273820009836, 0.24925120810578402, -0.6056044902844768, 0.795765795537405},
       {0.3118432271585104, -0.02962668484497509, 0.09465505002854005, -0.17598713874730007},
       {-0.007639999999999994, -0.276984, -0.16387999999999997, -0.08744000000000002}},
      {{-0.3535975016747024, 0.3529091440288197, -0.20641013921000248, 0.4358849449369009},
       {-0.1852036657273981, 0.3270637224152465, -0.6281092752729973, 0.7781251430946248},
       {0.31043135591346394, -0.0647227202539386, -0.014118712450465115, -0.3509603540896351},
       {-0.00488699999999999, -0.255126, 0.02753000000000004, 0.21858}},
      {{-0.3774422621168659, 0.39606751489930414, -0.23844760442163487, 0.43158370870484486},
       {-0.2315918613714596, 0.37794110814712645, -0.4638819564406149, 0.5087738573187994},
       {0.30872745247967903, -0.08919074681066123, -0.017039034337848827, -0.24468026556722633},
       {0.00567375000000001, -0.2442765, 0.1056075, 0.10849499999999998}}};
  for (int t = 0; t < 4; ++t) {
    INFO("step " << t + 1);
    auto a = torch::from_blob(const_cast<float*>(&acts[t][0][0]), {1, 4, 5}, torch::kFloat32).clone();
    auto s = w.step_soft(a, torch::zeros({1, 4, 0}), rng);
    for (int i = 0; i < 4; ++i) {
      check_xy(w.position(0, i), want[t][i][0], want[t][i][1]);
      check_xy(w.velocity(0, i), want[t][i][2], want[t][i][3]);
      CHECK(s.reward[0][i].item<float>() == 0.0f);  // nobody caught, prey well inside 0.9
    }
  }
}
