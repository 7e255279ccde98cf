// REINFORCE / A2C for MarkovGames (train.algorithm=reinforce; REFERENCE.md, Pitfalls): every
// agent is its own network, a 2-layer ReLU MLP (agents.hidden units) with an action head, a
// message head and a value head (agents.separate_message_net: the message head sits on its own
// MLP). Each train step plays train.batch_size episodes to the end (sampled actions and
// messages) and makes one Adam update per agent with, per agent,
//   loss = L_action + c_m L_message - c_e (H_action + H_message) + c_v L_value
//   L_action  = -sum_{t,b} act_mask * (G - V) * log pi(a)   / B    (G - V detached)
//   L_message = -sum_{t,b} speak_mask * (G - V) * log pi(m) / B
//   H_*       =  sum_{t,b} mask * entropy / B,  L_value = sum_{t,b} (act|speak) * (G - V)^2 / B
// (agents.baseline=state, the default; batch_mean is the released code's baseline, see Baseline)
// where G is the agent's return from step t to the end of the episode (undiscounted: the matrix
// games have one round per episode, so this is the round's reward, gamma = 0 across rounds),
// V the value head at step t; log-probabilities and entropies are summed over action factors
// and message positions. agents.train_message=false drops L_message and H_message: the message
// head never learns (the Pitfalls ablation), and L_value counts only acting steps (the released
// code masks the value loss of the speaking steps too).
// A SignalingGame env is played through SignalingAdapter (adapter.vocab_size, adapter.max_len).
// The update (issue 15: at batch 64 it is bound by per-op overhead) runs each agent's network once
// on the observations of all T steps, takes the loss's gradient with respect to its outputs in one
// pass (reinforce_loss_grad; reinforce_loss is the same loss as tensor ops) and back-propagates
// that through the networks alone.
//
// Evaluation: eval.size episodes (eval.sample: sampled or greedy; auto = sampled for matrix games),
// row figures estimated per eval.mi_batch episodes (auto = train.batch_size for matrix games, the
// Pitfalls protocol: SC and IC on 64-episode batches of sampled play), logged by log_markov_evaluation
// (algorithms/markov_eval.h: interaction rows, CIC probe, sc/ic/entropy/ci_action pooled and
// per agent, cic, cic/sender<j>, sender_msg_entropy, cic_uniform, the env's own figures), plus
// reward/agent<i> and reward/mean.
//
// Matrix games also get, at every evaluation, the L2 (Frobenius) norms of each agent's first
// layer (the action trunk's l1) on the observation's column blocks (MatrixGame::obs_layout):
// w_norm/payoff/agent<i> (both payoff matrices), w_norm/comm/agent<i> (this round's heard and sent
// slots; absent with comm=none) and w_norm/memory/agent<i> (the env.memory rounds; absent when 0).
//
// agents.action_probe (matrix games only): per agent i an ActionProbe (agents/action_probe.h)
// predicts the other agent's action at the acting step from i's trunk: with the full observation
// (probe_acc), with this round's communication columns zeroed (probe_acc_nocomm), from no
// input (probe_acc_noinput, the constant-predictor floor), and by a separate MLP on the
// observation itself, with and without those columns (probe_acc_sep, probe_acc_sep_nocomm). Each train step first scores the
// probes on the batch just played (argmax prediction vs the other agent's sampled action; the
// Trainer logs the mean since the last evaluation as train/probe_acc*/agent<i>), then, after the
// policy update, recomputes the trunk on the same observations without gradient and makes one
// Adam step (train.lr x agents.probe_lr_scale) on the sum of the five cross-entropies. The
// probes draw no random numbers from the policy's streams and no gradient reaches the policy:
// the policy is the same with the probe on or off. Evaluations score them on the evaluation
// episodes (probe_acc*/agent<i>).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include "algorithms/algorithm.h"
#include "algorithms/cic_probe.h"
#include "agents/action_probe.h"
#include "agents/fused_adam.h"
#include "agents/markov_nets.h"
#include "envs/markov_game.h"

