// MADDPG and DDPG for MarkovGames (train.algorithm=maddpg; REFERENCE.md "MADDPG", Lowe et al. 2017).
// Per agent: an actor (MLP maddpg.hidden-maddpg.hidden ReLU, linear head, Glorot-uniform weights,
// zero biases) whose logits cover the agent's action factors and message positions, and a critic
// (same MLP, one output) that sees every agent's observation and soft action (centralised), or
// only its own with maddpg.local_critic=true (the DDPG baseline). Teams of mixed games: each side
// its own algorithm, maddpg.good=maddpg|ddpg for the non-adversaries and maddpg.adversary=maddpg|ddpg
// for the adversaries (MarkovGame::is_adversary; ddpg = local critics on that side; maddpg.adversary
// is refused on games without adversaries, and local_critic together with either). Actions and messages are soft
// Gumbel-softmax samples (maddpg.temperature, reference 1) of each factor / position; the same
// soft vectors go to the replay buffer, the critics and the env (MarkovGame::step_soft: particle
// worlds move by u = (a1 - a2, a3 - a4) * 5 and carry the soft message; integer games take the
// argmax).
//
// Schedule (counted in env transitions, one transition = one world's step): maddpg.envs worlds
// are stepped together; a train step plays one episode in each of them (so train.steps x
// maddpg.envs episodes in all). Once the replay holds maddpg.learning_starts transitions, every
// maddpg.update_every transitions each agent makes one update (with 64 worlds: 64 transitions per
// env step, the updates due are made after each env step; the ratio of updates to transitions
// is the reference's). Update of agent i: a batch of maddpg.batch indices drawn uniformly with
// replacement from the (joint) replay, used for every agent's data;
//   y = r_i + gamma (1 - done) Q'_i(x', a'_1..a'_N),  a'_j ~ target actor j (soft Gumbel)
//   critic: MSE(Q_i(x, a), y); actor: -mean Q_i(x, a_1..mu_i(o_i)..a_N) + maddpg.logit_reg mean(logits^2)
// Adam (maddpg.lr) per network, each gradient tensor clipped to norm maddpg.grad_clip, Polyak
// targets with maddpg.tau. done is the game's terminal flag, except at a pure time limit
// (particle worlds): there the reference bootstraps (done stays 0).
//
// Policy inference (maddpg.infer_policies, paper section 4.2): each agent i with a global critic
// fits, for every other agent j, an approximation (MLP like the actor) of j's policy from j's
// observed soft actions in the replay, loss = -log-likelihood - maddpg.infer_entropy x entropy
// (policy_approx_loss), one Adam step on the update's batch before the critic's; the critic's
// target then samples a'_j from the Polyak target of that approximation instead of j's target actor.
//
// Ensembles (maddpg.ensemble = K > 1, the paper's policy ensembles): each agent has K actors; at
// the start of every episode each world draws one sub-policy per agent; the transitions go to the
// replay of the (agent, sub-policy) that acted (N x K replays); updating sub-policy k of agent i
// samples from its own replay, with the other agents' target actions from the sub-policies
// recorded in each transition. Each agent keeps one critic, updated with every sub-policy's batch.
//
// Evaluation: eval.size episodes (soft Gumbel actions as in training; eval.sample=false: the
// softmax of the logits), figures reward (mean episode return of agent 0; cooperative games give
// all agents the same) and reward/agent<i>; the rows, the CIC probe (p_action = softmax of the
// receiver's action logits, p_message = softmax of the sender's message logits) and the figures
// over them come from log_markov_evaluation (algorithms/markov_eval.h), with the argmax symbol
// and action of the soft vectors, and the env's own figures (particle speaker_listener:
// target_reach and target_touch at the last step).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <memory>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/cic_probe.h"
#include "algorithms/markov_eval.h"
#include "agents/markov_nets.h"
#include "envs/markov_game.h"

namespace emcomm {

class Maddpg : public Algorithm {
 public:
  struct Options {
    int64_t envs = 64, hidden = 64, batch = 1024, replay = 1000000, learning_starts = 25600, update_every = 100;
    int64_t ensemble = 1, eval_size = 1000, log_rows = 100, final_episodes = 0;
    double lr = 1e-2, gamma = 0.95, tau = 0.01, grad_clip = 0.5, temperature = 1.0, logit_reg = 1e-3;
    bool local_critic = false, eval_sample = true;
    // Teams (maddpg.good / maddpg.adversary = ddpg): local critics on that side (MarkovGame::is_adversary).
    bool good_local = false, adversary_local = false, adversary_given = false;
    bool infer_policies = false;  // maddpg.infer_policies
    double infer_entropy = 1e-3;  // maddpg.infer_entropy (lambda)
    CicProbeOptions cic;
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();

