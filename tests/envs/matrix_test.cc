// The matrix communication games: payoffs, who speaks and hears what when, every comm type,
// the adversarial coefficient, observations and options.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <array>

#include "algorithms/reinforce.h"
#include "core/errors.h"
#include "envs/matrix/matrix.h"

using namespace emcomm;

namespace {

MatrixGame::Options named(const std::string& game, MatrixGame::Comm comm = MatrixGame::Comm::Turns) {
  MatrixGame::Options o;
  o.payoffs = game;
  o.comm = comm;
  return o;
}

torch::Tensor full_actions(int64_t B, int64_t a0, int64_t a1) {
  auto a = torch::zeros({B, 2, 1}, torch::kInt64);
  a.select(1, 0).fill_(a0);
  a.select(1, 1).fill_(a1);
  return a;
}

torch::Tensor full_messages(int64_t B, int64_t m0, int64_t m1) { return full_actions(B, m0, m1); }

// Plays the talk phase with messages (m0, m1), then acts (a0, a1); returns the final state.
MarkovState play(MatrixGame& g, int64_t B, Rng& rng, int64_t m0, int64_t m1, int64_t a0, int64_t a1) {
  MarkovState s = g.reset(B, rng);
  while (!s.acts.any().item<bool>()) s = g.step(full_actions(B, 0, 0), full_messages(B, m0, m1), rng);
  return g.step(full_actions(B, a0, a1), full_messages(B, 0, 0), rng);
}

Config matrix_config(const std::vector<std::string>& overrides) {
  ConfigSchema schema;
  schema.envs = {Component{"matrix", "", MatrixGame::option_set()}};
  schema.algorithms = {Component{"reinforce", "", Reinforce::option_set()}};
  schema.common.add_choice("env.name", "matrix", {"matrix"}, "")
      .add_choice("train.algorithm", "reinforce", {"reinforce"}, "");
  return resolve_config(schema, "", overrides);
}

}  // namespace

TEST_CASE("matrix: named games pay the textbook payoffs for every joint action", "[matrix]") {
  struct Case {
    std::string game;
    double r[2][2][2];  // [a0][a1][agent]
  };
  const Case cases[] = {
      {"prisoners_dilemma", {{{3, 3}, {0, 5}}, {{5, 0}, {1, 1}}}},
      {"stag_hunt", {{{4, 4}, {0, 3}}, {{3, 0}, {3, 3}}}},
      {"coordination", {{{1, 1}, {0, 0}}, {{0, 0}, {1, 1}}}},
      {"chicken", {{{0, 0}, {-1, 1}}, {{1, -1}, {-10, -10}}}},
  };
  Rng rng(1);
  for (const auto& c : cases) {
    MatrixGame g(named(c.game));
    for (int a0 = 0; a0 < 2; ++a0)
      for (int a1 = 0; a1 < 2; ++a1) {
        MarkovState s = play(g, 3, rng, 1, 2, a0, a1);
        INFO(c.game << " a0=" << a0 << " a1=" << a1);
        CHECK(s.done.all().item<bool>());
        CHECK(s.reward[2][0].item<float>() == Approx(c.r[a0][a1][0]));
        CHECK(s.reward[2][1].item<float>() == Approx(c.r[a0][a1][1]));
      }
  }
}

