#include "agents/markov_nets.h"

#include <torch/torch.h>

#include <cmath>

namespace emcomm {

McgAgentImpl::McgAgentImpl(const AgentSpec& spec, int64_t hidden, bool separate_message_net)
    : spec_(spec), separate_(separate_message_net && spec.vocab_size > 0) {
  l1_ = register_module("l1", torch::nn::Linear(spec.obs_dim, hidden));
  l2_ = register_module("l2", torch::nn::Linear(hidden, hidden));
  if (separate_) {
    m1_ = register_module("m1", torch::nn::Linear(spec.obs_dim, hidden));
    m2_ = register_module("m2", torch::nn::Linear(hidden, hidden));
  }
  if (spec.action_factors > 0)
    action_ = register_module("action", torch::nn::Linear(hidden, spec.action_factors * spec.action_values));
  if (spec.vocab_size > 0)
    message_ = register_module("message", torch::nn::Linear(hidden, spec.msg_len * spec.vocab_size));
  value_ = register_module("value", torch::nn::Linear(hidden, 1));
}

torch::Tensor McgAgentImpl::trunk(const torch::Tensor& obs) { return torch::relu(l2_(torch::relu(l1_(obs)))); }

PolicyOutput McgAgentImpl::forward(const torch::Tensor& obs) {
  const int64_t B = obs.size(0);
  auto h = trunk(obs);
  PolicyOutput o;
  o.hidden = h;
  if (action_) o.action_logits = action_(h).view({B, spec_.action_factors, spec_.action_values});
  if (message_) {
    auto hm = separate_ ? torch::relu(m2_(torch::relu(m1_(obs)))) : h;
    o.message_logits = message_(hm).view({B, spec_.msg_len, spec_.vocab_size});
  }
  o.value = value_(h).squeeze(1);
  return o;
}

MaddpgMlpImpl::MaddpgMlpImpl(int64_t in, int64_t hidden, int64_t out) {
  l1_ = register_module("l1", torch::nn::Linear(in, hidden));
  l2_ = register_module("l2", torch::nn::Linear(hidden, hidden));
  l3_ = register_module("l3", torch::nn::Linear(hidden, out));
}

torch::Tensor MaddpgMlpImpl::forward(const torch::Tensor& x) { return l3_(torch::relu(l2_(torch::relu(l1_(x))))); }

void glorot_init(torch::nn::Module& module, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m.get())) {
      const double bound = std::sqrt(6.0 / double(lin->weight.size(0) + lin->weight.size(1)));
      lin->weight.uniform_(-bound, bound, gen);
      if (lin->bias.defined()) lin->bias.zero_();
    }
  }
}

torch::Tensor gumbel_soft(const torch::Tensor& logits, int64_t seg_a, int64_t n_a, int64_t seg_m, int64_t n_m,
                          double tau, bool noise, at::Generator& gen) {
  const int64_t B = logits.size(0);
  auto z = logits;
  if (noise) {
    auto u = torch::empty_like(logits).uniform_(1e-10, 1.0, gen);
    z = logits - torch::log(-torch::log(u));
  }
  std::vector<torch::Tensor> parts;
  if (n_a > 0) parts.push_back(torch::softmax(z.narrow(1, 0, n_a * seg_a).view({B, n_a, seg_a}) / tau, -1).view({B, -1}));
  if (n_m > 0)
    parts.push_back(torch::softmax(z.narrow(1, n_a * seg_a, n_m * seg_m).view({B, n_m, seg_m}) / tau, -1).view({B, -1}));
  return parts.size() == 1 ? parts[0] : torch::cat(parts, 1);
}

torch::Tensor policy_approx_loss(const torch::Tensor& logits, const torch::Tensor& actions, int64_t seg_a, int64_t n_a,
                                 int64_t seg_m, int64_t n_m, double entropy_weight) {
  const int64_t B = logits.size(0);
  auto loss = torch::zeros({}, logits.options());
  auto part = [&](int64_t offset, int64_t n, int64_t seg) {
    if (n == 0) return;
    auto lp = torch::log_softmax(logits.narrow(1, offset, n * seg).view({B, n, seg}), -1);
    auto a = actions.narrow(1, offset, n * seg).view({B, n, seg});
    auto nll = -(a * lp).sum({1, 2});
    auto entropy = -(lp.exp() * lp).sum({1, 2});
    loss = loss + (nll - entropy_weight * entropy).mean();
  };
  part(0, n_a, seg_a);
  part(n_a * seg_a, n_m, seg_m);
  return loss;
}

void clip_each_grad(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    const double n = p.grad().norm().item<double>();
    if (n > max_norm) p.grad().mul_(max_norm / n);
  }
}

void polyak_update(torch::nn::Module& target, torch::nn::Module& source, double tau) {
  torch::NoGradGuard no_grad;
  auto t = target.parameters(), s = source.parameters();
  for (size_t i = 0; i < t.size(); ++i) t[i].mul_(1.0 - tau).add_(s[i], tau);
}

float* JointReplay::add() {
  if (size_ < cap_) {
    data_.resize((size_ + 1) * width_);
    ++size_;
    next_ = size_ % cap_;
    return &data_[(size_ - 1) * width_];
  }
  float* r = &data_[next_ * width_];
  next_ = (next_ + 1) % cap_;
  return r;
}

bool JointReplay::restore(int64_t size, int64_t next, std::vector<float> rows) {
  if (size < 0 || size > cap_ || next < 0 || next >= cap_ || int64_t(rows.size()) != size * width_) return false;
  size_ = size;
  next_ = next;
  data_ = std::move(rows);
  return true;
}

}  // namespace emcomm
