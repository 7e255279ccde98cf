// LibTorch modules for one-shot signaling games: the reference linear speaker and
// listeners of the S2P Lewis game (REFERENCE.md), with an optional hidden activation.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "agents/agent.h"
#include "agents/channel.h"
#include "envs/env.h"

namespace emcomm {

enum class Activation { None, Relu, Tanh };
Activation parse_activation(const std::string& name);  // none|relu|tanh
torch::Tensor activate(const torch::Tensor& x, Activation a);

// input [B, Din] -> Linear(Din, hidden) -> act -> Linear(hidden, max_len * vocab) -> [B, L, V].
class SpeakerImpl : public SpeakerAgentImpl {
 public:
  SpeakerImpl(int64_t input_dim, int64_t hidden, ChannelSpec channel, Activation act);
  torch::Tensor forward(const torch::Tensor& input);
  ChannelOutput speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) override;
  torch::Tensor teacher_logits(const torch::Tensor& input, const torch::Tensor&) override { return forward(input); }
  bool autoregressive() const override { return false; }
  torch::Tensor policy_logits(const torch::Tensor& input) override { return forward(input); }
  const ChannelSpec& channel() const { return channel_; }

 private:
  torch::nn::Linear l1_{nullptr}, l2_{nullptr};
  ChannelSpec channel_;
  Activation act_;
};
TORCH_MODULE(Speaker);

// Reads the flattened message one-hots [B, L*V].
// Reconstruct: -> Linear(L*V, hidden) -> act -> Linear(hidden, A*V) -> [B, A, V] logits.
// Discriminate: the message embedding (Linear, act, Linear to `embed`) dotted with each
// candidate's embedding (Linear(candidate_dim, embed)) -> [B, C] scores.
class ListenerImpl : public ListenerAgentImpl {
 public:
  ListenerImpl(ChannelSpec channel, int64_t hidden, ReceiverSpec task, Activation act, int64_t embed = 50);
  torch::Tensor forward(const torch::Tensor& message_onehots, const torch::Tensor& candidates = {}) override;

 private:
  torch::nn::Linear l1_{nullptr}, l2_{nullptr}, cand_{nullptr};
  ReceiverSpec task_;
  Activation act_;
};
TORCH_MODULE(Listener);

// Re-initialises every Linear layer from `gen` (weights and biases uniform in
// +-1/sqrt(fan_in), PyTorch's default scale), so initial parameters depend on the run seed
// only, never on a global generator.
void init_linear_layers(torch::nn::Module& module, at::Generator& gen);

// As init_linear_layers, and also the Conv2d, GRU and GRUCell layers (PyTorch's default scales:
// +-1/sqrt(fan_in) for convolutions, +-1/sqrt(hidden_size) for recurrent layers).
void init_layers(torch::nn::Module& module, at::Generator& gen);

}  // namespace emcomm