TEST_CASE("matrix: turns - a random agent speaks first unheard, the other speaks having heard it, then both act", "[matrix]") {
  MatrixGame g(named("coordination"));
  const int64_t B = 200, KK = 4, V = 4;
  Rng rng(7);
  MarkovState s = g.reset(B, rng);
  REQUIRE(g.steps_per_episode() == 3);
  int64_t firsts = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t f = g.first_speaker(b);
    firsts += f;
    CHECK(s.speaks[b][f].item<bool>());
    CHECK_FALSE(s.speaks[b][1 - f].item<bool>());
    CHECK_FALSE(s.acts[b].any().item<bool>());
    for (int i = 0; i < 2; ++i) CHECK(s.obs[i][b].narrow(0, 2 * KK, 2 * V).sum().item<float>() == 0);
  }
  CHECK(firsts > 60);
  CHECK(firsts < 140);  // both orders occur
  // Agent 0 says 1, agent 1 says 2: only the first speaker's message counts at this step.
  s = g.step(full_actions(B, 0, 0), full_messages(B, 1, 2), rng);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t f = g.first_speaker(b), second = 1 - f;
    const int64_t said = f == 0 ? 1 : 2;
    CHECK(s.speaks[b][second].item<bool>());
    CHECK_FALSE(s.speaks[b][f].item<bool>());
    CHECK(s.obs[second][b][2 * KK + said].item<float>() == 1);             // heard
    CHECK(s.obs[second][b].narrow(0, 2 * KK, V).sum().item<float>() == 1);
    CHECK(s.obs[f][b].narrow(0, 2 * KK, V).sum().item<float>() == 0);      // has heard nothing yet
    CHECK(s.obs[f][b][2 * KK + V + said].item<float>() == 1);              // own message slot
  }
  s = g.step(full_actions(B, 0, 0), full_messages(B, 1, 2), rng);
  for (int64_t b = 0; b < B; ++b) {
    CHECK(s.acts[b].all().item<bool>());
    CHECK_FALSE(s.speaks[b].any().item<bool>());
    CHECK(s.obs[0][b][2 * KK + 2].item<float>() == 1);  // agent 0 heard agent 1's "2"
    CHECK(s.obs[1][b][2 * KK + 1].item<float>() == 1);  // agent 1 heard agent 0's "1"
  }
  s = g.step(full_actions(B, 1, 1), full_messages(B, 0, 0), rng);
  CHECK(s.done.all().item<bool>());
  CHECK(s.reward.sum().item<float>() == Approx(2 * B));
  CHECK_THROWS(g.step(full_actions(B, 1, 1), full_messages(B, 0, 0), rng));
}

TEST_CASE("matrix: simul, oneag and none - who speaks and who hears", "[matrix]") {
  const int64_t B = 5, KK = 4, V = 4;
  Rng rng(3);
  {
    MatrixGame g(named("coordination", MatrixGame::Comm::Simul));
    MarkovState s = g.reset(B, rng);
    CHECK(s.speaks.all().item<bool>());
    s = g.step(full_actions(B, 0, 0), full_messages(B, 3, 0), rng);
    CHECK(s.acts.all().item<bool>());
    CHECK(s.obs[1].select(1, 2 * KK + 3).eq(1).all().item<bool>());
    CHECK(s.obs[0].select(1, 2 * KK + 0).eq(1).all().item<bool>());
    CHECK(g.hears(0, 1));
    CHECK(g.hears(1, 0));
  }
  {
    MatrixGame g(named("coordination", MatrixGame::Comm::OneAgent));
    CHECK(g.agent_spec(1).vocab_size == 0);
    CHECK(g.agent_spec(0).vocab_size == 4);
    CHECK_FALSE(g.hears(0, 1));
    MarkovState s = g.reset(B, rng);
    CHECK(s.speaks.select(1, 0).all().item<bool>());
    CHECK_FALSE(s.speaks.select(1, 1).any().item<bool>());
    s = g.step(full_actions(B, 0, 0), full_messages(B, 2, 3), rng);
    CHECK(s.obs[1].select(1, 2 * KK + 2).eq(1).all().item<bool>());
    CHECK(s.obs[0].narrow(1, 2 * KK, V).sum().item<float>() == 0);  // agent 0 hears nothing
    CHECK(s.acts.all().item<bool>());
  }
  {
    MatrixGame g(named("coordination", MatrixGame::Comm::None));
    CHECK(g.obs_dim() == 2 * KK);
    CHECK(g.agent_spec(0).vocab_size == 0);
    MarkovState s = g.reset(B, rng);
    CHECK(s.acts.all().item<bool>());
    CHECK_FALSE(s.speaks.any().item<bool>());
    s = g.step(full_actions(B, 0, 1), full_messages(B, 0, 0), rng);
    CHECK(s.done.all().item<bool>());
    CHECK(s.reward.sum().item<float>() == 0);
  }
}

TEST_CASE("matrix: random replaces every heard symbol, garble with probability garble_prob", "[matrix]") {
  const int64_t B = 4000, KK = 4, V = 4;
  auto heard_fraction = [&](MatrixGame::Comm comm, double p) {
    MatrixGame::Options o = named("coordination", comm);
    o.garble_prob = p;
    MatrixGame g(o);
    Rng rng(11);
    g.reset(B, rng);
    MarkovState s = g.step(full_actions(B, 0, 0), full_messages(B, 1, 1), rng);
    auto heard = s.obs[1].narrow(1, 2 * KK, V);  // agent 1 heard agent 0's "1"?
    CHECK(heard.sum().item<float>() == B);       // exactly one symbol heard per episode
    CHECK(s.obs[0].select(1, 2 * KK + V + 1).eq(1).all().item<bool>());  // but it said "1"
    return heard.select(1, 1).mean().item<double>();
  };
  CHECK(heard_fraction(MatrixGame::Comm::Random, 0.5) == Approx(0.25).margin(0.03));
  CHECK(heard_fraction(MatrixGame::Comm::Garble, 0.0) == 1.0);
  CHECK(heard_fraction(MatrixGame::Comm::Garble, 1.0) == Approx(0.25).margin(0.03));
  // p = 0.5: kept half the time, plus a random symbol that happens to be right 1/4 of the rest.
  CHECK(heard_fraction(MatrixGame::Comm::Garble, 0.5) == Approx(0.625).margin(0.03));
}

