// Shared by the trainers of signaling games: interaction rows of one speaker-listener pair
// on an evaluation set, tensors to log columns, and saving a speaker-listener pair.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "agents/channel.h"
#include "algorithms/cic_probe.h"
#include "core/run_file.h"
#include "envs/env.h"

namespace emcomm {

std::vector<int32_t> to_int32(const torch::Tensor& t);

// The first `rows` episodes of `set` as interaction rows: `symbols` [B, L] the greedy
// messages, `receiver_out` [B, ...] the listener's outputs, `correct` [B] 1/0 (the reward).
// The speaker takes no env action (sender_action -1).
InteractionBatch signal_rows(const SignalingGame& game, const SignalBatch& set, const torch::Tensor& symbols,
                             const torch::Tensor& receiver_out, const torch::Tensor& correct,
                             const ChannelSpec& channel, int64_t step, int64_t rows, int32_t sender,
                             int32_t receiver);

// The CIC probe of one speaker-listener pair at the first `rows` states of `set`:
// `sender_logits` [rows, L, V]; `listener(onehots [R, L, V], candidates [R, C, D] or undefined)`
// returns the listener's logits, turned into probabilities here; `gen` is the probe's own.
using PairListener = std::function<torch::Tensor(const torch::Tensor& onehots, const torch::Tensor& candidates)>;
CicTables probe_signal_pair(const torch::Tensor& sender_logits, const PairListener& listener, const SignalBatch& set,
                            int64_t rows, const ChannelSpec& channel, int64_t max_messages, at::Generator& gen);

// The same for a population: `sender_logits` [P, rows, L, V]; `listener(onehots [P, R, L, V],
// candidates [R, C, D] or undefined)` returns every member's logits [P, R, ...]. One table per member.
std::vector<CicTables> probe_signal_members(const torch::Tensor& sender_logits, const PairListener& listener,
                                            const SignalBatch& set, int64_t rows, const ChannelSpec& channel,
                                            int64_t max_messages, at::Generator& gen);

// Writes both modules into one archive (keys "speaker" and "listener").
void save_pair(torch::nn::Module& speaker, torch::nn::Module& listener, const std::string& path);

}  // namespace emcomm
