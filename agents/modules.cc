#include "agents/modules.h"

#include <torch/torch.h>

#include <cmath>

#include "core/errors.h"

namespace emcomm {

Activation parse_activation(const std::string& name) {
  if (name == "none") return Activation::None;
  if (name == "relu") return Activation::Relu;
  if (name == "tanh") return Activation::Tanh;
  throw UserError("activation '" + name + "': expected one of none|relu|tanh");
}

torch::Tensor activate(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::Relu: return torch::relu(x);
    case Activation::Tanh: return torch::tanh(x);
    case Activation::None: break;
  }
  return x;
}

SpeakerImpl::SpeakerImpl(int64_t input_dim, int64_t hidden, ChannelSpec channel, Activation act)
    : channel_(channel), act_(act) {
  l1_ = register_module("l1", torch::nn::Linear(input_dim, hidden));
  l2_ = register_module("l2", torch::nn::Linear(hidden, channel.max_len * channel.vocab_size));
}

torch::Tensor SpeakerImpl::forward(const torch::Tensor& input) {
  return l2_(activate(l1_(input), act_)).view({input.size(0), channel_.max_len, channel_.vocab_size});
}

ChannelOutput SpeakerImpl::speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) {
  return emit(forward(input), relax, tau, channel_, gen);
}

ListenerImpl::ListenerImpl(ChannelSpec channel, int64_t hidden, ReceiverSpec task, Activation act, int64_t embed)
    : task_(task), act_(act) {
  const int64_t in = channel.max_len * channel.vocab_size;
  l1_ = register_module("l1", torch::nn::Linear(in, hidden));
  if (task.kind == ReceiverSpec::Kind::Reconstruct) {
    l2_ = register_module("l2", torch::nn::Linear(hidden, task.attributes * task.values));
  } else {
    l2_ = register_module("l2", torch::nn::Linear(hidden, embed));
    cand_ = register_module("cand", torch::nn::Linear(task.candidate_dim, embed));
  }
}

torch::Tensor ListenerImpl::forward(const torch::Tensor& message_onehots, const torch::Tensor& candidates) {
  const int64_t B = message_onehots.size(0);
  auto h = l2_(activate(l1_(message_onehots.reshape({B, -1})), act_));
  if (task_.kind == ReceiverSpec::Kind::Reconstruct) return h.view({B, task_.attributes, task_.values});
  EMCOMM_CHECK(candidates.defined(), "discrimination listener needs candidates");
  auto c = cand_(candidates);                     // [B, C, E]
  return torch::bmm(c, h.unsqueeze(2)).squeeze(2);  // [B, C]
}

torch::Tensor SpeakerAgentImpl::policy_logits(const torch::Tensor&) {
  throw std::logic_error("policy_logits: this speaker is autoregressive; its positions have no independent policy");
}

namespace {

// Returns whether m was a Linear layer (and re-initialised it).
bool init_linear(torch::nn::Module& m, at::Generator& gen) {
  auto* lin = dynamic_cast<torch::nn::LinearImpl*>(&m);
  if (!lin) return false;
  double bound = 1.0 / std::sqrt(double(lin->weight.size(1)));
  lin->weight.uniform_(-bound, bound, gen);
  if (lin->bias.defined()) lin->bias.uniform_(-bound, bound, gen);
  return true;
}

void init_all_parameters(torch::nn::Module& m, double bound, at::Generator& gen) {
  for (auto& p : m.parameters(/*recurse=*/false)) p.uniform_(-bound, bound, gen);
}

}  // namespace

void init_linear_layers(torch::nn::Module& module, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/true)) init_linear(*m, gen);
}

void init_layers(torch::nn::Module& module, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (init_linear(*m, gen)) continue;
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m.get()))
      init_all_parameters(*conv, 1.0 / std::sqrt(double(conv->weight[0].numel())), gen);
    else if (auto* gru = dynamic_cast<torch::nn::GRUImpl*>(m.get()))
      init_all_parameters(*gru, 1.0 / std::sqrt(double(gru->options.hidden_size())), gen);
    else if (auto* cell = dynamic_cast<torch::nn::GRUCellImpl*>(m.get()))
      init_all_parameters(*cell, 1.0 / std::sqrt(double(cell->options.hidden_size())), gen);
  }
}

}  // namespace emcomm
