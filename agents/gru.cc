#include "agents/gru.h"

#include <torch/torch.h>

#include "core/errors.h"

namespace emcomm {

GruSpeakerImpl::GruSpeakerImpl(std::shared_ptr<EncoderImpl> encoder, bool owns_encoder, int64_t hidden,
                               int64_t embed, ChannelSpec channel)
    : encoder_(std::move(encoder)), owns_encoder_(owns_encoder), channel_(channel) {
  if (owns_encoder_) register_module("encoder", encoder_);
  cell_ = register_module("cell", torch::nn::GRUCell(embed, hidden));
  embed_ = register_module("embed", torch::nn::Linear(torch::nn::LinearOptions(channel.vocab_size, embed).bias(false)));
  out_ = register_module("out", torch::nn::Linear(hidden, channel.vocab_size));
  start_ = register_parameter("start", torch::zeros({embed}));
}

torch::Tensor GruSpeakerImpl::initial_state(const torch::Tensor& input) {
  auto h = encoder_->forward(input);
  return owns_encoder_ ? h : h.detach();
}

ChannelOutput GruSpeakerImpl::speak(const torch::Tensor& input, Relaxation relax, double tau, at::Generator& gen) {
  const int64_t B = input.size(0), L = channel_.max_len;
  auto h = initial_state(input);
  auto x = start_.unsqueeze(0).expand({B, start_.size(0)});
  std::vector<torch::Tensor> logits, symbols, ys;
  for (int64_t t = 0; t < L; ++t) {
    h = cell_(x, h);
    auto lt = out_(h);
    SymbolSample s = sample_symbols(lt, relax, tau, gen);
    if (t + 1 < L) x = embed_(s.y);
    logits.push_back(lt);
    symbols.push_back(s.symbols);
    ys.push_back(s.y);
  }
  return finish_message(torch::stack(logits, 1), {torch::stack(symbols, 1), torch::stack(ys, 1)}, relax, channel_);
}

torch::Tensor GruSpeakerImpl::teacher_logits(const torch::Tensor& input, const torch::Tensor& symbols) {
  const int64_t B = input.size(0), L = channel_.max_len;
  EMCOMM_CHECK(symbols.dim() == 2 && symbols.size(0) == B && symbols.size(1) == L, "teacher symbols must be [B, max_len]");
  // Row v of the embedding matrix is symbol v's embedding.
  auto prev = embed_->weight.t().index_select(0, symbols.narrow(1, 0, L - 1).reshape({-1})).view({B, L - 1, embed_->weight.size(0)});
  auto h = initial_state(input);
  std::vector<torch::Tensor> states;
  for (int64_t t = 0; t < L; ++t) {
    h = cell_(t == 0 ? start_.unsqueeze(0).expand({B, start_.size(0)}) : prev.select(1, t - 1), h);
    states.push_back(h);
  }
  return out_(torch::stack(states, 1));
}

GruListenerImpl::GruListenerImpl(std::shared_ptr<EncoderImpl> encoder, ChannelSpec channel, int64_t hidden,
                                 int64_t embed, ReceiverSpec task, ListenerScore score)
    : encoder_(std::move(encoder)), task_(task), score_(score) {
  embed_ = register_module("embed", torch::nn::Linear(torch::nn::LinearOptions(channel.vocab_size, embed).bias(false)));
  gru_ = register_module("gru", torch::nn::GRU(torch::nn::GRUOptions(embed, hidden).batch_first(true)));
  if (task.kind == ReceiverSpec::Kind::Reconstruct) {
    out_ = register_module("out", torch::nn::Linear(hidden, task.attributes * task.values));
  } else {
    EMCOMM_CHECK(encoder_ != nullptr, "a discrimination listener needs a candidate encoder");
    register_module("encoder", encoder_);
    if (score == ListenerScore::InvMse) out_ = register_module("out", torch::nn::Linear(hidden, hidden));
  }
}

torch::Tensor GruListenerImpl::message_state(const torch::Tensor& onehots) {
  auto states = std::get<0>(gru_(embed_(onehots)));  // [B, L, H]
  auto alive = onehots.sum(-1);                        // [B, L]
  auto next = torch::cat({alive.narrow(1, 1, alive.size(1) - 1), torch::zeros_like(alive.narrow(1, 0, 1))}, 1);
  auto ends = alive - next;  // weight of "the message ends here"
  return torch::bmm(ends.unsqueeze(1), states).squeeze(1);
}

torch::Tensor GruListenerImpl::forward(const torch::Tensor& onehots, const torch::Tensor& candidates) {
  const int64_t B = onehots.size(0);
  auto state = message_state(onehots);
  if (task_.kind == ReceiverSpec::Kind::Reconstruct) return out_(state).view({B, task_.attributes, task_.values});
  EMCOMM_CHECK(candidates.defined(), "discrimination listener needs candidates");
  auto cand = encoder_->forward(candidates);  // [B, C, H]
  if (score_ == ListenerScore::Dot) return dot_scores(torch::tanh(cand), state);
  return inv_mse_scores(cand, out_(state));
}

torch::Tensor dot_scores(const torch::Tensor& candidates, const torch::Tensor& message) {
  return torch::bmm(candidates, message.unsqueeze(2)).squeeze(2);
}

torch::Tensor inv_mse_scores(const torch::Tensor& candidates, const torch::Tensor& message) {
  auto mse = (candidates - message.unsqueeze(1)).pow(2).mean(-1);
  return 1.0 / mse.clamp_min(1e-12);
}

}  // namespace emcomm
