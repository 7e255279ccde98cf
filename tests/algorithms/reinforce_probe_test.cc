// The Pitfalls probes of the REINFORCE learner on matrix games (agents.action_probe, and the
// first layer's weight norms per observation block): the norms on hand-set weights, the probe
// learning a deterministic action with and without the message it is announced in, the policy
// untouched by the probe, the probe's own learning rate, and a checkpoint round trip.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <cmath>

#include "agents/action_probe.h"
#include "algorithms/reinforce.h"
#include "algorithms/state_archive.h"
#include "envs/matrix/matrix.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

Reinforce::Options probe_options() {
  Reinforce::Options o;
  o.eval_size = 500;
  o.log_rows = 50;
  o.cic.last_step = -1;
  o.action_probe = true;
  return o;
}

std::map<std::string, torch::Tensor> policy_snapshot(Reinforce& r) {
  std::map<std::string, torch::Tensor> s;
  for (int64_t i = 0; i < 2; ++i)
    for (const auto& kv : r.agent(i)->named_parameters())
      s["agent" + std::to_string(i) + "." + kv.key()] = kv.value().clone();
  return s;
}

bool same(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& kv : a)
    if (!b.count(kv.first) || !torch::equal(kv.second, b.at(kv.first))) return false;
  return true;
}

// Agent 1 of a private-payoff game made deterministic by hand: it plays action 0 and says
// symbol 0 when its own payoff R1(0, 0) (observation column 0) is positive, action 1 and symbol
// 1 otherwise (logit gaps of 1000 |R1(0, 0)|).
void set_deterministic_agent1(Reinforce& r) {
  torch::NoGradGuard no_grad;
  auto p = r.agent(1)->named_parameters();
  for (auto& kv : p) kv.value().zero_();
  p["l1.weight"][0][0] = 100.0;
  p["l1.weight"][1][0] = -100.0;
  p["l2.weight"][0][0] = 1.0;
  p["l2.weight"][1][1] = 1.0;
  auto a = p["action.weight"];  // [2 actions, hidden]
  a[0][0] = 10.0, a[0][1] = -10.0, a[1][0] = -10.0, a[1][1] = 10.0;
  auto m = p["message.weight"];  // [4 symbols, hidden]
  m[0][0] = 10.0, m[0][1] = -10.0, m[1][0] = -10.0, m[1][1] = 10.0;
  for (int64_t v = 2; v < 4; ++v) m[v][0] = -10.0, m[v][1] = -10.0;
}

}  // namespace

TEST_CASE("column_block_norm: the Frobenius norm of a block of columns", "[reinforce][probe]") {
  auto w = torch::tensor({1.0f, 2.0f, 0.0f, 2.0f, 0.0f, 3.0f}).view({2, 3});
  CHECK(column_block_norm(w, 0, 1) == Approx(std::sqrt(5.0)));  // 1, 2
  CHECK(column_block_norm(w, 1, 3) == Approx(std::sqrt(4.0 + 9.0)));
  CHECK(column_block_norm(w, 2, 2) == 0.0);
  CHECK_THROWS(column_block_norm(w, 2, 4));
}

