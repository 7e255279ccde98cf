// Presents any SignalingGame (e.g. the Lewis game) as a two-agent MarkovGame, so MarkovGame
// learners (train.algorithm=reinforce) run on it. Agent 0 is the speaker, agent 1 the listener.
//   step 0: the speaker sees the sender input [Ds] and sends a message of `msg_len` symbols over
//           `vocab_size` (its only move: it never acts); the listener sees its candidates (or
//           nothing) and an empty message slot.
//   step 1: the listener sees [candidates flattened (C*Dr, discrimination only), one-hots of the
//           message (L*V)] and acts: one choice among C candidates (discrimination) or one value
//           per attribute (reconstruction: F = A factors of V values).
// Both agents get the same reward: the fraction of factors right (1/0 in discrimination).
// Image inputs (referential game) are flattened: the learners' MLPs see raw pixels.
// Training episodes come from the train split, evaluation episodes (reset_eval) from val.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "envs/markov_game.h"

namespace emcomm {

class SignalingAdapter : public MarkovGame {
 public:
  SignalingAdapter(std::shared_ptr<SignalingGame> game, int64_t vocab_size, int64_t msg_len);

  std::string name() const override { return game_->name(); }
  int64_t num_agents() const override { return 2; }
  AgentSpec agent_spec(int64_t agent) const override;
  MarkovState reset(int64_t batch, Rng& rng) override { return start(game_->sample(Split::Train, batch, rng)); }
  MarkovState reset_eval(int64_t batch, Rng& rng) override { return start(game_->sample(Split::Val, batch, rng)); }
  MarkovState step(const torch::Tensor& actions, const torch::Tensor& messages, Rng& rng) override;
  torch::Tensor impose_message(int64_t listener, int64_t speaker, const torch::Tensor& obs,
                               const torch::Tensor& symbols) const override;
  bool hears(int64_t listener, int64_t speaker) const override { return listener == 1 && speaker == 0; }
  // acc: 1 for each episode of the last batch the listener solved (every factor right), else 0.
  EpisodeFigures episode_figures() const override;
  // The rows carry what self-play logs for the same game: the object's attributes as concept,
  // the true attribute values (reconstruction) or the target's index (discrimination) as target.
  std::vector<int32_t> target_of(int64_t episode) const override;
  std::vector<int32_t> concept_of(int64_t episode) const override;

  // Starts episodes on a given batch of the game.
  MarkovState start(SignalBatch batch);
  const SignalBatch& batch() const { return batch_; }

 private:
  MarkovState state(const torch::Tensor& message_onehots, const torch::Tensor& reward, int64_t phase) const;
  std::shared_ptr<SignalingGame> game_;
  int64_t V_, L_, cand_dim_ = 0, factors_, values_;
  SignalBatch batch_;
  torch::Tensor last_onehots_;
  int64_t phase_ = 2;
  std::vector<double> solved_;
};

// adapter.vocab_size and adapter.max_len: the channel a signaling game gets when an algorithm
// for Markov games plays it through the adapter.
OptionSet adapter_options();

// The env as a MarkovGame: a Markov game as it is (the adapter options must not be set), a
// signaling game through the adapter; anything else is a UserError naming `algorithm`.
std::shared_ptr<MarkovGame> markov_game_for(std::shared_ptr<Env> env, const Config& cfg, const std::string& algorithm);

}  // namespace emcomm
