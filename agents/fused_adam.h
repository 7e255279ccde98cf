// FusedAdam: torch::optim::Adam with the same options, state and checkpoint format, whose step
// updates each dense float32 parameter in one pass over (p, grad, exp_avg, exp_avg_sq) instead
// of LibTorch's seven tensor operations and a temporary per parameter. At the paper's S2P
// population (P = 50, 21 M parameters) LibTorch's Adam took half of a self-play step
// (docs/PERFORMANCE.md). The arithmetic is Adam's (Kingma & Ba, as torch::optim::Adam computes
// it: denom = sqrt(v) / sqrt(1 - b2^t) + eps, p -= lr / (1 - b1^t) * m / denom); results differ
// from LibTorch's by float rounding only. Parameters it cannot fuse (amsgrad, sparse or
// non-float or non-contiguous tensors) go through torch::optim::Adam::step unchanged.
#pragma once

#include <torch/optim/adam.h>

#include <string>

namespace emcomm {

// The key torch::optim::Adam (and FusedAdam) files a parameter's state under.
std::string adam_state_key(const torch::Tensor& p);
// p's Adam state in `opt`, or nullptr before p's first step.
torch::optim::AdamParamState* adam_state(torch::optim::Adam& opt, const torch::Tensor& p);

class FusedAdam : public torch::optim::Adam {
 public:
  using torch::optim::Adam::Adam;
  torch::Tensor step(LossClosure closure = nullptr) override;
  // Splits each large parameter's pass over this many threads of its own (LibTorch's intra-op
  // pool stays as run.threads leaves it); elementwise, so the same results with any count.
  void set_threads(int threads) { threads_ = threads; }

 private:
  int threads_ = 1;
};

}  // namespace emcomm