namespace emcomm {

class MatrixGame;


// agents.baseline: what is subtracted from G.
//   state      - V(s) of the step, detached in the policy terms; V regresses to G (ours).
//   batch_mean - the released models.py: its `(rews - V)` puts a [B] return against a [B, 1]
//                value, and the mean over that [B, B] table is what it optimises. For each kind
//                of step k (acting, speaking), with mask M_k, n_k = sum M_k:
//                  Vbar_k    = sum M_k V / n_k                       (undetached)
//                  L_action  = -sum M_act (G - Vbar_act) log pi(a) / B  (and L_message alike)
//                  L_value_k = sum_i sum_j M_k,i M_k,j (G_j - V_i)^2 / (B n_k)
//                so the effective baseline is one constant per batch, the policy terms move V
//                through Vbar, and every V regresses to the batch-mean return (n_k = B in the
//                matrix games: each agent speaks once and acts once per episode).
enum class Baseline { State, BatchMean };

struct ReinforceCoefs {
  double message = 0.1, entropy = 0.01, value = 0.1;
  bool train_message = true;
  Baseline baseline = Baseline::State;
};

struct ReinforceTerms {
  torch::Tensor action, message, entropy_action, entropy_message, value, total;  // scalars
};

// One agent's loss over T decision steps of B episodes; every input is [T, B] (masks 0/1 float).
ReinforceTerms reinforce_loss(const torch::Tensor& logp_action, const torch::Tensor& entropy_action,
                              const torch::Tensor& act_mask, const torch::Tensor& logp_message,
                              const torch::Tensor& entropy_message, const torch::Tensor& speak_mask,
                              const torch::Tensor& value, const torch::Tensor& ret, const ReinforceCoefs& coefs);

// reinforce_loss's total and value term over one agent's T x B steps, and the total's gradient
// with respect to the agent's outputs, computed in one pass over the logits instead of a graph of
// small ops (train_step's update: the gradients then go back through the networks alone). The
// logits are [T B, F, K] and [T B, L, V] (step-major; undefined when the agent never acts /
// speaks), the choices [T, B, F] and [T, B, L] (int64; any layout of that order), masks, value and
// return [T, B]; log pi and the entropy of each step are summed over factors (positions), as
// train_step feeds reinforce_loss.
struct ReinforceGrad {
  torch::Tensor action_logits, message_logits, value;  // d total / d input, shaped as the inputs
  double total = 0, value_loss = 0;                     // ReinforceTerms::total and ::value
};
ReinforceGrad reinforce_loss_grad(const torch::Tensor& action_logits, const torch::Tensor& actions,
                                  const torch::Tensor& act_mask, const torch::Tensor& message_logits,
                                  const torch::Tensor& messages, const torch::Tensor& speak_mask,
                                  const torch::Tensor& value, const torch::Tensor& ret, const ReinforceCoefs& coefs);

// One step's choices of one head (an agent's action factors or message positions), written into
// the step's actions [B, N, F] or messages [B, N, L] (int64, contiguous).
struct PolicyHead {
  torch::Tensor logits;  // [B, F, K] (or [B, L, V])
  int64_t* out;          // the agent's first slot of episode 0 in that tensor
  int64_t stride;        // slots per episode in that tensor (N F or N L)
};

// Samples (or takes the argmax of) every head. Sampling draws what torch::multinomial(softmax(logits)
// .reshape({B * F, K}), 1, false, gen) called head by head draws: LibTorch 1.13's path without
// replacement takes argmax_k p_k / q_k with q ~ Exp(1), one number per element in row-major order,
// so one exponential_ over the elements of all heads gives the same numbers in the same order;
// the softmax, p / q and the argmax run in one loop, without that call's dozen small ops per head
// (the probabilities may differ from torch::softmax's in the last bit). Greedy: the argmax of the
// logits.
void choose_heads(const std::vector<PolicyHead>& heads, bool greedy, at::Generator& gen);

class Reinforce : public Algorithm {
 public:
  struct Options {
    int64_t hidden = 40, batch_size = 64, eval_size = 1000, log_rows = 100;
    int64_t mi_batch = 0;  // eval.mi_batch, resolved (MarkovLogOptions::mi_batch)
    bool separate_message_net = false, eval_sample = false;
    bool action_probe = false;    // agents.action_probe
    double probe_lr_scale = 5.0;  // agents.probe_lr_scale: the probes' Adam runs at lr x this
    double lr = 5e-3;
    ReinforceCoefs coefs;
    CicProbeOptions cic;
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();

  Reinforce(const Options& opt, std::shared_ptr<MarkovGame> game, Rng rng);
  Metrics train_step(int64_t step) override;
  Metrics evaluate(int64_t step, RunWriter& log) override;
  void save(const std::string& path) override;
  std::string headline() const override { return "reward/mean"; }
  bool resumable() const override { return true; }
  void save_state(torch::serialize::OutputArchive& ar) override;
  void load_state(torch::serialize::InputArchive& ar) override;
  std::string nonfinite_parameter() override;

  // Episodes played to the end. Per step t (before it) and agent i: the state, outputs, and the
  // chosen actions [B, N, F] and messages [B, N, L]; rewards [T, B, N].
  struct Rollout {
    std::vector<MarkovState> states;                 // T + 1 (the last one is done)
    std::vector<std::vector<PolicyOutput>> out;      // [T][N]
    std::vector<torch::Tensor> actions, messages;    // T
    torch::Tensor rewards;                           // [T, B, N]
    int64_t steps() const { return int64_t(actions.size()); }
  };
  Rollout play(int64_t batch, bool eval, bool greedy, Rng& rng);
  McgAgent& agent(int64_t i) { return agents_[i]; }
  MarkovGame& game() { return *game_; }
  // Agent i's action probe (agents.action_probe=true only).
  ActionProbe& probe(int64_t i) { return probes_.at(i); }
  // w_norm/{payoff,comm,memory}/agent<i> of the current weights (empty unless a matrix game).
  Metrics first_layer_norms();

 private:
  Options opt_;
  std::shared_ptr<MarkovGame> game_;
  int64_t N_, F_, L_;
  Rng episode_rng_, eval_rng_, cic_rng_;
  at::Generator gen_;
  std::vector<McgAgent> agents_;
  std::vector<std::unique_ptr<FusedAdam>> opts_;
  MatrixGame* matrix_ = nullptr;  // game_ when it is a matrix game (the observation's layout)
  std::vector<ActionProbe> probes_;
  std::vector<std::unique_ptr<FusedAdam>> probe_opts_;

  // `obs` [B, D] with this round's communication columns set to 0.
  torch::Tensor without_comm(const torch::Tensor& obs) const;
  // The probes' accuracies on rollout r's acting step (probe_acc*/agent<i>).
  Metrics probe_accuracy(const Rollout& r);
  // One Adam step of every probe on rollout r's acting step.
  void train_probes(const Rollout& r);
};

}  // namespace emcomm
