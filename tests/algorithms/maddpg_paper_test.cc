// MADDPG's paper beyond cooperative communication: simple_crypto's interaction rows (Alice -> Bob,
// Alice -> Eve) from a hand-played rollout, the final evaluation protocol, and policy inference.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "algorithms/maddpg.h"
#include "algorithms/markov_eval.h"
#include "core/errors.h"
#include "core/run_file.h"
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

std::shared_ptr<ParticleWorld> world(ParticleWorld::Scenario s, int64_t episode_length = 25) {
  ParticleWorld::Options w;
  w.scenario = s;
  w.episode_length = episode_length;
  return std::make_shared<ParticleWorld>(w);
}

}  // namespace

TEST_CASE("markov eval: simple_crypto rows are Alice -> Eve and Alice -> Bob with the answer as action",
          "[maddpg][markov_eval]") {
  // 3 steps; Alice (2) says 0, 1, 2; Bob (1) says 3, 0, 1 (a copy of Alice's last message from
  // step 1 on); Eve (0) says 2, 3, 3 (constant after step 0). Alice's last message is heard by
  // nobody (masked), so the rows are Alice's messages at t = 0, 1, each to Eve then Bob, with the
  // hearer's symbol at t + 1 as its action.
  auto game = world(ParticleWorld::Scenario::Crypto, 3);
  Rng rng(3);
  MarkovRollout rec;
  rec.states.push_back(game->reset(1, rng));
  game->set_goal(0, 0, 1), game->set_goal(0, 1, 1), game->set_goal(0, 2, 1);
  const int64_t said[3][3] = {{2, 3, 0}, {3, 0, 1}, {3, 1, 2}};  // [t][agent]
  rec.returns = torch::zeros({1, 3});
  for (int t = 0; t < 3; ++t) {
    auto msg = torch::zeros({1, 3, 1}, torch::kInt64);
    for (int i = 0; i < 3; ++i) msg[0][i][0] = said[t][i];
    rec.actions.push_back(torch::zeros({1, 3, 1}, torch::kInt64));
    rec.messages.push_back(msg);
    rec.message_logits.push_back(std::vector<torch::Tensor>(3));
    rec.states.push_back(game->step(torch::zeros({1, 3, 1}, torch::kInt64), msg, rng));
    rec.returns += rec.states.back().reward;
  }
  auto no_probs = [](int64_t, const torch::Tensor&, const std::vector<int64_t>&) -> torch::Tensor {
    FAIL("no probe without message logits");
    return {};
  };
  test::TempPath path{"crypto_rows.h5"};
  Metrics m;
  {
    RunWriter w{path.str(), {}, "", "test"};
    MarkovLogOptions lo;
    lo.log_rows = 100;
    lo.cic.last_step = -1;
    m = log_markov_evaluation(*game, rec, no_probs, lo, 7, Rng(1), w);
    w.flush();
  }
  CHECK(m.at("messages_per_episode") == 4.0);
  // Bob's answers copy Alice's messages (1 bit over 2 rows); Eve's are constant (0 bits).
  CHECK(m.at("ic/receiver1") == Approx(1.0));
  CHECK(m.at("ic/receiver0") == Approx(0.0).margin(1e-12));
  CHECK(m.count("sc") == 0);  // Alice takes no env action
  RunReader r(path.str());
  auto rows = r.interactions("eval");
  REQUIRE(rows.rows == 4);
  const int32_t t[] = {0, 0, 1, 1}, receiver[] = {0, 1, 0, 1}, message[] = {0, 0, 1, 1}, answer[] = {3, 0, 3, 1};
  const float alice = rec.returns[0][2].item<float>();
  for (int k = 0; k < 4; ++k) {
    INFO("row " << k);
    CHECK(rows.sender[k] == 2);
    CHECK(rows.t[k] == t[k]);
    CHECK(rows.receiver[k] == receiver[k]);
    CHECK(rows.message[k] == message[k]);
    CHECK(rows.receiver_action[k] == answer[k]);
    CHECK(rows.sender_action[k] == -1);
    CHECK(rows.target[k] == 1);  // the goal
    CHECK(rows.reward[k] == alice);
  }
}

