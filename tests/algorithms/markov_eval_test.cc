// The evaluation figures of the Markov-game learners on hand-built rollouts of the matrix game:
// the measurement protocol (estimates per mi_batch episodes), the random-policy floor beside
// sc/ic, and the observation the CIC probe gives the listener (the reply slot).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <array>

#include "algorithms/markov_eval.h"
#include "envs/matrix/matrix.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

// Plays one batch of a matrix game with the given per-episode symbols / actions of both agents
// (at every talk step, so in `turns` each agent says msg[b][i] whenever it speaks) and records it.
MarkovRollout record(MatrixGame& g, const std::vector<std::array<int64_t, 2>>& msg,
                     const std::vector<std::array<int64_t, 2>>& act, Rng& rng, bool logits) {
  const int64_t E = int64_t(msg.size());
  auto m = torch::zeros({E, 2, 1}, torch::kInt64), a = torch::zeros({E, 2, 1}, torch::kInt64);
  for (int64_t b = 0; b < E; ++b)
    for (int64_t i = 0; i < 2; ++i) m[b][i][0] = msg[b][i], a[b][i][0] = act[b][i];
  MarkovRollout r;
  r.states.push_back(g.reset(E, rng));
  while (!r.states.back().all_done()) {
    r.messages.push_back(m);
    r.actions.push_back(a);
    std::vector<torch::Tensor> lg;
    for (int64_t i = 0; i < 2; ++i)
      lg.push_back(logits ? torch::zeros({E, 1, g.options().n_comm}) : torch::Tensor());
    r.message_logits.push_back(lg);
    r.states.push_back(g.step(a, m, rng));
  }
  r.returns = r.states.back().reward.clone();
  return r;
}

MatrixGame::Options simul_coordination() {
  MatrixGame::Options o;
  o.payoffs = "coordination";
  o.comm = MatrixGame::Comm::Simul;
  return o;
}

}  // namespace

TEST_CASE("markov_eval: the random independent policy's plug-in MI floor", "[markov_eval]") {
  // Two rows: the messages differ with probability 3/4 (4 symbols), and then I = H(action) = 1 bit
  // when the two actions differ (probability 1/2): E[I] = 3/8 bit. One row: always 0.
  CHECK(independent_mi_floor(2, 4, 2) == Approx(0.375).margin(0.005));
  CHECK(independent_mi_floor(1, 4, 2) == 0);
  // Many rows: close to the chi-square approximation (M-1)(A-1) / (2 n ln 2) = 3 / (2 * 4000 ln 2).
  CHECK(independent_mi_floor(4000, 4, 2) == Approx(3.0 / (2 * 4000 * std::log(2.0))).epsilon(0.1));
  CHECK(independent_mi_floor(64, 4, 2) > independent_mi_floor(128, 4, 2));
  CHECK(independent_mi_floor(64, 4, 2) == independent_mi_floor(64, 4, 2));  // seeded
}