TEST_CASE("matrix: the adversarial coefficient is applied once, from the original matrices", "[matrix]") {
  MatrixGame::Options o;
  o.payoffs = "fixed";
  o.payoff0 = {1, 2, 3, 4};
  o.payoff1 = {10, 20, 30, 40};
  o.adversarial = 0.5;
  MatrixGame g(o);
  Rng rng(1);
  g.reset(2, rng);
  for (int a0 = 0; a0 < 2; ++a0)
    for (int a1 = 0; a1 < 2; ++a1) {
      const double r0 = o.payoff0[a0 * 2 + a1], r1 = o.payoff1[a0 * 2 + a1];
      CHECK(g.payoff(1, 0, a0, a1) == Approx(r0 - 0.5 * r1));
      CHECK(g.payoff(1, 1, a0, a1) == Approx(r1 - 0.5 * r0));  // not r1 - 0.5 * (r0 - 0.5 r1)
    }
  MarkovState s = play(g, 2, rng, 0, 0, 1, 0);
  CHECK(s.reward[0][0].item<float>() == Approx(3 - 15));
  CHECK(s.reward[0][1].item<float>() == Approx(30 - 1.5));
}

TEST_CASE("matrix: observation layout - own matrix first with rows = own action, then the other's", "[matrix]") {
  MatrixGame::Options o;
  o.payoffs = "fixed";
  o.payoff0 = {1, 2, 3, 4};      // [a0][a1]
  o.payoff1 = {10, 20, 30, 40};
  MatrixGame g(o);
  Rng rng(1);
  MarkovState s = g.reset(1, rng);
  REQUIRE(s.obs[0].size(1) == 16);
  auto v = [&](int i, int k) { return s.obs[i][0][k].item<float>(); };
  // Agent 0: own (rows a0) = 1 2 3 4, other's = 10 20 30 40.
  CHECK(std::vector<float>{v(0, 0), v(0, 1), v(0, 2), v(0, 3)} == std::vector<float>{1, 2, 3, 4});
  CHECK(std::vector<float>{v(0, 4), v(0, 5), v(0, 6), v(0, 7)} == std::vector<float>{10, 20, 30, 40});
  // Agent 1: rows are a1, so both matrices are transposed.
  CHECK(std::vector<float>{v(1, 0), v(1, 1), v(1, 2), v(1, 3)} == std::vector<float>{10, 30, 20, 40});
  CHECK(std::vector<float>{v(1, 4), v(1, 5), v(1, 6), v(1, 7)} == std::vector<float>{1, 3, 2, 4});

  o.visibility = MatrixGame::Visibility::Private;
  MatrixGame priv(o);
  s = priv.reset(1, rng);
  CHECK(s.obs[0].narrow(1, 0, 4).abs().sum().item<float>() == 10);
  CHECK(s.obs[0].narrow(1, 4, 4).abs().sum().item<float>() == 0);
  CHECK(s.obs[1].narrow(1, 0, 4).abs().sum().item<float>() == 100);
  CHECK(s.obs[1].narrow(1, 4, 4).abs().sum().item<float>() == 0);

  o.visibility = MatrixGame::Visibility::Agent0;
  MatrixGame a0(o);
  s = a0.reset(1, rng);
  CHECK(s.obs[0].narrow(1, 0, 4).abs().sum().item<float>() == 10);
  CHECK(s.obs[1].narrow(1, 0, 8).abs().sum().item<float>() == 0);

  // The CIC counterfactual replaces the heard slot only; the probe's observation then has, by
  // default (env.cic_reply=empty, the reference's probe), the listener's own reply slot empty,
  // with cic_reply=kept it stays.
  auto obs = torch::zeros({2, 16});
  obs[0][0] = 7;
  obs[0][8] = 1;
  obs[0][12] = 1;
  auto imposed = g.impose_message(1, 0, obs, torch::tensor({{3}, {1}}, torch::kInt64));
  CHECK(imposed[0].narrow(0, 8, 4).argmax().item<int64_t>() == 3);
  CHECK(imposed[0].narrow(0, 8, 4).sum().item<float>() == 1);
  CHECK(imposed[0][12].item<float>() == 1);
  CHECK(imposed[1][9].item<float>() == 1);
  auto probed = g.probe_observation(imposed);
  CHECK(probed[0].narrow(0, 12, 4).sum().item<float>() == 0);
  CHECK(torch::equal(probed.narrow(1, 0, 12), imposed.narrow(1, 0, 12)));
  CHECK(probed[0][0].item<float>() == 7);
  o.visibility = MatrixGame::Visibility::Both;
  o.cic_reply_empty = false;
  MatrixGame kept(o);
  CHECK(torch::equal(kept.probe_observation(imposed), imposed));
}

