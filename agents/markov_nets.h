// The networks and the replay of the Markov-game learners: the Pitfalls agent (reinforce) and
// MADDPG's actor/critic MLP, Glorot initialisation, MADDPG's soft Gumbel-softmax over action
// factors and message positions, per-tensor gradient clipping, Polyak averaging, and the joint
// replay of MADDPG's transitions.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "envs/markov_game.h"

namespace emcomm {

// The Pitfalls agent (train.algorithm=reinforce): a 2-layer ReLU MLP with action, message and
// value heads; separate_message_net gives the message head its own MLP.
struct PolicyOutput {
  torch::Tensor action_logits;   // [B, F, K], undefined when the agent never acts
  torch::Tensor message_logits;  // [B, L, V], undefined when the agent never speaks
  torch::Tensor value;           // [B]
  torch::Tensor hidden;          // [B, hidden]: the action trunk's last hidden layer (after ReLU)
};

class McgAgentImpl : public torch::nn::Module {
 public:
  McgAgentImpl(const AgentSpec& spec, int64_t hidden, bool separate_message_net);
  PolicyOutput forward(const torch::Tensor& obs);
  // The action trunk's last hidden layer [B, hidden] (what the action and value heads read).
  torch::Tensor trunk(const torch::Tensor& obs);
  // The action trunk's first layer (its weight is [hidden, obs_dim]).
  torch::nn::Linear& first_layer() { return l1_; }
  const AgentSpec& spec() const { return spec_; }

 private:
  AgentSpec spec_;
  bool separate_;
  torch::nn::Linear l1_{nullptr}, l2_{nullptr}, m1_{nullptr}, m2_{nullptr};
  torch::nn::Linear action_{nullptr}, message_{nullptr}, value_{nullptr};
};
TORCH_MODULE(McgAgent);

class MaddpgMlpImpl : public torch::nn::Module {
 public:
  MaddpgMlpImpl(int64_t in, int64_t hidden, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear l1_{nullptr}, l2_{nullptr}, l3_{nullptr};
};
TORCH_MODULE(MaddpgMlp);

// Glorot-uniform weights, zero biases, from `gen`.
void glorot_init(torch::nn::Module& module, at::Generator& gen);

// Soft Gumbel-softmax of `logits` [B, W] split into segments of `segment` values each (every
// action factor / message position): softmax((logits + g) / tau) per segment, g Gumbel noise
// from gen (noise=false: plain softmax).
torch::Tensor gumbel_soft(const torch::Tensor& logits, int64_t segment_a, int64_t n_a, int64_t segment_m,
                          int64_t n_m, double tau, bool noise, at::Generator& gen);

// Policy inference (MADDPG paper section 4.2): the loss of an approximation of another agent's
// policy with logits `logits` [B, W] (segments as gumbel_soft) at that agent's observed soft
// actions `actions` [B, W]: the negative log-likelihood of the observed vector (the cross-entropy
// -sum_v a_v log p_v of each segment, summed over segments; one-hot a gives log p(a)) minus
// entropy_weight times the entropy of p (summed over segments), both averaged over the batch.
torch::Tensor policy_approx_loss(const torch::Tensor& logits, const torch::Tensor& actions, int64_t segment_a,
                                 int64_t n_a, int64_t segment_m, int64_t n_m, double entropy_weight);

// Clips each parameter's gradient to norm `max_norm` (the reference's clip_by_norm per tensor).
void clip_each_grad(const std::vector<torch::Tensor>& params, double max_norm);

// Polyak: target <- (1 - tau) target + tau source.
void polyak_update(torch::nn::Module& target, torch::nn::Module& source, double tau);

// A replay of joint transitions (every agent's observation, soft action, reward, next
// observation, done, sub-policy index) in one ring of float rows.
class JointReplay {
 public:
  JointReplay(int64_t capacity, int64_t width) : cap_(capacity), width_(width) {}
  float* add();  // a row to fill (width floats)
  int64_t size() const { return size_; }
  const float* row(int64_t i) const { return &data_[i * width_]; }
  int64_t width() const { return width_; }
  // For checkpoints: the rows held (size() * width() floats), the ring position, and restoring
  // them (false when they do not fit this replay's capacity and width).
  const std::vector<float>& data() const { return data_; }
  int64_t next() const { return next_; }
  bool restore(int64_t size, int64_t next, std::vector<float> rows);

 private:
  int64_t cap_, width_, size_ = 0, next_ = 0;
  std::vector<float> data_;
};

}  // namespace emcomm
