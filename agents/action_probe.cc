#include "agents/action_probe.h"

#include <torch/torch.h>

#include "core/errors.h"

namespace emcomm {

ActionProbeImpl::ActionProbeImpl(int64_t hidden, int64_t n_actions, int64_t obs_dim) {
  full_ = register_module("full", torch::nn::Linear(hidden, n_actions));
  nocomm_ = register_module("nocomm", torch::nn::Linear(hidden, n_actions));
  prior_ = register_parameter("noinput", torch::zeros({n_actions}));
  sep1_ = register_module("sep1", torch::nn::Linear(obs_dim, hidden));
  sep2_ = register_module("sep2", torch::nn::Linear(hidden, hidden));
  sep_out_ = register_module("sep_out", torch::nn::Linear(hidden, n_actions));
  nsep1_ = register_module("sep_nocomm1", torch::nn::Linear(obs_dim, hidden));
  nsep2_ = register_module("sep_nocomm2", torch::nn::Linear(hidden, hidden));
  nsep_out_ = register_module("sep_nocomm_out", torch::nn::Linear(hidden, n_actions));
}

ProbeLogits ActionProbeImpl::forward(const torch::Tensor& h, const torch::Tensor& h_nocomm, const torch::Tensor& obs,
                                     const torch::Tensor& obs_nocomm) {
  ProbeLogits p;
  p.full = full_(h);
  p.nocomm = nocomm_(h_nocomm);
  p.noinput = prior_.unsqueeze(0).expand({h.size(0), prior_.size(0)});
  p.sep = sep_out_(torch::relu(sep2_(torch::relu(sep1_(obs)))));
  p.sep_nocomm = nsep_out_(torch::relu(nsep2_(torch::relu(nsep1_(obs_nocomm)))));
  return p;
}

double column_block_norm(const torch::Tensor& weight, int64_t begin, int64_t end) {
  EMCOMM_CHECK(weight.dim() == 2 && 0 <= begin && begin <= end && end <= weight.size(1),
               "column block [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside a weight of " +
                   std::to_string(weight.size(1)) + " columns");
  if (begin == end) return 0.0;
  torch::NoGradGuard no_grad;
  return weight.narrow(1, begin, end - begin).to(torch::kFloat64).norm().item<double>();
}

}  // namespace emcomm
