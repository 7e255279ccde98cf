#include "metrics/basic.h"

#include <algorithm>

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

double target_accuracy(const std::vector<int32_t>& receiver_action, const std::vector<int32_t>& target, int width) {
  const size_t w = size_t(std::max(width, 1));
  if (receiver_action.size() != target.size() || target.size() % w != 0) return -1;
  int64_t rows = 0, right = 0;
  for (size_t r = 0; r < target.size() / w; ++r) {
    bool has = true, same = true;
    for (size_t c = 0; c < w; ++c) {
      has = has && target[r * w + c] >= 0;
      same = same && receiver_action[r * w + c] == target[r * w + c];
    }
    if (!has) continue;
    ++rows;
    right += same;
  }
  return rows == 0 ? -1 : double(right) / double(rows);
}

}  // namespace emcomm::metrics
