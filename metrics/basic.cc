#include "metrics/basic.h"

#include <numeric>
#include <unordered_set>

namespace emcomm::metrics {

double mean_length(const std::vector<int32_t>& length) {
  if (length.empty()) return 0.0;
  return std::accumulate(length.begin(), length.end(), 0.0) / double(length.size());
}

int64_t symbols_used(const std::vector<int32_t>& message) {
  std::unordered_set<int32_t> seen;
  for (int32_t s : message)
    if (s >= 0) seen.insert(s);
  return int64_t(seen.size());
}

double accuracy(const std::vector<float>& reward) {
  if (reward.empty()) return 0.0;
  int64_t solved = 0;
  for (float r : reward) solved += r > 0.0f;
  return double(solved) / double(reward.size());
}

}  // namespace emcomm::metrics