TEST_CASE("maddpg: simple_crypto evaluations log rows to Bob and Eve with CIC tables", "[maddpg]") {
  auto o = small();
  o.log_rows = 96;
  o.cic.rows = 96;
  o.cic.last_step = 3;  // the evaluation at step 3 writes its CIC block
  auto game = world(ParticleWorld::Scenario::Crypto);
  Maddpg m(o, game, Rng(2));
  for (int s = 1; s <= 3; ++s) m.train_step(s);
  test::TempPath path{"crypto_maddpg.h5"};
  Metrics e;
  {
    RunWriter w{path.str(), {}, "", "test"};
    e = m.evaluate(3, w);
    w.flush();
  }
  CHECK(e.at("messages_per_episode") == 48.0);  // Alice's 24 heard messages x 2 hearers
  for (auto key : {"cic", "cic/receiver0", "cic/receiver1", "ic/receiver0", "ic/receiver1", "bob_success", "eve_success"}) {
    INFO(key);
    REQUIRE(e.count(key) == 1);
    CHECK(e.at(key) >= 0.0);
  }
  CHECK(e.at("cic") <= 2.0 + 1e-6);  // log2 of 4 answers
  RunReader r(path.str());
  auto rows = r.interactions("eval");
  REQUIRE(rows.rows == 96);
  for (int64_t k = 0; k < rows.rows; ++k) {
    CHECK(rows.sender[k] == 2);
    CHECK(rows.receiver[k] == (k % 2 == 0 ? 0 : 1));
    CHECK(rows.receiver_action[k] >= 0);
    CHECK(rows.receiver_action[k] < 4);
    CHECK(rows.target[k] == game->meaning(rows.episode[k]));
  }
  auto cic = r.cic("eval");
  REQUIRE(cic);
  CHECK(cic->messages == 4);
  CHECK(cic->action_shape == std::vector<int64_t>{4});
}

TEST_CASE("maddpg: the final evaluation reports returns summed over agents and the scenario's figures",
          "[maddpg]") {
  auto o = small();
  o.final_episodes = 200;
  SECTION("cooperative communication: every agent holds the summed reward") {
    Maddpg m(o, world(ParticleWorld::Scenario::SpeakerListener), Rng(3));
    for (int s = 1; s <= 3; ++s) m.train_step(s);
    const int64_t updates = m.updates(), transitions = m.transitions();
    Metrics last{{"reward", -1.0}, {"cic", 0.5}};
    auto f = m.final_metrics(last);
    CHECK(f.at("reward") == -1.0);  // the last evaluation's figures stay
    CHECK(f.at("cic") == 0.5);
    CHECK(f.at("final/episodes") == 200.0);
    CHECK(f.at("final/reward/sum") == Approx(2.0 * f.at("final/reward")));
    CHECK(f.at("final/reward/agent1") == Approx(f.at("final/reward")));
    for (auto key : {"final/target_reach", "final/target_touch", "final/goal_distance"}) REQUIRE(f.count(key) == 1);
    CHECK(f.at("final/target_reach") >= 0.0);
    CHECK(f.at("final/target_reach") <= 1.0);
    CHECK(m.updates() == updates);  // no learning
    CHECK(m.transitions() == transitions);
    Maddpg m2(o, world(ParticleWorld::Scenario::SpeakerListener), Rng(3));
    for (int s = 1; s <= 3; ++s) m2.train_step(s);
    CHECK(m2.final_metrics(last) == f);  // deterministic
  }
  SECTION("mixed: reward/sum is the sum of the agents' returns") {
    Maddpg m(o, world(ParticleWorld::Scenario::Adversary), Rng(3));
    auto f = m.final_metrics({});
    CHECK(f.at("final/reward/sum") ==
          Approx(f.at("final/reward/agent0") + f.at("final/reward/agent1") + f.at("final/reward/agent2")));
    for (auto key : {"final/good_success", "final/adversary_success", "final/good_distance", "final/adversary_distance"})
      REQUIRE(f.count(key) == 1);
  }
  SECTION("scenario figures") {
    const std::pair<ParticleWorld::Scenario, std::vector<std::string>> cases[] = {
        {ParticleWorld::Scenario::Crypto, {"bob_success", "eve_success"}},
        {ParticleWorld::Scenario::Spread, {"distance", "collisions", "occupied"}},
        {ParticleWorld::Scenario::Tag, {"collisions"}},
        {ParticleWorld::Scenario::Push, {"good_distance", "adversary_distance"}}};
    for (const auto& [scenario, keys] : cases) {
      Maddpg m(o, world(scenario), Rng(3));
      auto f = m.final_metrics({});
      for (const auto& k : keys) {
        INFO(k);
        REQUIRE(f.count("final/" + k) == 1);
        CHECK(std::isfinite(f.at("final/" + k)));
      }
    }
  }
  SECTION("final_episodes = 0 adds nothing") {
    o.final_episodes = 0;
    Maddpg m(o, world(ParticleWorld::Scenario::SpeakerListener), Rng(3));
    Metrics last{{"reward", -1.0}};
    CHECK(m.final_metrics(last) == last);
  }
}

