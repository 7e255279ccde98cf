// Simple statistics of the logged interactions (no LibTorch).
#pragma once

#include <cstdint>
#include <vector>

namespace emcomm::metrics {

// Mean of `length` (one entry per message); 0 when there is none.
double mean_length(const std::vector<int32_t>& length);
// Number of distinct symbols >= 0 in a [rows, width] message array (-1 is padding).
int64_t symbols_used(const std::vector<int32_t>& message);
// Fraction of rows with reward > 0 (interaction rows log 1 for a solved episode, 0 otherwise);
// 0 when there is none, like mean_length.
double accuracy(const std::vector<float>& reward);
// Fraction of rows whose receiver action equals the target in every column ([rows, width] each,
// the same width), over the rows with a target (no -1 in its row); -1 when no row has one.
// The success of games with graded rewards: a Lewis object reconstructed through the Markov
// adapter (reward = fraction of attributes right), simple_crypto's Bob and Eve (target = the goal,
// action = the answer).
double target_accuracy(const std::vector<int32_t>& receiver_action, const std::vector<int32_t>& target, int width);

}  // namespace emcomm::metrics
