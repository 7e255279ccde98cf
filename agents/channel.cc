#include "agents/channel.h"

#include <torch/torch.h>

#include "core/errors.h"

namespace emcomm {

Relaxation parse_relaxation(const std::string& name) {
  if (name == "gumbel") return Relaxation::Gumbel;
  if (name == "st_gumbel") return Relaxation::StGumbel;
  if (name == "reinforce") return Relaxation::Reinforce;
  if (name == "greedy") return Relaxation::Greedy;
  throw UserError("relaxation '" + name + "': expected one of gumbel|st_gumbel|reinforce|greedy");
}

torch::Tensor message_lengths(const torch::Tensor& symbols, const ChannelSpec& spec) {
  const int64_t B = symbols.size(0), L = symbols.size(1);
  if (!spec.eos) return torch::full({B}, L, torch::kInt64);
  auto is_eos = (symbols == 0).to(torch::kInt64);
  // Positions up to and including the first EOS: cumsum of is_eos shifted by one is 0.
  auto before = (is_eos.cumsum(1) - is_eos) == 0;
  return before.sum(1).to(torch::kInt64);
}

torch::Tensor alive_mask(const torch::Tensor& symbols, const ChannelSpec& spec) {
  auto len = message_lengths(symbols, spec);
  auto pos = torch::arange(symbols.size(1), torch::kInt64).unsqueeze(0);
  return (pos < len.unsqueeze(1)).to(torch::kFloat32);
}

torch::Tensor symbols_for_log(const torch::Tensor& symbols, const ChannelSpec& spec) {
  return symbols.masked_fill(alive_mask(symbols, spec) == 0, -1);
}

torch::Tensor onehots_of(const torch::Tensor& symbols, const ChannelSpec& spec) {
  auto oh = torch::one_hot(symbols.clamp_min(0), spec.vocab_size).to(torch::kFloat32);
  return oh * alive_mask(symbols, spec).unsqueeze(-1);
}

namespace {


// Differentiable "still talking" weight per position for relaxed messages with EOS:
// alive[t] = prod_{s<t} (1 - y_s[EOS]). For hard one-hots it equals alive_mask().
torch::Tensor soft_alive(const torch::Tensor& y) {
  auto not_eos = 1.0 - y.select(2, 0);  // [B, L]
  auto shifted = torch::cat({torch::ones_like(not_eos.narrow(1, 0, 1)), not_eos.narrow(1, 0, not_eos.size(1) - 1)}, 1);
  return shifted.cumprod(1);
}

}  // namespace

SymbolSample gumbel_symbols(const torch::Tensor& logits, Relaxation relax, double tau, const torch::Tensor& uniform) {
  EMCOMM_CHECK(relax == Relaxation::Gumbel || relax == Relaxation::StGumbel, "gumbel_symbols: a Gumbel relaxation");
  auto noise = -torch::log(-torch::log(uniform.clamp(1e-20, 1.0 - 1e-7)));
  auto soft = torch::softmax((logits + noise) / tau, -1);
  SymbolSample out;
  out.symbols = soft.argmax(-1);
  if (relax == Relaxation::Gumbel) {
    out.y = soft;
  } else {
    auto hard = torch::one_hot(out.symbols, logits.size(-1)).to(soft.dtype());
    out.y = hard - soft.detach() + soft;  // forward hard, gradient of the soft sample
  }
  return out;
}

SymbolSample sample_symbols(const torch::Tensor& logits, Relaxation relax, double tau, at::Generator& gen) {
  const int64_t V = logits.size(-1);
  SymbolSample out;
  switch (relax) {
    case Relaxation::Gumbel:
    case Relaxation::StGumbel:
      return gumbel_symbols(logits, relax, tau, torch::empty_like(logits).uniform_(0.0, 1.0, gen));
    case Relaxation::Reinforce: {
      auto probs = torch::log_softmax(logits, -1).exp();
      auto shape = logits.sizes().vec();
      shape.pop_back();
      out.symbols = torch::multinomial(probs.detach().reshape({-1, V}), 1, true, gen).view(shape);
      out.y = torch::one_hot(out.symbols, V).to(logits.dtype());
      break;
    }
    case Relaxation::Greedy:
      out.symbols = logits.argmax(-1);
      out.y = torch::one_hot(out.symbols, V).to(logits.dtype());
      break;
  }
  return out;
}

ChannelOutput finish_message(const torch::Tensor& logits, const SymbolSample& sample, Relaxation relax,
                             const ChannelSpec& spec) {
  ChannelOutput out;
  out.symbols = sample.symbols;
  torch::Tensor y = sample.y;
  if (relax == Relaxation::Reinforce) {
    auto logp = torch::log_softmax(logits, -1);
    auto probs = logp.exp();
    auto alive = alive_mask(out.symbols, spec);
    out.log_prob = (logp.gather(2, out.symbols.unsqueeze(2)).squeeze(2) * alive).sum(1);
    auto ent = -(probs * logp).sum(2);
    out.entropy = (ent * alive).sum(1) / alive.sum(1);
  }
  out.length = message_lengths(out.symbols, spec);
  if (spec.eos) {
    bool hard = relax == Relaxation::Reinforce || relax == Relaxation::Greedy;
    auto alive = hard ? alive_mask(out.symbols, spec) : soft_alive(y);
    if (relax == Relaxation::StGumbel) alive = alive_mask(out.symbols, spec);
    y = y * alive.unsqueeze(-1);
  }
  out.onehots = y;
  return out;
}

ChannelOutput emit(const torch::Tensor& logits, Relaxation relax, double tau, const ChannelSpec& spec,
                   at::Generator& gen) {
  EMCOMM_CHECK(logits.dim() == 3 && logits.size(1) == spec.max_len && logits.size(2) == spec.vocab_size,
               "speaker logits must be [B, max_len, vocab_size]");
  return finish_message(logits, sample_symbols(logits, relax, tau, gen), relax, spec);
}

}  // namespace emcomm