TEST_CASE("markov_eval: sc and ic are the mean over estimates of mi_batch episodes", "[markov_eval]") {
  // simul: both agents speak at step 0, act at step 1. Each agent says its own action in episodes
  // 0-1 and the opposite in episodes 2-3: each 2-episode batch has SC = IC = 1 bit per agent (and
  // pooled), the four episodes together 0.
  MatrixGame g(simul_coordination());
  Rng rng(1);
  MarkovRollout r = record(g, {{0, 0}, {1, 1}, {0, 0}, {1, 1}}, {{0, 0}, {1, 1}, {1, 1}, {0, 0}}, rng, false);
  auto probs = [](int64_t, const torch::Tensor& obs, const std::vector<int64_t>&) {
    return torch::full({obs.size(0), 1, 2}, 0.5f);
  };
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  MarkovLogOptions opt;
  opt.log_rows = 0;
  opt.cic.every = -1;
  opt.mi_batch = 2;
  Metrics per_batch = log_markov_evaluation(g, r, probs, opt, 1, Rng(2), log);
  for (auto key : {"sc", "ic", "sc/agent0", "sc/agent1", "ic/agent0", "ic/agent1"}) {
    INFO(key);
    CHECK(per_batch[key] == Approx(1.0));
  }
  CHECK(per_batch["entropy/agent0"] == Approx(1.0));
  // Beside them, the floor under the same protocol: 2 rows per agent per estimate, 4 pooled.
  CHECK(per_batch["mi_floor/agent0"] == Approx(0.375).margin(0.005));
  CHECK(per_batch["mi_floor"] == Approx(independent_mi_floor(4, 4, 2)));

  opt.mi_batch = 0;  // one estimate over every row
  Metrics whole = log_markov_evaluation(g, r, probs, opt, 1, Rng(2), log);
  CHECK(whole["sc/agent0"] == Approx(0.0).margin(1e-12));
  CHECK(whole["ic"] == Approx(0.0).margin(1e-12));
  CHECK(whole["mi_floor/agent0"] == Approx(independent_mi_floor(4, 4, 2)));
  opt.mi_batch = 3;  // one full batch of 3 episodes; the fourth is left out
  Metrics three = log_markov_evaluation(g, r, probs, opt, 1, Rng(2), log);
  // Episodes 0-2 of agent 0: (m, a) = (0, 0), (1, 1), (0, 1): I = H(m) - H(m|a) = 0.918 - 2/3.
  const double h = -(2.0 / 3) * std::log2(2.0 / 3) - (1.0 / 3) * std::log2(1.0 / 3);
  CHECK(three["sc/agent0"] == Approx(h - 2.0 / 3));
}

TEST_CASE("markov_eval: the CIC probe's listener observation - heard slot imposed, reply slot empty", "[markov_eval]") {
  for (bool empty : {true, false}) {
    MatrixGame::Options o;  // random payoffs (the two episodes differ), turns, 4 symbols
    o.cic_reply_empty = empty;
    MatrixGame g(o);
    Rng rng(3);
    MarkovRollout r = record(g, {{2, 3}, {1, 0}}, {{0, 1}, {1, 0}}, rng, true);
    std::vector<torch::Tensor> seen;
    std::vector<int64_t> listeners;
    auto probs = [&](int64_t agent, const torch::Tensor& obs, const std::vector<int64_t>&) {
      seen.push_back(obs.clone());
      listeners.push_back(agent);
      return torch::full({obs.size(0), 1, 2}, 0.5f);
    };
    test::TempDir dir;
    RunWriter log(dir / "run.h5", {}, "", "test");
    MarkovLogOptions opt;
    opt.log_rows = 4;
    opt.cic.every = 1;
    log_markov_evaluation(g, r, probs, opt, 1, Rng(2), log);
    // 4 rows (each agent hears the other once per episode) x 4 imposed messages.
    int64_t probed = 0;
    const auto& acting = r.states[2].obs;  // both act at step 2 with both symbols heard and sent
    for (size_t q = 0; q < seen.size(); ++q) {
      const int64_t i = listeners[q];
      for (int64_t n = 0; n < seen[q].size(0); ++n, ++probed) {
        auto ob = seen[q][n];
        INFO("listener " << i << " empty " << empty);
        CHECK(ob.narrow(0, 8, 4).sum().item<float>() == 1);  // one imposed symbol in the heard slot
        // Payoffs as at the listener's acting state (one of the two episodes).
        const bool ep0 = torch::equal(ob.narrow(0, 0, 8), acting[i][0].narrow(0, 0, 8));
        const bool ep1 = torch::equal(ob.narrow(0, 0, 8), acting[i][1].narrow(0, 0, 8));
        CHECK(ep0 != ep1);
        const int64_t b = ep0 ? 0 : 1;
        if (empty) CHECK(ob.narrow(0, 12, 4).sum().item<float>() == 0);  // the reply slot is empty
        else CHECK(torch::equal(ob.narrow(0, 12, 4), acting[i][b].narrow(0, 12, 4)));
        if (!empty) CHECK(acting[i][b].narrow(0, 12, 4).sum().item<float>() == 1);  // it had sent one
      }
    }
    CHECK(probed == 4 * 4);
  }
}

