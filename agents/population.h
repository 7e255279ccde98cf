// Populations of P speakers and P listeners with their weights stacked ([P, in, out]), so one
// batched matmul serves every member: P small networks cost about one network's overhead.
// Member p is exactly the architecture of agents/modules.h (Linear -> activation -> Linear);
// P = 1 is a single pair. Inputs and outputs carry a leading member dimension P.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "agents/agent.h"
#include "agents/channel.h"
#include "agents/modules.h"

namespace emcomm {

// P independent affine maps: x [P, B, in] -> [P, B, out].
class StackedLinearImpl : public torch::nn::Module {
 public:
  StackedLinearImpl(int64_t members, int64_t in, int64_t out);
  // Members [first, first + count) of `of`, sharing its memory: the parameters are leaves of
  // their own whose gradients, where of's are defined, accumulate into the same rows of of's
  // (a member-parallel step runs each slice's graph on its own thread; define and zero of's
  // gradients first).
  StackedLinearImpl(const StackedLinearImpl& of, int64_t first, int64_t count);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor forward_member(int64_t p, const torch::Tensor& x);  // member p only: [B, in] -> [B, out]
  // Members [first, first + count): x [count, B, in] -> [count, B, out].
  torch::Tensor forward_range(int64_t first, int64_t count, const torch::Tensor& x);
  // Uniform +-1/sqrt(in) for weights and biases (PyTorch's Linear default scale), from gen.
  void reset(at::Generator& gen);
  torch::Tensor weight, bias;  // [P, in, out], [P, 1, out]
};
TORCH_MODULE(StackedLinear);

// The collapsed weights of a linear member pair kept between evaluation calls (population.cc).
struct CollapseCache {
  std::vector<int64_t> key;
  torch::Tensor weight, bias;
};

class PopSpeakerImpl : public SpeakerPopulationImpl {
 public:
  PopSpeakerImpl(int64_t members, int64_t input_dim, int64_t hidden, ChannelSpec channel, Activation act);
  torch::Tensor forward(const torch::Tensor& input);  // [P, B, Din] -> logits [P, B, L, V]
  torch::Tensor forward_member(int64_t p, const torch::Tensor& input);  // [B, Din] -> [B, L, V]
  int64_t members() const override { return members_; }
  bool autoregressive() const override { return false; }
  ChannelOutput speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) override;
  torch::Tensor teacher_logits(const torch::Tensor& input, const torch::Tensor&) override;
  torch::Tensor member_logits(int64_t p, const torch::Tensor& input) override { return forward_member(p, input); }
  std::vector<std::pair<torch::Tensor, int64_t>> member_parameters(int64_t p) override;
  // Members [first, first + count) as a population of their own (StackedLinearImpl's slice).
  std::shared_ptr<PopSpeakerImpl> slice(int64_t first, int64_t count) const;

 private:
  PopSpeakerImpl(const PopSpeakerImpl& of, int64_t first, int64_t count);
  int64_t members_;
  StackedLinear l1_{nullptr}, l2_{nullptr};
  CollapseCache cache_;
  ChannelSpec channel_;
  Activation act_;
};
TORCH_MODULE(PopSpeaker);

class PopListenerImpl : public ListenerPopulationImpl {
 public:
  PopListenerImpl(int64_t members, ChannelSpec channel, int64_t hidden, ReceiverSpec task, Activation act,
                  int64_t embed = 50);
  // onehots [P, B, L, V], candidates [B, C, Dc] (shared by all members) or undefined ->
  // [P, B, A, V] (reconstruction) or [P, B, C] (discrimination).
  torch::Tensor forward(const torch::Tensor& onehots, const torch::Tensor& candidates = {}) override;
  // Member p alone: onehots [B, L, V], candidates [B, C, Dc] -> [B, A, V] or [B, C].
  torch::Tensor forward_member(int64_t p, const torch::Tensor& onehots, const torch::Tensor& candidates = {}) override;
  torch::Tensor forward_range(int64_t first, int64_t count, const torch::Tensor& onehots,
                              const torch::Tensor& candidates = {}) override;
  // The same as forward(one-hots of symbols) for fixed-length messages (every position counts):
  // symbols [P, B, L] int64 in 0..V-1 -> [P, B, ...]. The first layer on a one-hot input is a
  // sum of L weight rows, so it is gathered (embedding_bag) instead of multiplied: L x hidden
  // additions per message instead of L x V x hidden multiply-adds; gradients flow as usual.
  torch::Tensor forward_symbols(const torch::Tensor& symbols, const torch::Tensor& candidates = {});
  // Members [first, first + count) of a reconstruction listener on symbols [count, B, L].
  torch::Tensor forward_symbols_range(int64_t first, int64_t count, const torch::Tensor& symbols);
  // Members [first, first + count) as a population of their own (StackedLinearImpl's slice).
  std::shared_ptr<PopListenerImpl> slice(int64_t first, int64_t count) const;
  int64_t members() const { return members_; }

 private:
  PopListenerImpl(const PopListenerImpl& of, int64_t first, int64_t count);
  torch::Tensor head(const torch::Tensor& h1, const torch::Tensor& candidates);  // after the first layer
  int64_t members_;
  StackedLinear l1_{nullptr}, l2_{nullptr}, cand_{nullptr};
  CollapseCache cache_;
  ReceiverSpec task_;
  Activation act_;
};
TORCH_MODULE(PopListener);

// Re-initialises every StackedLinear of a module from gen.
void init_stacked_layers(torch::nn::Module& module, at::Generator& gen);

}  // namespace emcomm