  Maddpg(const Options& opt, std::shared_ptr<MarkovGame> game, Rng rng);
  Metrics train_step(int64_t step) override;
  Metrics evaluate(int64_t step, RunWriter& log) override;
  // The paper's protocol (eval.final_episodes > 0): the last evaluation's figures plus final/<name>
  // over that many further episodes without learning: reward, reward/agent<i>, reward/sum and the
  // env's own figures (MarkovGame::episode_figures), and final/episodes.
  Metrics final_metrics(const Metrics& last_eval) override;
  void save(const std::string& path) override;
  std::string headline() const override;
  bool resumable() const override { return true; }
  void save_state(torch::serialize::OutputArchive& ar) override;
  void load_state(torch::serialize::InputArchive& ar) override;
  std::string nonfinite_parameter() override;

  int64_t transitions() const { return transitions_; }
  // Policy inference: whether agent i fits an approximation of agent j's policy (infer_policies,
  // i's critic global, j != i); one Adam step of it on j's observations and soft actions (returns
  // the loss); and its soft actions (noise: Gumbel samples at maddpg.temperature; else softmax).
  bool infers(int64_t i, int64_t j) const;
  double fit_approx(int64_t i, int64_t j, const torch::Tensor& obs, const torch::Tensor& actions);
  torch::Tensor approx_act(int64_t i, int64_t j, const torch::Tensor& obs, bool noise, bool target);
  // Transitions held by the replay of agent i's sub-policy k (one shared replay when K = 1).
  int64_t replay_size(int64_t i, int64_t k) { return replay(i, k).size(); }
  // Whether agent i's critic is local (its own observation and action: DDPG) or global.
  bool critic_is_local(int64_t i) const { return local_[i]; }
  // Critic i's input from every agent's observations [B, D_j] and soft actions [B, d_j], and its value [B, 1].
  torch::Tensor critic_input(int64_t i, const std::vector<torch::Tensor>& obs, const std::vector<torch::Tensor>& act) const;
  torch::Tensor critic_value(int64_t i, const std::vector<torch::Tensor>& obs, const std::vector<torch::Tensor>& act) {
    return critics_[i](critic_input(i, obs, act));
  }
  int64_t updates() const { return updates_; }
  // Soft actions of agent i (sub-policy per world `sub` [B] or all 0) at obs [B, D_i]: [B, d_i],
  // and the logits through `logits` when given.
  torch::Tensor act(int64_t i, const torch::Tensor& obs, const std::vector<int64_t>& sub, bool noise,
                    bool target, torch::Tensor* logits = nullptr);

 private:
  struct Layout {  // offsets of agent i's fields in a replay row
    std::vector<int64_t> obs, act, next_obs;
    int64_t reward = 0, done = 0, sub = 0, width = 0;
  };
  void update(int64_t agent, int64_t k, Metrics& m);
  // E evaluation episodes (soft samples unless eval.sample=false), sub-policies drawn into subs.
  MarkovRollout rollout(int64_t E, Rng& rng, std::vector<int64_t>& subs);
  Metrics return_figures(const MarkovRollout& rec) const;  // reward, reward/agent<i>, reward/sum
  JointReplay& replay(int64_t agent, int64_t k) { return replays_[opt_.ensemble == 1 ? 0 : agent * opt_.ensemble + k]; }
  std::vector<int64_t> draw_subs(int64_t worlds, Rng& rng) const;  // [worlds * N]

  Options opt_;
  std::shared_ptr<MarkovGame> game_;
  int64_t N_, FK_ = 1, LV_ = 1;
  std::vector<AgentSpec> spec_;
  std::vector<int64_t> D_, da_, dm_;  // obs dim, soft action width, soft message width
  std::vector<bool> local_;           // critic i is local
  Layout lay_;
  bool time_limit_only_;
  Rng episode_rng_, eval_rng_, sample_rng_, cic_rng_;
  at::Generator gen_;
  std::vector<std::vector<MaddpgMlp>> actors_, target_actors_;  // [N][K]
  std::vector<MaddpgMlp> critics_, target_critics_;
  std::vector<std::vector<std::unique_ptr<torch::optim::Adam>>> actor_opts_;
  std::vector<std::unique_ptr<torch::optim::Adam>> critic_opts_;
  std::vector<JointReplay> replays_;
  // Policy inference: approx_[i][j] = agent i's model of agent j's policy (null where !infers(i, j)).
  std::vector<std::vector<MaddpgMlp>> approx_, target_approx_;
  std::vector<std::vector<std::unique_ptr<torch::optim::Adam>>> approx_opts_;
  int64_t transitions_ = 0, updates_ = 0, due_ = 0;
};

}  // namespace emcomm