TEST_CASE("maddpg: the policy-approximation loss is the soft log-likelihood minus lambda times the entropy",
          "[maddpg]") {
  // Uniform logits over a 5-value action and a 3-value message, one-hot observed vectors:
  // -log p = log 5 + log 3 = H.
  auto logits = torch::zeros({2, 8});
  auto a = torch::zeros({2, 8});
  a[0][2] = 1, a[0][5] = 1, a[1][0] = 1, a[1][7] = 1;
  const double h = std::log(5.0) + std::log(3.0);
  CHECK(policy_approx_loss(logits, a, 5, 1, 3, 1, 0.0).item<double>() == Approx(h));
  CHECK(policy_approx_loss(logits, a, 5, 1, 3, 1, 0.5).item<double>() == Approx(0.5 * h));
  // Two values, p = (0.25, 0.75), soft observed vector (0.5, 0.5), lambda 1.
  auto l2 = torch::tensor({{0.0f, float(std::log(3.0))}});
  auto a2 = torch::tensor({{0.5f, 0.5f}});
  const double nll = -(0.5 * std::log(0.25) + 0.5 * std::log(0.75));
  const double ent = -(0.25 * std::log(0.25) + 0.75 * std::log(0.75));
  CHECK(policy_approx_loss(l2, a2, 2, 1, 0, 0, 1.0).item<double>() == Approx(nll - ent));
}

TEST_CASE("maddpg: an inferred policy learns a fixed policy's actions", "[maddpg]") {
  auto o = small();
  o.infer_policies = true;
  o.hidden = 32;
  auto game = world(ParticleWorld::Scenario::SpeakerListener);
  Maddpg m(o, game, Rng(4));
  REQUIRE(m.infers(1, 0));  // the listener models the speaker (obs 3, message of 3 values)
  CHECK_FALSE(m.infers(0, 0));
  // The fixed policy: a random MLP, sharpened, acting by soft Gumbel samples as in the replay.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  MaddpgMlp teacher(3, 16, 3);
  glorot_init(*teacher, gen);
  torch::manual_seed(1);
  auto policy = [&](const torch::Tensor& obs) {
    torch::NoGradGuard g;
    return 4.0 * teacher(obs);
  };
  auto held_out = torch::randn({64, 3});
  // What the approximation should match: the mean soft sample at each held-out observation.
  torch::Tensor mean_action;
  {
    torch::NoGradGuard g;
    auto l = policy(held_out);
    mean_action = torch::zeros({64, 3});
    for (int s = 0; s < 400; ++s) mean_action += gumbel_soft(l, 5, 0, 3, 1, 1.0, true, gen);
    mean_action /= 400.0;
  }
  auto error = [&] {
    torch::NoGradGuard g;
    return (m.approx_act(1, 0, held_out, false, false) - mean_action).abs().mean().item<double>();
  };
  const double before = error();
  double first_loss = 0, loss = 0;
  for (int it = 0; it < 600; ++it) {
    auto obs = torch::randn({128, 3});
    torch::Tensor acts;
    {
      torch::NoGradGuard g;
      acts = gumbel_soft(policy(obs), 5, 0, 3, 1, 1.0, true, gen);
    }
    loss = m.fit_approx(1, 0, obs, acts);
    if (it == 0) first_loss = loss;
  }
  const double after = error();
  INFO("mean error before " << before << ", after " << after << "; loss " << first_loss << " -> " << loss);
  CHECK(before > 0.1);
  CHECK(after < 0.05);
  CHECK(after < before / 4);
  CHECK(loss < first_loss);
}

