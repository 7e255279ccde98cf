#include "agents/population.h"

#include <torch/torch.h>

#include <cmath>

#include "core/errors.h"

namespace emcomm {

StackedLinearImpl::StackedLinearImpl(int64_t members, int64_t in, int64_t out) {
  // Zeros until reset(gen): initial values come from the run's generator, never a global one.
  weight = register_parameter("weight", torch::zeros({members, in, out}));
  bias = register_parameter("bias", torch::zeros({members, 1, out}));
}

torch::Tensor StackedLinearImpl::forward(const torch::Tensor& x) { return torch::baddbmm(bias, x, weight); }

torch::Tensor StackedLinearImpl::forward_member(int64_t p, const torch::Tensor& x) {
  return torch::addmm(bias[p], x, weight[p]);
}

torch::Tensor StackedLinearImpl::forward_range(int64_t first, int64_t count, const torch::Tensor& x) {
  return torch::baddbmm(bias.narrow(0, first, count), x, weight.narrow(0, first, count));
}

void StackedLinearImpl::reset(at::Generator& gen) {
  torch::NoGradGuard no_grad;
  double bound = 1.0 / std::sqrt(double(weight.size(1)));
  weight.uniform_(-bound, bound, gen);
  bias.uniform_(-bound, bound, gen);
}

void init_stacked_layers(torch::nn::Module& module, at::Generator& gen) {
  for (auto& m : module.modules(/*include_self=*/true))
    if (auto* lin = dynamic_cast<StackedLinearImpl*>(m.get())) lin->reset(gen);
}

PopSpeakerImpl::PopSpeakerImpl(int64_t members, int64_t input_dim, int64_t hidden, ChannelSpec channel,
                               Activation act)
    : members_(members), channel_(channel), act_(act) {
  l1_ = register_module("l1", StackedLinear(members, input_dim, hidden));
  l2_ = register_module("l2", StackedLinear(members, hidden, channel.max_len * channel.vocab_size));
}

torch::Tensor PopSpeakerImpl::forward(const torch::Tensor& input) {
  EMCOMM_CHECK(input.dim() == 3 && input.size(0) == members_, "speaker input must be [P, B, D]");
  return l2_(activate(l1_(input), act_)).view({members_, input.size(1), channel_.max_len, channel_.vocab_size});
}

torch::Tensor PopSpeakerImpl::forward_member(int64_t p, const torch::Tensor& input) {
  auto h = l2_->forward_member(p, activate(l1_->forward_member(p, input), act_));
  return h.view({input.size(0), channel_.max_len, channel_.vocab_size});
}

// [B, Din] shared by the members -> [P, B, Din].
static torch::Tensor for_members(int64_t P, const torch::Tensor& input) {
  return input.unsqueeze(0).expand({P, input.size(0), input.size(1)});
}

ChannelOutput PopSpeakerImpl::speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) {
  auto logits = forward(for_members(members_, input));
  return emit(logits.view({-1, channel_.max_len, channel_.vocab_size}), relax, tau, channel_, gen);
}

torch::Tensor PopSpeakerImpl::teacher_logits(const torch::Tensor& input, const torch::Tensor&) {
  return forward(for_members(members_, input));
}

torch::Tensor SpeakerPopulationImpl::member_logits(int64_t, const torch::Tensor&) {
  throw std::logic_error("member_logits: this speaker is autoregressive; its positions have no independent policy");
}

torch::Tensor ListenerPopulationImpl::forward_range(int64_t first, int64_t count, const torch::Tensor& onehots,
                                                   const torch::Tensor& candidates) {
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(forward_member(first + i, onehots[i], candidates));
  return torch::stack(out);
}

PopListenerImpl::PopListenerImpl(int64_t members, ChannelSpec channel, int64_t hidden, ReceiverSpec task,
                                 Activation act, int64_t embed)
    : members_(members), task_(task), act_(act) {
  l1_ = register_module("l1", StackedLinear(members, channel.max_len * channel.vocab_size, hidden));
  if (task.kind == ReceiverSpec::Kind::Reconstruct) {
    l2_ = register_module("l2", StackedLinear(members, hidden, task.attributes * task.values));
  } else {
    l2_ = register_module("l2", StackedLinear(members, hidden, embed));
    cand_ = register_module("cand", StackedLinear(members, task.candidate_dim, embed));
  }
}