TEST_CASE("reinforce: first-layer norms on the payoff, comm and memory columns of hand-set weights",
          "[reinforce][probe]") {
  // K = 2, V = 4, memory 1: D = 2*4 + 2*4 + (2*4 + 2*2) = 28; payoffs [0, 8), comm [8, 16),
  // memory [16, 28).
  MatrixGame::Options env;
  env.memory = 1;
  env.comm = MatrixGame::Comm::Simul;
  auto game = std::make_shared<MatrixGame>(env);
  const auto layout = game->obs_layout();
  CHECK(layout.payoff.begin == 0);
  CHECK(layout.payoff.end == 8);
  CHECK(layout.comm.begin == 8);
  CHECK(layout.comm.end == 16);
  CHECK(layout.memory.begin == 16);
  CHECK(layout.memory.end == 28);
  CHECK(game->obs_dim() == 28);

  // The layout matches the observations: at the acting step each agent has one heard and one
  // sent symbol, both inside the comm block, and its own payoffs in the first K^2 columns.
  Rng rng(3);
  MarkovState s = game->reset(16, rng);
  auto msgs = torch::randint(0, 4, {16, 2, 1}, torch::kInt64);
  s = game->step(torch::zeros({16, 2, 1}, torch::kInt64), msgs, rng);  // the speaking step
  for (int64_t i = 0; i < 2; ++i) {
    auto comm = s.obs[i].narrow(1, layout.comm.begin, layout.comm.size());
    CHECK(torch::equal(comm.sum(1), torch::full({16}, 2.0f)));
    CHECK(s.obs[i].narrow(1, layout.memory.begin, layout.memory.size()).abs().sum().item<float>() == 0.0f);
    for (int64_t b = 0; b < 4; ++b)
      CHECK((s.obs[i][b][1].item<double>() == Approx(game->payoff(b, i, 0, 1)).margin(1e-5) ||
             s.obs[i][b][1].item<double>() == Approx(game->payoff(b, i, 1, 0)).margin(1e-5)));
  }

  Reinforce::Options opt;
  opt.hidden = 2;
  Reinforce learner(opt, game, Rng(1));
  {
    torch::NoGradGuard no_grad;
    auto w = learner.agent(0)->named_parameters()["l1.weight"];  // [2, 28]
    w.zero_();
    w[0][0] = 3.0, w[1][7] = 4.0;    // payoffs: sqrt(9 + 16) = 5
    w[0][8] = 6.0, w[1][15] = 8.0;   // comm: sqrt(36 + 64) = 10
    w[0][16] = 1.0, w[1][27] = 2.0;  // memory: sqrt(1 + 4)
  }
  Metrics m = learner.first_layer_norms();
  CHECK(m.at("w_norm/payoff/agent0") == Approx(5.0));
  CHECK(m.at("w_norm/comm/agent0") == Approx(10.0));
  CHECK(m.at("w_norm/memory/agent0") == Approx(std::sqrt(5.0)));
  CHECK(m.count("w_norm/comm/agent1") == 1);

  // comm=none, no memory: no comm or memory block, the payoffs are every column.
  MatrixGame::Options silent;
  silent.comm = MatrixGame::Comm::None;
  Reinforce quiet(opt, std::make_shared<MatrixGame>(silent), Rng(1));
  Metrics q = quiet.first_layer_norms();
  CHECK(q.count("w_norm/comm/agent0") == 0);
  CHECK(q.count("w_norm/memory/agent0") == 0);
  const auto w1 = quiet.agent(1)->named_parameters()["l1.weight"];
  CHECK(q.at("w_norm/payoff/agent1") == Approx(w1.norm().item<double>()));
}

TEST_CASE("reinforce: the action probe learns a deterministic action, and needs the message that announces it",
          "[reinforce][probe]") {
  // Private payoffs, both speak then act. Agent 1 acts and speaks on its own payoff R1(0, 0),
  // which agent 0 does not see: agent 0 can predict agent 1's action from the heard symbol only.
  // A constant predictor gets about 1/2.
  MatrixGame::Options env;
  env.comm = MatrixGame::Comm::Simul;
  env.visibility = MatrixGame::Visibility::Private;
  Reinforce learner(probe_options(), std::make_shared<MatrixGame>(env), Rng(7));
  Metrics train;
  for (int64_t step = 1; step <= 300; ++step) {
    set_deterministic_agent1(learner);
    train = learner.train_step(step);
  }
  set_deterministic_agent1(learner);
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = learner.evaluate(300, log);
  INFO("probe_acc " << m["probe_acc/agent0"] << " nocomm " << m["probe_acc_nocomm/agent0"] << " noinput "
                    << m["probe_acc_noinput/agent0"] << " sep " << m["probe_acc_sep/agent0"] << " sep_nocomm "
                    << m["probe_acc_sep_nocomm/agent0"]);
  CHECK(m.at("sc/agent1") > 0.9);  // agent 1 is deterministic: its symbol names its action
  CHECK(m.at("probe_acc/agent0") > 0.9);
  CHECK(m.at("probe_acc_nocomm/agent0") < 0.65);
  CHECK(m.at("probe_acc_noinput/agent0") < 0.65);
  // The separate MLPs on the observation itself: the same with and without the message.
  CHECK(m.at("probe_acc_sep/agent0") > 0.9);
  CHECK(m.at("probe_acc_sep_nocomm/agent0") < 0.65);
  CHECK(train.count("probe_acc/agent1") == 1);
  CHECK(train.at("probe_acc/agent0") > 0.85);
}

