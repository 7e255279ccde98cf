// What a trainer sees of its agents: a speaker turns sender inputs into messages, a listener
// turns messages (and candidates) into the game's receiver output. Trainers (algorithms/selfplay,
// algorithms/s2p) hold these interfaces and never know the architecture or the game; the
// factory (agents/factory.h) builds them from the agents.* options and the game.
//
// Two levels:
// * one agent (SpeakerAgentImpl, ListenerAgentImpl): inputs [B, shape...], messages [B, L];
// * a population of P members (SpeakerPopulationImpl, ListenerPopulationImpl): every member
//   sees the same batch; outputs carry the member first ([P*B, ...] member-major for messages,
//   [P, B, ...] for logits and listener outputs).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "agents/channel.h"

namespace emcomm {

class SpeakerAgentImpl : public torch::nn::Module {
 public:
  // A message for each input [B, shape...] under the relaxation (Greedy: argmax).
  virtual ChannelOutput speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) = 0;
  // Logits [B, L, V] of each position given the previous symbols of `symbols` [B, L] (teacher
  // forcing); a non-autoregressive speaker ignores `symbols`.
  virtual torch::Tensor teacher_logits(const torch::Tensor& input, const torch::Tensor& symbols) = 0;
  // True when a position's distribution depends on the symbols drawn before it.
  virtual bool autoregressive() const = 0;
  // Non-autoregressive speakers: the per-position logits [B, L, V] (the CIC probe's policy).
  virtual torch::Tensor policy_logits(const torch::Tensor& input);
};

class ListenerAgentImpl : public torch::nn::Module {
 public:
  // onehots [B, L, V] (zero after EOS), candidates [B, C, shape...] or undefined ->
  // [B, A, V] (reconstruction) or [B, C] scores (discrimination).
  virtual torch::Tensor forward(const torch::Tensor& onehots, const torch::Tensor& candidates = {}) = 0;
};

class SpeakerPopulationImpl : public torch::nn::Module {
 public:
  virtual int64_t members() const = 0;
  virtual bool autoregressive() const = 0;
  // Every member speaks about the same inputs [B, shape...] -> messages [P*B, L] (member-major).
  virtual ChannelOutput speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) = 0;
  // input [B, shape...], symbols [P, B, L] -> logits [P, B, L, V] (teacher forcing).
  virtual torch::Tensor teacher_logits(const torch::Tensor& input, const torch::Tensor& symbols) = 0;
  // Member p's per-position logits [B, L, V] (non-autoregressive speakers only).
  virtual torch::Tensor member_logits(int64_t p, const torch::Tensor& input);
  // Where member p's parameters live: for each parameter tensor holding some of them, the tensor
  // and the row of its first dimension that is member p's (stacked members), or -1 when the whole
  // tensor is member p's (members as modules of their own).
  virtual std::vector<std::pair<torch::Tensor, int64_t>> member_parameters(int64_t p) = 0;
};

class ListenerPopulationImpl : public torch::nn::Module {
 public:
  // onehots [P, B, L, V], candidates [B, C, shape...] shared by all members -> [P, B, ...].
  virtual torch::Tensor forward(const torch::Tensor& onehots, const torch::Tensor& candidates = {}) = 0;
  // Member p alone: onehots [B, L, V] -> [B, ...].
  virtual torch::Tensor forward_member(int64_t p, const torch::Tensor& onehots,
                                       const torch::Tensor& candidates = {}) = 0;
  // Members [first, first + count) at once: onehots [count, B, L, V] -> [count, B, ...]
  // (the default loops over forward_member).
  virtual torch::Tensor forward_range(int64_t first, int64_t count, const torch::Tensor& onehots,
                                      const torch::Tensor& candidates = {});
};

}  // namespace emcomm
