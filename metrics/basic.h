// Simple message statistics over integer arrays (no LibTorch). The information-theoretic
// metrics (entropy, MI, SC, IC, CIC, topsim, ...) join this library as pure functions too.
#pragma once

#include <cstdint>
#include <vector>

namespace emcomm::metrics {

// Mean of `length` (one entry per message).
double mean_length(const std::vector<int32_t>& length);
// Number of distinct symbols >= 0 in a [rows, width] message array (-1 is padding).
int64_t symbols_used(const std::vector<int32_t>& message);

}  // namespace emcomm::metrics
