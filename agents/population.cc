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

StackedLinearImpl::StackedLinearImpl(const StackedLinearImpl& of, int64_t first, int64_t count) {
  auto rows = [&](const torch::Tensor& param, const std::string& name) {
    auto leaf = register_parameter(name, param.detach().narrow(0, first, count), param.requires_grad());
    // Defined gradients accumulate in place (autograd's AccumulateGrad outside create_graph).
    if (param.grad().defined()) leaf.mutable_grad() = param.grad().narrow(0, first, count);
    return leaf;
  };
  weight = rows(of.weight, "weight");
  bias = rows(of.bias, "bias");
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

// Linear members (agents.activation=none) are one affine map each: x W1 W2 + (b1 W2 + b2).
// Multiplying the weights first costs in x hidden x out once per call plus rows x out per
// example (rows: the multiply-adds of one input row: in for dense inputs, L for gathered
// symbols), instead of rows x hidden + hidden x out per example: cheaper from a few dozen
// examples on for the reference Lewis agents (60 -> 500 -> 360). The same function and
// gradients up to float rounding; collapse_pays decides per call from the batch size.
static bool collapse_pays(int64_t batch, int64_t rows, int64_t in, int64_t hidden, int64_t out) {
  return double(in) * hidden * out + double(batch) * rows * out < double(batch) * (double(rows) * hidden + double(hidden) * out);
}

// The collapsed map of two stacked linear layers: weight [P, in, out] and bias [P, 1, out].
// Without gradients (evaluation) the product is kept until a parameter changes (the tensors'
// version counters, which optimiser steps and copies advance).
static std::pair<torch::Tensor, torch::Tensor> collapsed(const StackedLinearImpl& a, const StackedLinearImpl& b,
                                                         CollapseCache& cache) {
  if (torch::GradMode::is_enabled()) return {torch::bmm(a.weight, b.weight), torch::baddbmm(b.bias, a.bias, b.weight)};
  const std::vector<int64_t> key = {int64_t(reinterpret_cast<intptr_t>(a.weight.data_ptr())),
                                    int64_t(reinterpret_cast<intptr_t>(b.weight.data_ptr())),
                                    int64_t(a.weight._version()), int64_t(a.bias._version()),
                                    int64_t(b.weight._version()), int64_t(b.bias._version())};
  if (cache.key != key) {
    cache.weight = torch::bmm(a.weight, b.weight);
    cache.bias = torch::baddbmm(b.bias, a.bias, b.weight);
    cache.key = key;
  }
  return {cache.weight, cache.bias};
}

// The column of each one when every row of x [B, D] holds the same number k of ones and zeros
// elsewhere (the Lewis game's concatenated one-hots): [B, k] int64; else undefined. A layer on
// such rows is a sum of k weight rows, gathered instead of multiplied.
static torch::Tensor binary_rows(const torch::Tensor& x) {
  if (x.dim() != 2 || x.size(0) == 0 || x.scalar_type() != torch::kFloat32) return {};
  auto nz = x.ne(0);
  auto counts = nz.sum(1);
  const int64_t k = counts[0].item<int64_t>();
  if (k == 0 || !counts.eq(k).all().item<bool>() || !x.masked_select(nz).eq(1).all().item<bool>()) return {};
  return nz.nonzero().select(1, 1).reshape({x.size(0), k});
}

// Member p's rows idx[p, b, :] of table [P, rows, cols], summed: [P, B, cols].
static torch::Tensor gather_member_rows(const torch::Tensor& table, const torch::Tensor& idx) {
  const int64_t P = table.size(0), R = table.size(1), C = table.size(2), B = idx.size(1), k = idx.size(2);
  auto flat = (idx + (torch::arange(P, torch::kInt64) * R).view({P, 1, 1})).reshape({-1});
  auto offsets = torch::arange(0, P * B * k, k, torch::kInt64);
  return std::get<0>(torch::embedding_bag(table.reshape({P * R, C}), flat, offsets, false, 0)).view({P, B, C});
}

// Member p's rows idx[b, :] of table [P, rows, cols] (the same rows for every member), summed: [P, B, cols].
static torch::Tensor gather_rows(const torch::Tensor& table, const torch::Tensor& idx) {
  return gather_member_rows(table, idx.unsqueeze(0).expand({table.size(0), idx.size(0), idx.size(1)}));
}

PopSpeakerImpl::PopSpeakerImpl(int64_t members, int64_t input_dim, int64_t hidden, ChannelSpec channel,
                               Activation act)
    : members_(members), channel_(channel), act_(act) {
  l1_ = register_module("l1", StackedLinear(members, input_dim, hidden));
  l2_ = register_module("l2", StackedLinear(members, hidden, channel.max_len * channel.vocab_size));
}

PopSpeakerImpl::PopSpeakerImpl(const PopSpeakerImpl& of, int64_t first, int64_t count)
    : members_(count), channel_(of.channel_), act_(of.act_) {
  l1_ = register_module("l1", StackedLinear(*of.l1_, first, count));
  l2_ = register_module("l2", StackedLinear(*of.l2_, first, count));
}

std::shared_ptr<PopSpeakerImpl> PopSpeakerImpl::slice(int64_t first, int64_t count) const {
  EMCOMM_CHECK(first >= 0 && count > 0 && first + count <= members_, "speaker slice: members out of range");
  return std::shared_ptr<PopSpeakerImpl>(new PopSpeakerImpl(*this, first, count));
}

torch::Tensor PopSpeakerImpl::forward(const torch::Tensor& input) {
  EMCOMM_CHECK(input.dim() == 3 && input.size(0) == members_, "speaker input must be [P, B, D]");
  const int64_t B = input.size(1), in = input.size(2), H = l1_->weight.size(2), out = l2_->weight.size(2);
  // Inputs shared by the members (an expanded [B, D]) of one-hot blocks are gathered.
  const torch::Tensor ones = input.stride(0) == 0 ? binary_rows(input[0]) : torch::Tensor();
  const int64_t rows = ones.defined() ? ones.size(1) : in;
  auto shape = std::vector<int64_t>{members_, B, channel_.max_len, channel_.vocab_size};
  if (act_ == Activation::None && collapse_pays(B, rows, in, H, out)) {
    auto [w, b] = collapsed(*l1_, *l2_, cache_);
    return (ones.defined() ? gather_rows(w, ones) + b : torch::baddbmm(b, input, w)).view(shape);
  }
  if (ones.defined()) return l2_(activate(gather_rows(l1_->weight, ones) + l1_->bias, act_)).view(shape);
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

std::vector<std::pair<torch::Tensor, int64_t>> PopSpeakerImpl::member_parameters(int64_t p) {
  std::vector<std::pair<torch::Tensor, int64_t>> out;
  for (auto& t : parameters()) out.emplace_back(t, p);  // every parameter is [P, ...]
  return out;
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

PopListenerImpl::PopListenerImpl(const PopListenerImpl& of, int64_t first, int64_t count)
    : members_(count), task_(of.task_), act_(of.act_) {
  l1_ = register_module("l1", StackedLinear(*of.l1_, first, count));
  l2_ = register_module("l2", StackedLinear(*of.l2_, first, count));
  if (of.cand_) cand_ = register_module("cand", StackedLinear(*of.cand_, first, count));
}

std::shared_ptr<PopListenerImpl> PopListenerImpl::slice(int64_t first, int64_t count) const {
  EMCOMM_CHECK(first >= 0 && count > 0 && first + count <= members_, "listener slice: members out of range");
  return std::shared_ptr<PopListenerImpl>(new PopListenerImpl(*this, first, count));
}

torch::Tensor PopListenerImpl::forward(const torch::Tensor& onehots, const torch::Tensor& candidates) {
  EMCOMM_CHECK(onehots.dim() == 4 && onehots.size(0) == members_, "listener input must be [P, B, L, V]");
  const int64_t P = members_, B = onehots.size(1);
  const int64_t in = l1_->weight.size(1), H = l1_->weight.size(2), out = l2_->weight.size(2);
  if (act_ == Activation::None && task_.kind == ReceiverSpec::Kind::Reconstruct && collapse_pays(B, in, in, H, out)) {
    auto [w, b] = collapsed(*l1_, *l2_, cache_);
    return torch::baddbmm(b, onehots.reshape({P, B, -1}), w).view({P, B, task_.attributes, task_.values});
  }
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
  // Rows of position l, symbol v in the [P, L * V, ...] first layer (or collapsed map).
  auto idx = symbols.to(torch::kInt64) + (torch::arange(L, torch::kInt64) * V).view({1, 1, L});
  const int64_t out = l2_->weight.size(2);
  if (act_ == Activation::None && task_.kind == ReceiverSpec::Kind::Reconstruct && collapse_pays(B, L, in, H, out)) {
    auto [w, b] = collapsed(*l1_, *l2_, cache_);  // gather rows of the collapsed map instead
    return (gather_member_rows(w, idx) + b).view({P, B, task_.attributes, task_.values});
  }
  return head(gather_member_rows(l1_->weight, idx) + l1_->bias, candidates);
}

torch::Tensor PopListenerImpl::forward_symbols_range(int64_t first, int64_t count, const torch::Tensor& symbols) {
  EMCOMM_CHECK(task_.kind == ReceiverSpec::Kind::Reconstruct && symbols.dim() == 3 && symbols.size(0) == count &&
                   first >= 0 && first + count <= members_,
               "listener symbols range: a reconstruction listener and [count, B, L] within the population");
  const int64_t B = symbols.size(1), L = symbols.size(2);
  const int64_t in = l1_->weight.size(1), V = in / L, H = l1_->weight.size(2), out = l2_->weight.size(2);
  auto idx = symbols.to(torch::kInt64) + (torch::arange(L, torch::kInt64) * V).view({1, 1, L});
  const std::vector<int64_t> shape = {count, B, task_.attributes, task_.values};
  if (act_ == Activation::None && collapse_pays(B, L, in, H, out)) {
    auto [w, b] = collapsed(*l1_, *l2_, cache_);
    return (gather_member_rows(w.narrow(0, first, count), idx) + b.narrow(0, first, count)).view(shape);
  }
  auto h = gather_member_rows(l1_->weight.narrow(0, first, count), idx) + l1_->bias.narrow(0, first, count);
  return l2_->forward_range(first, count, activate(h, act_)).view(shape);
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