TEST_CASE("matrix: env.memory - the last k rounds' messages and actions, most recent first", "[matrix]") {
  MatrixGame::Options o = named("fixed", MatrixGame::Comm::Simul);
  o.payoff0 = {1, 2, 3, 4};
  o.payoff1 = {10, 20, 30, 40};
  o.memory = 2;
  MatrixGame g(o);
  const int64_t base = 16, entry = 12;  // 2K^2 + 2V; each round 2V + 2K: heard, sent, own, other's action
  REQUIRE(g.obs_dim() == base + 2 * entry);
  Rng rng(1);
  // Two streams with their own messages (m0, m1) and actions (a0, a1) per round.
  auto round = [&](MatrixGame& game, bool eval, std::vector<std::array<int64_t, 4>> lanes) {
    const int64_t B = int64_t(lanes.size());
    auto m = torch::zeros({B, 2, 1}, torch::kInt64), a = torch::zeros({B, 2, 1}, torch::kInt64);
    for (int64_t b = 0; b < B; ++b) m[b][0][0] = lanes[b][0], m[b][1][0] = lanes[b][1], a[b][0][0] = lanes[b][2], a[b][1][0] = lanes[b][3];
    MarkovState s0 = eval ? game.reset_eval(B, rng) : game.reset(B, rng);
    MarkovState s1 = game.step(a, m, rng);
    CHECK(torch::equal(s0.obs[0].narrow(1, base, 2 * entry), s1.obs[0].narrow(1, base, 2 * entry)));
    game.step(a, m, rng);
    return s0;
  };
  auto ones = [&](const MarkovState& s, int64_t agent, int64_t b) {
    std::vector<int64_t> at;
    auto row = s.obs[agent][b];
    for (int64_t k = base; k < base + 2 * entry; ++k)
      if (row[k].item<float>() != 0) {
        CHECK(row[k].item<float>() == 1);
        at.push_back(k - base);
      }
    return at;
  };
  MarkovState first = round(g, false, {{1, 2, 0, 1}, {3, 3, 1, 1}});
  CHECK(ones(first, 0, 0).empty());  // nothing played yet
  MarkovState second = round(g, false, {{3, 0, 1, 1}, {0, 1, 0, 0}});
  // Stream 0, round 1 (m0 = 1, m1 = 2, a0 = 0, a1 = 1). Agent 0 heard 2, sent 1, did 0, the other 1:
  // offsets 2, 4 + 1, 8 + 0, 10 + 1; the older entry is empty.
  CHECK(ones(second, 0, 0) == std::vector<int64_t>{2, 5, 8, 11});
  CHECK(ones(second, 1, 0) == std::vector<int64_t>{1, 6, 9, 10});  // agent 1: heard 1, sent 2, did 1, other 0
  CHECK(ones(second, 0, 1) == std::vector<int64_t>{3, 7, 9, 11});  // stream 1: (3, 3, 1, 1)
  MarkovState third = round(g, false, {{0, 0, 0, 0}, {0, 0, 0, 0}});
  // Round 2 first (m = 3, 0; a = 1, 1), then round 1 at offset 12.
  CHECK(ones(third, 0, 0) == std::vector<int64_t>{0, 7, 9, 11, 12 + 2, 12 + 5, 12 + 8, 12 + 11});
  CHECK(ones(third, 1, 0) == std::vector<int64_t>{3, 4, 9, 11, 12 + 1, 12 + 6, 12 + 9, 12 + 10});
  // Evaluation episodes see training stream b mod 2 and are not recorded.
  MarkovState ev = round(g, true, {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}});
  CHECK(ones(ev, 0, 2) == ones(ev, 0, 0));
  CHECK(ones(ev, 0, 1) != ones(ev, 0, 0));
  const auto stream0 = ones(ev, 0, 0);
  MarkovState fourth = round(g, false, {{0, 0, 0, 0}, {0, 0, 0, 0}});
  CHECK(ones(fourth, 0, 0) == std::vector<int64_t>{0, 4, 8, 10, 12 + 0, 12 + 7, 12 + 9, 12 + 11});
  CHECK(stream0 == ones(fourth, 0, 0));  // what the evaluation saw is what training continues from
  // The streams survive a checkpoint; a new batch size starts empty ones.
  MatrixGame restored(o);
  restored.set_memory_state(g.memory_state());
  CHECK(ones(round(restored, false, {{0, 0, 0, 0}, {0, 0, 0, 0}}), 1, 1) == ones(round(g, false, {{0, 0, 0, 0}, {0, 0, 0, 0}}), 1, 1));
  CHECK(ones(round(g, false, {{0, 0, 0, 0}}), 0, 0).empty());
  // comm=none: each entry is the two actions only.
  o.comm = MatrixGame::Comm::None;
  MatrixGame silent(o);
  CHECK(silent.obs_dim() == 8 + 2 * 4);
}