TEST_CASE("markov_eval: cic, cic/sender<j>, sender_msg_entropy and cic_uniform by hand", "[markov_eval]") {
  // simul coordination, 4 symbols, 2 episodes: each agent speaks once and hears the other, so
  // 4 rows (episode-major: e0 0->1, e0 1->0, e1 0->1, e1 1->0), all probed (V^L = 4 messages,
  // enumerated). The speakers' policies, from the logits recorded at step 0:
  //   agent 0, both episodes: (3/4, 1/4, 0, 0)
  //   agent 1, episode 0: uniform; episode 1: surely symbol 0.
  // Both listeners act 0 when they hear symbol 0, else 1 (deterministically), whatever else they see.
  MatrixGame g(simul_coordination());
  Rng rng(5);
  MarkovRollout r = record(g, {{0, 2}, {1, 0}}, {{0, 1}, {1, 0}}, rng, true);
  const float big = 100.0f;
  auto lg0 = torch::tensor({std::log(3.0f), 0.0f, -big, -big}).view({1, 1, 4}).repeat({2, 1, 1});
  auto lg1 = torch::stack({torch::zeros({1, 4}), torch::tensor({big, -big, -big, -big}).view({1, 4})});
  r.message_logits[0] = {lg0, lg1};
  const int64_t heard = g.obs_layout().comm.begin;  // the heard symbol's one-hot
  auto probs = [&](int64_t, const torch::Tensor& obs, const std::vector<int64_t>&) {
    auto zero = obs.select(1, heard).to(torch::kFloat32);  // [n]: heard symbol 0
    return torch::stack({zero, 1.0f - zero}, 1).unsqueeze(1);  // [n, 1, 2]
  };
  test::TempDir dir;
  MarkovLogOptions opt;
  opt.log_rows = 4;
  opt.cic.every = 1;
  Metrics m;
  {
    RunWriter log(dir / "run.h5", {}, "", "test");
    m = log_markov_evaluation(g, r, probs, opt, 1, Rng(2), log);
  }
  // Per row, with h = H(1/4, 3/4):
  //   CIC(s):   e0 0->1: the action copies "symbol 0?", p(0) = 3/4: h;  e0 1->0: p(0) = 1/4: h;
  //             e1 0->1: h;  e1 1->0: one message: 0.
  //   H(c|s):   h, 2, h, 0.
  //   CIC with the 4 messages equally likely: p(heard 0) = 1/4 in every row: h.
  const double h = 2.0 - 0.75 * std::log2(3.0);
  CHECK(m["cic"] == Approx(3 * h / 4).margin(1e-6));
  CHECK(m["cic/sender0"] == Approx(h).margin(1e-6));
  CHECK(m["cic/sender1"] == Approx(h / 2).margin(1e-6));
  CHECK(m["sender_msg_entropy"] == Approx((2 * h + 2) / 4).margin(1e-6));
  CHECK(m["cic_uniform"] == Approx(h).margin(1e-6));
  // The messages and actions taken: pooled messages 0, 2, 1, 0 (entropy 1.5) determine the
  // senders' actions 0, 1, 1, 0 and the receivers' 1, 0, 0, 1: sc = ic = 1.
  CHECK(m["entropy"] == Approx(1.5));
  CHECK(m["sc"] == Approx(1.0));
  CHECK(m["ic"] == Approx(1.0));
  // The run file's block holds the probe: row 1 (agent 1, uniform) has p_message 1/4 each.
  RunReader reader(dir / "run.h5");
  auto cic = reader.cic("eval");
  REQUIRE(cic);
  REQUIRE(cic->messages == 4);
  for (int64_t k = 0; k < 4; ++k) CHECK(cic->p_message[4 + k] == Approx(0.25));
  CHECK(cic->p_message[0] == Approx(0.75));
}