torch::Tensor PopListenerImpl::forward(const torch::Tensor& onehots, const torch::Tensor& candidates) {
  EMCOMM_CHECK(onehots.dim() == 4 && onehots.size(0) == members_, "listener input must be [P, B, L, V]");
  const int64_t P = members_, B = onehots.size(1);
  return head(l1_(onehots.reshape({P, B, -1})), candidates);
}

torch::Tensor PopListenerImpl::head(const torch::Tensor& h1, const torch::Tensor& candidates) {
  const int64_t P = members_, B = h1.size(1);
  auto h = l2_(activate(h1, act_));
  if (task_.kind == ReceiverSpec::Kind::Reconstruct) return h.view({P, B, task_.attributes, task_.values});
  EMCOMM_CHECK(candidates.defined(), "discrimination listener needs candidates");
  const int64_t C = candidates.size(1);
  auto c = cand_(candidates.reshape({1, B * C, -1}).expand({P, B * C, candidates.size(2)}));  // [P, B*C, E]
  return torch::bmm(c.view({P * B, C, -1}), h.reshape({P * B, -1, 1})).view({P, B, C});
}

torch::Tensor PopListenerImpl::forward_symbols(const torch::Tensor& symbols, const torch::Tensor& candidates) {
  EMCOMM_CHECK(symbols.dim() == 3 && symbols.size(0) == members_, "listener symbols must be [P, B, L]");
  const int64_t P = members_, B = symbols.size(1), L = symbols.size(2);
  const int64_t in = l1_->weight.size(1), V = in / L, H = l1_->weight.size(2);
  EMCOMM_CHECK(V * L == in, "listener symbols: message length does not match the first layer");
  // Row of member p, position l, symbol v in the [P * L * V, H] view of the first layer.
  auto offset = (torch::arange(P, torch::kInt64) * in).view({P, 1, 1}) + (torch::arange(L, torch::kInt64) * V).view({1, 1, L});
  auto idx = (symbols.to(torch::kInt64) + offset).reshape({-1});
  auto offsets = torch::arange(0, P * B * L, L, torch::kInt64);
  auto bag = std::get<0>(torch::embedding_bag(l1_->weight.reshape({P * in, H}), idx, offsets, /*scale_grad_by_freq=*/false,
                                              /*mode=sum*/ 0));
  return head(bag.view({P, B, H}) + l1_->bias, candidates);
}

torch::Tensor PopListenerImpl::forward_range(int64_t first, int64_t count, const torch::Tensor& onehots,
                                             const torch::Tensor& candidates) {
  EMCOMM_CHECK(onehots.dim() == 4 && onehots.size(0) == count && first >= 0 && first + count <= members_,
               "listener range input must be [count, B, L, V] within the population");
  const int64_t B = onehots.size(1);
  auto h = l2_->forward_range(first, count, activate(l1_->forward_range(first, count, onehots.reshape({count, B, -1})), act_));
  if (task_.kind == ReceiverSpec::Kind::Reconstruct) return h.view({count, B, task_.attributes, task_.values});
  EMCOMM_CHECK(candidates.defined(), "discrimination listener needs candidates");
  const int64_t C = candidates.size(1);
  auto c = cand_->forward_range(first, count, candidates.reshape({1, B * C, -1}).expand({count, B * C, candidates.size(2)}));
  return torch::bmm(c.view({count * B, C, -1}), h.reshape({count * B, -1, 1})).view({count, B, C});
}

torch::Tensor PopListenerImpl::forward_member(int64_t p, const torch::Tensor& onehots,
                                              const torch::Tensor& candidates) {
  const int64_t B = onehots.size(0);
  auto h = l2_->forward_member(p, activate(l1_->forward_member(p, onehots.reshape({B, -1})), act_));
  if (task_.kind == ReceiverSpec::Kind::Reconstruct) return h.view({B, task_.attributes, task_.values});
  EMCOMM_CHECK(candidates.defined(), "discrimination listener needs candidates");
  const int64_t C = candidates.size(1);
  auto c = cand_->forward_member(p, candidates.reshape({B * C, -1})).view({B, C, -1});
  return torch::bmm(c, h.unsqueeze(2)).squeeze(2);
}

}  // namespace emcomm