TEST_CASE("maddpg: with policy inference the critics' targets come from the approximations", "[maddpg]") {
  // speaker_listener: the listener's model of the speaker has the speaker's output width, so both
  // runs draw the same Gumbel noise; the approximations' weights come from their own generator.
  // The only difference between the runs is then a'_j in the critics' targets (with the
  // approximations left out of the targets, both runs' critics would be bit-identical).
  auto o = small();
  auto game_off = world(ParticleWorld::Scenario::SpeakerListener), game_on = world(ParticleWorld::Scenario::SpeakerListener);
  Maddpg off(o, game_off, Rng(6));
  o.infer_policies = true;
  Maddpg on(o, game_on, Rng(6));
  Metrics t_on;
  for (int s = 1; s <= 3; ++s) off.train_step(s), t_on = on.train_step(s);
  REQUIRE(on.updates() == off.updates());
  REQUIRE(on.updates() > 0);
  CHECK(t_on.count("approx_loss") == 1);
  CHECK(std::isfinite(t_on.at("approx_loss")));
  torch::manual_seed(2);
  std::vector<torch::Tensor> obs{torch::rand({4, 3}), torch::randn({4, 11})};
  std::vector<torch::Tensor> act{torch::softmax(torch::randn({4, 3}), 1), torch::softmax(torch::randn({4, 5}), 1)};
  torch::NoGradGuard g;
  for (int64_t i = 0; i < 2; ++i) {
    INFO("critic " << i << ": " << on.critic_value(i, obs, act) << " vs " << off.critic_value(i, obs, act));
    // Adam's first steps are nearly sign(gradient): a changed target moves the critic only a little.
    CHECK_FALSE(torch::equal(on.critic_value(i, obs, act), off.critic_value(i, obs, act)));
  }
  SECTION("refused when every critic is local") {
    o.local_critic = true;
    CHECK_THROWS_WITH(Maddpg(o, game_on, Rng(6)), Catch::Contains("infer_policies"));
  }
}

TEST_CASE("maddpg: an ensemble keeps K sub-policies per agent, each learning from its own replay", "[maddpg]") {
  auto o = small();
  o.ensemble = 3;
  o.learning_starts = 150;  // 6 episodes of a sub-policy
  Maddpg m(o, world(ParticleWorld::Scenario::SpeakerListener), Rng(11));
  torch::manual_seed(3);
  const std::vector<torch::Tensor> obs{torch::rand({16, 3}), torch::randn({16, 11})};
  // Each sub-policy's noise-free output at fixed observations.
  auto outputs = [&] {
    std::vector<std::vector<torch::Tensor>> out(2);
    torch::NoGradGuard g;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t k = 0; k < 3; ++k) out[i].push_back(m.act(i, obs[i], std::vector<int64_t>(16 * 2, k), false, false));
    return out;
  };
  const auto before = outputs();
  for (int64_t i = 0; i < 2; ++i)  // the sub-policies start different
    CHECK_FALSE(torch::allclose(before[i][0], before[i][1]));
  m.train_step(1);  // 8 worlds x 25 steps: too few for any replay to start learning
  for (int64_t i = 0; i < 2; ++i) {
    int64_t total = 0;
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(m.replay_size(i, k) % 25 == 0);  // whole episodes of the sub-policy that played them
      total += m.replay_size(i, k);
    }
    CHECK(total == 200);  // every transition is in exactly one of agent i's replays
  }
  for (int s = 2; s <= 3; ++s) m.train_step(s);
  const auto after = outputs();
  int64_t moved = 0, still = 0;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 3; ++k) {
      INFO("agent " << i << " sub-policy " << k << " replay " << m.replay_size(i, k));
      const bool changed = !torch::equal(before[i][k], after[i][k]);
      // A sub-policy learns only from its own replay: it stays until that replay holds
      // learning_starts transitions, and has moved once an update round (every 100 of all the
      // transitions, at most 104 of them its own) has passed since.
      if (m.replay_size(i, k) < o.learning_starts) CHECK_FALSE(changed);
      if (m.replay_size(i, k) >= o.learning_starts + 120) CHECK(changed);  // an update round every 100 transitions
      (changed ? moved : still) += 1;
    }
  CHECK(moved > 0);
  CHECK(moved + still == 6);
}
