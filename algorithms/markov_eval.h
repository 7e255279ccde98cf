// The evaluation logging shared by the Markov-game learners (reinforce, maddpg): interaction
// rows from a recorded rollout, the information figures over them, the CIC probe, and the
// env's own figures (MarkovGame::episode_figures).
//
// Rows: one per message heard, episode-major: for each episode b, step t, speaking agent j and
// agent i that hears j (MarkovGame::hears), a row when i acts at some step u > t (the first such
// u gives receiver_action); messages never followed by the hearer's action are not rows.
// message = the sender's symbols (-1 past its msg_len), sender_action = the sender's action at
// its first acting step >= t (-1 when it never acts), reward = the sender's episode return,
// target = MarkovGame::meaning of the episode (-1 when the game gives none).
// A receiver that answers by message (MarkovGame::answers_by_message: simple_crypto's Bob and
// Eve) has a row when it speaks at some u > t, with its symbols at the first such u as the
// receiver_action (rows Alice -> Bob and Alice -> Eve); the CIC probe takes its answer's
// distribution from MarkovLogOptions::answer_probs, and such receivers get their own
// ic/receiver<i> and cic/receiver<i>.
// Actions are one column when every agent has at most one action factor, else [N, F].
//
// Figures: messages_per_episode, entropy, ic, mi_floor, and when some sender acts sc and ci_action (a
// speaker that takes no env action has no SC: those figures are left out, as `emcomm analyze`
// reports them null), pooled over every speaker, and the same per speaking agent j over its own
// rows as entropy/agent<j>, ic/agent<j>, sc/agent<j>, ci_action/agent<j> (the Pitfalls
// statistics: SC_j = I(m_j; a_j), IC_j = I(m_j; a_other)), each estimated per mi_batch episodes
// (MarkovLogOptions); mi_floor(/agent<j>) is what a uniform random independent policy gets for
// sc and ic under the same estimates (independent_mi_floor over the sender's V^L messages and
// the sender's action space, the receiver's when the sender never acts; left out when those
// spaces are too large); in a MatrixGame the probe's listener observation goes through
// MatrixGame::probe_observation (env.cic_reply); the CIC probe over the first rows (at most kCicFigureRows): cic,
// cic/sender<j>, and when every message was enumerated sender_msg_entropy (mean H(c|s), the
// bound of CIC(s)) and cic_uniform (the M messages imposed with equal weight: how much the
// listener's action depends on what it hears, independent of the speaker).
#pragma once

#include <torch/types.h>

#include <functional>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/cic_probe.h"
#include "envs/markov_game.h"

namespace emcomm {

// eval.size of a Markov-game learner: episodes per evaluation (0 means 1000: a Markov game has
// no finite split to cover).
int64_t markov_eval_size(const Config& cfg);

// What an evaluation rollout recorded. T = number of env steps.
struct MarkovRollout {
  std::vector<MarkovState> states;  // T + 1: states[t] is what the agents saw before step t
  std::vector<torch::Tensor> messages;  // T x int64 [E, N, L]: symbols sent (ignored where silent)
  std::vector<torch::Tensor> actions;   // T x int64 [E, N, F]: actions taken (ignored where idle)
  std::vector<std::vector<torch::Tensor>> message_logits;  // T x N x [E, L_i, V_i] or undefined
  torch::Tensor returns;                // [E, N] float32: episode returns
  int64_t steps() const { return int64_t(messages.size()); }
};

// Agent `agent`'s action probabilities [n, F_i, K_i] at observations `obs` [n, D_i] of the
// episodes `episodes` (the probe imposes counterfactual messages into obs).
using ActionProbs =
    std::function<torch::Tensor(int64_t agent, const torch::Tensor& obs, const std::vector<int64_t>& episodes)>;

struct MarkovLogOptions {
  MarkovLogOptions(int64_t rows = 100, CicProbeOptions probe = {}, int64_t batch = 0)
      : log_rows(rows), cic(probe), mi_batch(batch) {}
  int64_t log_rows = 100;  // eval.log_rows
  CicProbeOptions cic;
  // Episodes per estimate of the row figures (entropy, sc, ic, ci_action and mi_floor, pooled and
  // per agent): each figure is the mean over the full chunks of mi_batch consecutive episodes
  // (the episodes past the last full chunk are left out); 0 (or >= the episodes): one estimate
  // over every row. The Pitfalls protocol is 64 (one training batch).
  int64_t mi_batch = 0;
  // The message distribution [n, L_i, V_i] of an agent that answers by message
  // (MarkovGame::answers_by_message) at observations `obs`: the CIC probe's receiver
  // distribution for such receivers (without it their rows get no probe).
  ActionProbs answer_probs;
};

// The mean plug-in I(x; y) in bits of n independent pairs, x uniform over M values and y over A
// (a random independent policy's sc or ic on n rows: the small-sample bias floor). A seeded
// Monte-Carlo estimate (at least 500 draws of n pairs, about 10^6 pairs), cached; NaN when
// M * A > 2^20 or n < 1.
double independent_mi_floor(int64_t n, int64_t M, int64_t A);

// Builds the rows, writes the first log_rows (with the CIC block when the probe is due) to
// split "eval" of `log`, and returns the figures above. `cic_rng` draws sampled probe messages.
Metrics log_markov_evaluation(const MarkovGame& game, const MarkovRollout& rollout, const ActionProbs& probs,
                              const MarkovLogOptions& opt, int64_t step, Rng cic_rng, RunWriter& log);

}  // namespace emcomm
