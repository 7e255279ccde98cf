#include "algorithms/signal_log.h"

#include <torch/torch.h>

namespace emcomm {

std::vector<int32_t> to_int32(const torch::Tensor& t) {
  auto c = t.to(torch::kInt32).contiguous();
  return std::vector<int32_t>(c.data_ptr<int32_t>(), c.data_ptr<int32_t>() + c.numel());
}

InteractionBatch signal_rows(const SignalingGame& game, const SignalBatch& set, const torch::Tensor& symbols,
                             const torch::Tensor& receiver_out, const torch::Tensor& correct,
                             const ChannelSpec& channel, int64_t step, int64_t rows, int32_t sender,
                             int32_t receiver) {
  auto first = [rows](const torch::Tensor& t) { return t.narrow(0, 0, rows); };
  InteractionBatch b;
  b.rows = rows;
  b.msg_len = int(channel.max_len);
  b.step.assign(rows, step);
  b.episode.resize(rows);
  for (int64_t i = 0; i < rows; ++i) b.episode[i] = i;
  b.t.assign(rows, 0);
  b.sender.assign(rows, sender);
  b.receiver.assign(rows, receiver);
  b.message = to_int32(symbols_for_log(first(symbols), channel));
  b.length = to_int32(message_lengths(first(symbols), channel));
  // A dataset without concepts (bring-your-own features) logs none: concept metrics are null.
  if (set.concept.defined() && set.concept.dim() == 2 && set.concept.size(1) > 0) {
    b.concept_width = int(set.concept.size(1));
    b.concept = to_int32(first(set.concept));
  }
  b.sender_action.assign(rows, -1);  // the speaker takes no env action
  auto action = first(game.receiver_action(receiver_out));
  b.receiver_action_width = action.dim() == 2 ? int(action.size(1)) : 0;
  b.receiver_action = to_int32(action);
  b.target_width = set.target.dim() == 2 ? int(set.target.size(1)) : 0;
  b.target = to_int32(first(set.target));
  auto c = first(correct).to(torch::kFloat32).contiguous();
  b.reward.assign(c.data_ptr<float>(), c.data_ptr<float>() + rows);
  return b;
}

CicTables probe_signal_pair(const torch::Tensor& sender_logits, const PairListener& listener, const SignalBatch& set,
                            int64_t rows, const ChannelSpec& channel, int64_t max_messages, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  auto candidates = set.receiver_input.defined() ? set.receiver_input.narrow(0, 0, rows) : torch::Tensor();
  auto receiver = [&](const torch::Tensor& symbols, const torch::Tensor& state) {
    auto c = candidates.defined() ? candidates.index_select(0, state) : torch::Tensor();
    return torch::softmax(listener(onehots_of(symbols, channel), c), -1);  // [R, A, V] or [R, C]
  };
  return cic_probe(sender_logits, receiver, max_messages, channel, gen);
}

std::vector<CicTables> probe_signal_members(const torch::Tensor& sender_logits, const PairListener& listener,
                                            const SignalBatch& set, int64_t rows, const ChannelSpec& channel,
                                            int64_t max_messages, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  auto candidates = set.receiver_input.defined() ? set.receiver_input.narrow(0, 0, rows) : torch::Tensor();
  auto receiver = [&](const torch::Tensor& symbols, const torch::Tensor& state) {  // symbols [P, R, L]
    auto c = candidates.defined() ? candidates.index_select(0, state) : torch::Tensor();
    const int64_t P = symbols.size(0), R = symbols.size(1);
    auto oh = onehots_of(symbols.reshape({P * R, -1}), channel).view({P, R, channel.max_len, channel.vocab_size});
    return torch::softmax(listener(oh, c), -1);  // [P, R, A, V] or [P, R, C]
  };
  return cic_probe_members(sender_logits, receiver, max_messages, channel, gen);
}

void save_pair(torch::nn::Module& speaker, torch::nn::Module& listener, const std::string& path) {
  torch::serialize::OutputArchive archive, sp, li;
  speaker.save(sp);
  listener.save(li);
  archive.write("speaker", sp);
  archive.write("listener", li);
  archive.save_to(path);
}

}  // namespace emcomm
