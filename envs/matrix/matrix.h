// Matrix communication games (Pitfalls, REFERENCE.md): two agents, one round per episode; they
// exchange cheap-talk messages, then both act at once and each gets its payoff for the joint
// action. B episodes at a time, as a MarkovGame (envs/markov_game.h).
//
// Payoffs (env.payoffs): `random` = fresh N(0, env.payoff_std^2) K x K matrices for each agent
// every episode (env.common_payoff=true: agent 1 gets agent 0's matrix, a common-interest game);
// `fixed` = env.payoff0 / env.payoff1 (K*K numbers each, row-major, row = agent 0's action);
// named 2-action games: prisoners_dilemma, stag_hunt, coordination, chicken. The adversarial
// coefficient c (env.adversarial) is applied once: R0' = R0 - c R1, R1' = R1 - c R0 (from the
// original R0, R1).
//
// Channel (env.comm, env.n_comm symbols, one symbol per message):
//   turns  - a random agent speaks first, the other speaks having heard it, then both act (3 steps)
//   simul  - both speak at once, then both act (2 steps)
//   oneag  - only agent 0 speaks, then both act (2 steps)
//   none   - no channel: both act at once (1 step)
//   random - as simul, but each agent hears a uniformly random symbol instead of the message
//   garble - as simul, but each heard symbol is replaced by a uniformly random one with
//            probability env.garble_prob
//
// Observation of agent i (D = 2K^2 + 2V, V = n_comm; V = 0 with comm=none):
//   [0, K^2)          agent i's own payoffs, row = i's action, column = the other's action
//   [K^2, 2K^2)       the other agent's payoffs, same orientation (row = i's action)
//   [2K^2, 2K^2+V)    one-hot of the symbol i heard from the other agent (zeros until heard)
//   [2K^2+V, 2K^2+2V) one-hot of the symbol i itself sent (zeros until sent)
//   [2K^2+2V, D)      env.memory = k past rounds (reference --mem-size), the most recent first,
//                     each 2V + 2K wide: one-hots of the symbol i heard, the symbol i sent, i's
//                     action, the other's action (zeros for rounds not played yet or not spoken)
// D = 2K^2 + 2V + k (2V + 2K).
// env.visibility: both (default) | private (each agent sees only its own matrix; the other's
// block is zero) | agent0 (only agent 0 sees payoffs: agent 1's two blocks are zero).
//
// Memory (k > 0): the B episodes of a reset() are B streams of rounds; episode b of a training
// reset continues stream b of the previous one (same B; a new B starts empty streams), so the
// memory crosses episodes as the reference's one-stream loop does (its gamma = 0 keeps rounds
// apart in the returns). reset_eval() episodes see the memory of training stream b mod B_train
// (empty before any training round) and are not recorded.
//
// impose_message (the CIC counterfactual) writes the symbol into the heard slot only (the
// MarkovGame contract); the CIC probe then passes the listener's observation through
// probe_observation(): with env.cic_reply=empty (default, the reference's probe) that clears the
// listener's own sent symbol (the reply slot), kept leaves it as it was.
#pragma once

#include <vector>

#include "envs/markov_game.h"

namespace emcomm {

class MatrixGame : public MarkovGame {
 public:
  enum class Comm { Turns, Simul, OneAgent, None, Random, Garble };
  enum class Visibility { Both, Private, Agent0 };
  struct Options {
    int64_t n_acts = 2, n_comm = 4;
    std::string payoffs = "random";
    double payoff_std = 3.0, adversarial = 0.0, garble_prob = 0.5;
    bool common_payoff = false;
    std::vector<double> payoff0, payoff1;  // fixed games: K*K each, row-major [a0][a1]
    Comm comm = Comm::Turns;
    Visibility visibility = Visibility::Both;
    int64_t memory = 0;            // env.memory: past rounds in the observation
    bool cic_reply_empty = true;   // env.cic_reply=empty
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();
  // The named game's matrices (row-major [a0][a1], agent 0 then agent 1); UserError if unknown.
  static std::pair<std::vector<double>, std::vector<double>> named_game(const std::string& name);

  explicit MatrixGame(const Options& opt);