TEST_CASE("matrix: random payoffs are fresh N(0, std^2) per agent per episode, common on request", "[matrix]") {
  MatrixGame::Options o;
  MatrixGame g(o);
  Rng rng(5);
  const int64_t B = 5000;
  g.reset(B, rng);
  double sum = 0, sq = 0, cross = 0;
  for (int64_t b = 0; b < B; ++b) {
    const double x = g.payoff(b, 0, 0, 1), y = g.payoff(b, 1, 0, 1);
    sum += x, sq += x * x, cross += x * y;
  }
  CHECK(sum / B == Approx(0).margin(0.15));
  CHECK(std::sqrt(sq / B) == Approx(3).epsilon(0.05));
  CHECK(cross / B == Approx(0).margin(0.5));  // independent agents
  CHECK(g.payoff(0, 0, 0, 0) != g.payoff(1, 0, 0, 0));
  o.common_payoff = true;
  MatrixGame c(o);
  c.reset(10, rng);
  for (int64_t b = 0; b < 10; ++b) CHECK(c.payoff(b, 0, 1, 0) == c.payoff(b, 1, 1, 0));
  // Same seed, same payoffs.
  Rng r1(9), r2(9);
  MatrixGame g1(MatrixGame::Options{}), g2(MatrixGame::Options{});
  g1.reset(3, r1), g2.reset(3, r2);
  CHECK(g1.payoff(2, 1, 1, 1) == g2.payoff(2, 1, 1, 1));
}

TEST_CASE("matrix: options are parsed and bad ones refused with the option's name", "[matrix]") {
  auto o = MatrixGame::Options::from(matrix_config({"--env.payoffs=fixed", "--env.payoff0=1,2,3,4", "--env.payoff1=4 3 2 1"}));
  CHECK(o.payoff0 == std::vector<double>{1, 2, 3, 4});
  CHECK(o.payoff1 == std::vector<double>{4, 3, 2, 1});
  CHECK(o.n_comm == 4);
  CHECK(MatrixGame::Options::from(matrix_config({"--env.n_acts=3"})).n_comm == 5);
  CHECK_THROWS_WITH(MatrixGame::Options::from(matrix_config({"--env.payoffs=fixed"})), Catch::Contains("env.payoff0"));
  CHECK_THROWS_WITH(MatrixGame::Options::from(matrix_config({"--env.payoffs=fixed", "--env.payoff0=1,2,3", "--env.payoff1=1,2,3,4"})),
                    Catch::Contains("env.payoff0"));
  CHECK_THROWS_WITH(MatrixGame::Options::from(matrix_config({"--env.payoffs=fixed", "--env.payoff0=1,x,3,4", "--env.payoff1=1,2,3,4"})),
                    Catch::Contains("env.payoff0"));
  CHECK_THROWS_WITH(MatrixGame::Options::from(matrix_config({"--env.payoffs=stag_hunt", "--env.n_acts=3"})),
                    Catch::Contains("env.n_acts"));
  CHECK_THROWS_WITH(MatrixGame::Options::from(matrix_config({"--env.payoff0=1,2,3,4"})), Catch::Contains("env.payoffs=fixed"));
  CHECK_THROWS_AS(matrix_config({"--env.comm=shout"}), UserError);
}
