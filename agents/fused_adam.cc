#include "agents/fused_adam.h"

#include <ATen/Parallel.h>
#include <c10/util/string_utils.h>

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace emcomm {

namespace {

bool fusable(const torch::Tensor& p, const torch::optim::AdamOptions& o) {
  const auto& g = p.grad();
  return !o.amsgrad() && p.scalar_type() == torch::kFloat32 && g.scalar_type() == torch::kFloat32 &&
         !g.is_sparse() && p.is_contiguous() && g.is_contiguous() && p.device().is_cpu();
}

// One pass of Adam over n floats. Elementwise, so the result does not depend on how
// at::parallel_for splits the range (same results with run.threads=1 or 2).
void adam_pass(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
               int64_t n, float b1, float omb1, float b2, float omb2, float wd, float step_size,
               float sqrt_bc2, float eps, int threads) {
  auto range = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
      const float mi = m[i] * b1 + gi * omb1;
      const float vi = v[i] * b2 + omb2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= step_size * mi / (std::sqrt(vi) / sqrt_bc2 + eps);
    }
  };
  constexpr int64_t kPerThread = 1 << 17;  // below this a thread costs more than it saves
  const int64_t parts = std::min<int64_t>(threads, n / kPerThread);
  if (parts < 2) {
    at::parallel_for(0, n, 1 << 16, range);
    return;
  }
  run_on_threads(parts, [&](int64_t k) { range(n * k / parts, n * (k + 1) / parts); });
}

}  // namespace

std::string adam_state_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

torch::optim::AdamParamState* adam_state(torch::optim::Adam& opt, const torch::Tensor& p) {
  auto it = opt.state().find(adam_state_key(p));
  return it == opt.state().end() ? nullptr : static_cast<torch::optim::AdamParamState*>(it->second.get());
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = {};
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  bool all_fusable = true;
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params())
      if (p.grad().defined() && !fusable(p, o)) all_fusable = false;
  }
  if (!all_fusable) {  // LibTorch's own step for everything (the closure already ran)
    torch::optim::Adam::step(nullptr);
    return loss;
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const std::string key = adam_state_key(p);
      auto it = state_.find(key);
      if (it == state_.end()) {  // the same lazily made state as torch::optim::Adam's
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
      s.step(s.step() + 1);
      const double bc1 = 1 - std::pow(beta1, double(s.step())), bc2 = 1 - std::pow(beta2, double(s.step()));
      TORCH_CHECK(s.exp_avg().is_contiguous() && s.exp_avg_sq().is_contiguous(), "FusedAdam: non-contiguous state");
      adam_pass(p.data_ptr<float>(), p.grad().data_ptr<float>(), s.exp_avg().data_ptr<float>(),
                s.exp_avg_sq().data_ptr<float>(), p.numel(), float(beta1), float(1 - beta1), float(beta2),
                float(1 - beta2), float(o.weight_decay()), float(o.lr() / bc1), float(std::sqrt(bc2)),
                float(o.eps()), threads_);
      // Writes through data_ptr do not count as in-place operations: bump the version counters
      // so that caches keyed on them (agents/population.cc CollapseCache) see the change.
      p.unsafeGetTensorImpl()->bump_version();
      s.exp_avg().unsafeGetTensorImpl()->bump_version();
      s.exp_avg_sq().unsafeGetTensorImpl()->bump_version();
    }
  }
  return loss;
}

}  // namespace emcomm