  std::string name() const override { return "matrix"; }
  int64_t num_agents() const override { return 2; }
  AgentSpec agent_spec(int64_t agent) const override;
  MarkovState reset(int64_t batch, Rng& rng) override;
  MarkovState reset_eval(int64_t batch, Rng& rng) override;
  MarkovState step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) override;
  torch::Tensor impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                               const torch::Tensor& symbols) const override;
  bool hears(int64_t listener, int64_t speaker) const override;
  // The CIC probe's listener observation [R, D] after impose_message: the reply slot cleared
  // when env.cic_reply=empty, else `obs` itself.
  torch::Tensor probe_observation(const torch::Tensor& obs) const;

  const Options& options() const { return opt_; }
  // The column blocks of an observation (the layout above): [begin, end) of the payoffs (both
  // matrices), of this round's communication (heard and sent slots; empty with comm=none) and of
  // the memory rounds (empty when env.memory = 0).
  struct ObsBlock {
    int64_t begin = 0, end = 0;
    int64_t size() const { return end - begin; }
  };
  struct ObsLayout {
    ObsBlock payoff, comm, memory;
  };
  ObsLayout obs_layout() const {
    return {{0, 2 * K_ * K_}, {2 * K_ * K_, 2 * K_ * K_ + 2 * V_}, {2 * K_ * K_ + 2 * V_, obs_dim()}};
  }
  int64_t obs_dim() const { return 2 * K_ * K_ + 2 * V_ + opt_.memory * memory_entry(); }
  int64_t memory_entry() const { return 2 * V_ + 2 * K_; }
  // The training streams' memory (for checkpoints): [lanes, k, 6] int64 rounds, the most recent
  // first, each (heard0, heard1, said0, said1, action0, action1), -1 = none; empty when k = 0 or
  // no training round was played.
  torch::Tensor memory_state() const;
  void set_memory_state(const torch::Tensor& rounds);
  int64_t steps_per_episode() const { return act_phase_ + 1; }
  // Agent i's payoff (after the adversarial coefficient) in episode b for joint action (a0, a1).
  double payoff(int64_t b, int64_t agent, int64_t a0, int64_t a1) const {
    return pay_[(b * 2 + agent) * K_ * K_ + a0 * K_ + a1];
  }
  // The agent that spoke first in episode b (turns; 0 otherwise).
  int64_t first_speaker(int64_t b) const { return first_[b]; }
  // The symbol agent i heard / sent this round in episode b (-1: none yet), and the phase of the
  // episodes in progress (0 = the first step; steps_per_episode() = over).
  int64_t heard(int64_t b, int64_t agent) const { return heard_[b * 2 + agent]; }
  int64_t said(int64_t b, int64_t agent) const { return said_[b * 2 + agent]; }
  int64_t phase() const { return phase_; }
  int64_t batch() const { return B_; }

  // Sets the situation of the episodes in progress (a situation to replay, docs/python.md): any
  // of the payoffs [B, 2, K, K] as payoff() reads them (row = agent 0's action, after the
  // adversarial coefficient), the first speakers [B] (comm=turns, before anyone has spoken), the
  // symbols heard / sent [B, 2] (-1: none). An empty vector leaves that part as it is. Returns
  // the state as set (zero rewards, not done); UserError for a wrong size or a value out of range.
  MarkovState set_situation(const std::vector<double>& payoffs, const std::vector<int64_t>& first_speakers,
                            const std::vector<int64_t>& heard, const std::vector<int64_t>& said);

 private:
  MarkovState state(const std::vector<float>& reward, bool done) const;
  MarkovState start(int64_t batch, Rng& rng);
  Options opt_;
  int64_t K_, V_, act_phase_;
  std::vector<double> fixed0_, fixed1_;  // fixed / named games, before the adversarial coefficient
  // Episode state.
  int64_t B_ = 0, phase_ = 0;
  std::vector<double> pay_;      // [B, 2, K, K]
  std::vector<int64_t> first_;   // [B]
  std::vector<int64_t> heard_;   // [B, 2]: symbol agent i heard, -1 none
  std::vector<int64_t> said_;    // [B, 2]: symbol agent i sent, -1 none
  // Memory: this episode batch's past rounds [B, k, 6], and the training streams' [lanes, k, 6].
  std::vector<int64_t> mem_, train_mem_;
  int64_t train_lanes_ = 0;
  bool recording_ = false;       // this batch's rounds go into the training streams
};

}  // namespace emcomm