TEST_CASE("reinforce: the action probe does not change the policy, and trains at lr x probe_lr_scale",
          "[reinforce][probe]") {
  MatrixGame::Options env;  // the reference setting: turns, random N(0, 9) payoffs
  Reinforce::Options off = probe_options();
  off.action_probe = false;
  Reinforce::Options on = probe_options();
  Reinforce plain(off, std::make_shared<MatrixGame>(env), Rng(5));
  Reinforce probed(on, std::make_shared<MatrixGame>(env), Rng(5));
  REQUIRE(same(policy_snapshot(plain), policy_snapshot(probed)));

  // Adam's first step moves every parameter with a nonzero gradient by lr (its first update is
  // lr * g / |g|): the full head's bias by 5 x train.lr.
  auto bias0 = probed.probe(0)->named_parameters()["full.bias"].clone();
  plain.train_step(1);
  probed.train_step(1);
  auto moved = (probed.probe(0)->named_parameters()["full.bias"] - bias0).abs();
  CHECK(moved.min().item<double>() == Approx(on.lr * on.probe_lr_scale).epsilon(1e-3));

  for (int64_t step = 2; step <= 40; ++step) {
    Metrics a = plain.train_step(step), b = probed.train_step(step);
    REQUIRE(a.at("loss") == b.at("loss"));
  }
  CHECK(same(policy_snapshot(plain), policy_snapshot(probed)));
  test::TempDir dir;
  RunWriter log_a(dir / "a.h5", {}, "", "test"), log_b(dir / "b.h5", {}, "", "test");
  Metrics ea = plain.evaluate(40, log_a), eb = probed.evaluate(40, log_b);
  CHECK(ea.at("sc/agent0") == eb.at("sc/agent0"));
  CHECK(ea.at("reward/mean") == eb.at("reward/mean"));
  CHECK(eb.count("probe_acc_nocomm/agent1") == 1);
  CHECK(ea.count("probe_acc/agent0") == 0);
  CHECK(ea.at("w_norm/comm/agent0") == eb.at("w_norm/comm/agent0"));
}

TEST_CASE("reinforce: the action probe survives a checkpoint: a resumed run continues step for step",
          "[reinforce][probe]") {
  MatrixGame::Options env;
  test::TempDir dir;
  Reinforce whole(probe_options(), std::make_shared<MatrixGame>(env), Rng(9));
  Reinforce first(probe_options(), std::make_shared<MatrixGame>(env), Rng(9));
  Reinforce second(probe_options(), std::make_shared<MatrixGame>(env), Rng(9));
  std::vector<Metrics> whole_m;
  for (int64_t t = 1; t <= 30; ++t) whole_m.push_back(whole.train_step(t));
  for (int64_t t = 1; t <= 20; ++t) first.train_step(t);
  {
    torch::serialize::OutputArchive out;
    first.save_state(out);
    out.save_to(dir / "state.pt");
  }
  torch::serialize::InputArchive in;
  in.load_from(dir / "state.pt");
  second.load_state(in);
  for (int64_t t = 21; t <= 30; ++t) CHECK(second.train_step(t) == whole_m[t - 1]);
  for (int64_t i = 0; i < 2; ++i) {
    auto a = whole.probe(i)->named_parameters(), b = second.probe(i)->named_parameters();
    for (const auto& kv : a) CHECK(torch::equal(kv.value(), b[kv.key()]));
  }
  CHECK(same(policy_snapshot(whole), policy_snapshot(second)));
}
