// The MarkovGame interface (DESIGN.md section 3): N agents, B independent episodes at once.
// Each env step every agent may send a message and/or take an action; the env says which
// through the masks of the state it returns, so a protocol such as "a random agent speaks
// first, then the other, then both act" is a sequence of steps with per-episode masks.
//
// Conventions (docs/matrix-games.md):
// * observations: one float tensor [B, D_i] per agent, D_i = agent_spec(i).obs_dim;
// * actions: int64 [B, N, F] with F = max over agents of action_factors (entries of agents that
//   do not act this step, or beyond their own F, are ignored);
// * messages: int64 [B, N, L] with L = max over agents of msg_len, symbols 0..vocab_size-1
//   (fixed length, no EOS; entries of agents that do not speak are ignored);
// * a step's reward [B, N] is what each agent received by that step; every episode of a batch
//   has the same number of steps, the last state has done = true everywhere.
// * soft actions (step_soft, for MADDPG): float [B, N, FK] with FK = max over agents of
//   action_factors * action_values (agent i's F_i distributions over K_i values, back to back),
//   and soft messages float [B, N, LV] with LV = max over agents of msg_len * vocab_size. Games
//   with a continuous action/channel (particle worlds) use the vectors themselves; the default
//   takes the argmax of every factor and position and calls step().
// All randomness of an episode (payoffs, turn order, channel noise) comes from the Rng given to
// reset()/step(): the env keeps no generator of its own for episodes.
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "envs/env.h"

namespace emcomm {

struct AgentSpec {
  int64_t obs_dim = 0;
  int64_t action_factors = 1;  // F: the action is F discrete choices (0: the agent never acts)
  int64_t action_values = 2;   // K: choices per factor
  int64_t vocab_size = 0;      // V: symbols of its messages (0: the agent never speaks)
  int64_t msg_len = 1;         // L: symbols per message
};

// What the agents see before a step, and what the step that led here gave.
struct MarkovState {
  std::vector<torch::Tensor> obs;  // per agent [B, D_i] float32
  torch::Tensor speaks;            // [B, N] bool: the agent sends a message at this step
  torch::Tensor acts;              // [B, N] bool: the agent takes an action at this step
  torch::Tensor reward;            // [B, N] float32: rewards of the step that led here (0 after reset)
  torch::Tensor done;              // [B] bool
  bool all_done() const { return done.all().item<bool>(); }
};

class MarkovGame : public Env {
 public:
  virtual int64_t num_agents() const = 0;
  virtual AgentSpec agent_spec(int64_t agent) const = 0;
  // Starts B training episodes.
  virtual MarkovState reset(int64_t batch, Rng& rng) = 0;
  // Starts B evaluation episodes (games with held-out data use it; default: reset).
  virtual MarkovState reset_eval(int64_t batch, Rng& rng) { return reset(batch, rng); }
  virtual MarkovState step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) = 0;
  // Soft (relaxed) actions and messages, see above. Default: argmax per factor/position -> step().
  virtual MarkovState step_soft(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) {
    const int64_t N = num_agents(), B = actions.size(0);
    int64_t F = 1, L = 1;
    for (int64_t i = 0; i < N; ++i) {
      F = std::max(F, agent_spec(i).action_factors);
      L = std::max(L, agent_spec(i).msg_len);
    }
    auto a = torch::zeros({B, N, F}, torch::kInt64), m = torch::zeros({B, N, L}, torch::kInt64);
    for (int64_t i = 0; i < N; ++i) {
      const AgentSpec s = agent_spec(i);
      if (s.action_factors > 0)
        a.select(1, i).narrow(1, 0, s.action_factors)
            .copy_(actions.select(1, i).narrow(1, 0, s.action_factors * s.action_values)
                       .reshape({B, s.action_factors, s.action_values}).argmax(-1));
      if (s.vocab_size > 0)
        m.select(1, i).narrow(1, 0, s.msg_len)
            .copy_(messages.select(1, i).narrow(1, 0, s.msg_len * s.vocab_size)
                       .reshape({B, s.msg_len, s.vocab_size}).argmax(-1));
    }
    return step(a, m, rng);
  }
  // `obs` [R, D_listener] with the part that holds what `listener` heard from `speaker`
  // replaced by `symbols` [R, L_speaker] (the counterfactual of the CIC probe).
  virtual torch::Tensor impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                                       const torch::Tensor& symbols) const = 0;
  // Whether `listener` hears `speaker`'s messages.
  virtual bool hears(int64_t listener, int64_t speaker) const { return listener != speaker; }

  // Agents whose answer to what they hear is a message, not an env action (simple_crypto's Bob and
  // Eve guess the goal by what they say): evaluation rows take that message as the receiver's
  // action. Default: none.
  virtual bool answers_by_message(int64_t agent) const { return false; }
  // What the speakers' messages should convey in episode b of the last reset (the rows' target;
  // simple_crypto: the goal), or -1 when the game does not say. Default: -1.
  virtual int64_t meaning(int64_t episode) const { return -1; }
  // The rows' target for episode b: one value (default: meaning(b)) or several, the same number
  // for every episode (a signaling game through the adapter: the object's A attribute values in
  // reconstruction, the target's candidate index in discrimination).
  virtual std::vector<int32_t> target_of(int64_t episode) const { return {int32_t(meaning(episode))}; }
  // The speaker's symbolic input in episode b (the rows' concept, which topsim, posdis, bosdis and
  // mi_concept read), the same width for every episode, or empty when the game has none. Default: none.
  virtual std::vector<int32_t> concept_of(int64_t episode) const { return {}; }

  // Teams of mixed cooperative-competitive games: whether agent i plays on the adversary side (a
  // trainer may give each side its own algorithm). Default: nobody is.
  virtual bool is_adversary(int64_t agent) const { return false; }
  // Whether every agent's reward is already the sum over all agents (cooperative games, as the
  // particle worlds' reference); false: each agent gets its own (or the game does not say).
  virtual bool shared_reward() const { return false; }
  // The game's own per-episode figures, name -> one value per episode of the batch, for the
  // episodes of the last reset(): call it after an episode's last step for that episode's figures
  // (each game documents whether a figure is a mean over the steps done, a sum over them, or a
  // test of the current state). The figure of a batch is the mean over its episodes. Default: none.
  using EpisodeFigures = std::vector<std::pair<std::string, std::vector<double>>>;
  virtual EpisodeFigures episode_figures() const { return {}; }
  // The figure a learner's progress line shows ("" = the learner's own reward figure).
  virtual std::string headline_figure() const { return ""; }
  // True when `done` only marks a time limit (learners with a critic bootstrap through it).
  virtual bool time_limit_only() const { return false; }
};

}  // namespace emcomm
