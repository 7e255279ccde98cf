#include "metrics/information.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "metrics/counts.h"

namespace emcomm::metrics {

namespace {

void check_same_size(const char* what, size_t a, size_t b) {
  if (a != b)
    throw std::invalid_argument(std::string(what) + ": variables have " + std::to_string(a) + " and " +
                                std::to_string(b) + " rows");
}

}  // namespace

double entropy(const std::vector<int64_t>& x) {
  const detail::Dense d = detail::dense(x.data(), int64_t(x.size()));
  return detail::entropy_of_counts(d.counts, d.rows());
}

double mutual_information(const std::vector<int64_t>& x, const std::vector<int64_t>& y) {
  check_same_size("mutual_information", x.size(), y.size());
  return detail::mutual_information(detail::dense(x.data(), int64_t(x.size())),
                                    detail::dense(y.data(), int64_t(y.size())));
}

double context_independence(const std::vector<int64_t>& meaning, const std::vector<int64_t>& message) {
  check_same_size("context_independence", meaning.size(), message.size());
  if (meaning.empty()) return std::numeric_limits<double>::quiet_NaN();
  const detail::Dense a = detail::dense(meaning.data(), int64_t(meaning.size()));
  const detail::Dense m = detail::dense(message.data(), int64_t(message.size()));  // keeps the order of ids

  std::unordered_map<int64_t, int64_t> joint;  // a * |M| + m -> n(a, m)
  joint.reserve(std::min<size_t>(meaning.size(), size_t(1) << 20));
  for (size_t i = 0; i < meaning.size(); ++i) ++joint[a.ids[i] * m.n_values + m.ids[i]];

  // For each meaning, the message maximising p(a|m) = n(a,m) / n(m), compared exactly by
  // cross-multiplying counts; on a tie the smaller message wins.
  struct Best {
    int64_t message = -1, n_am = 0;
  };
  std::vector<Best> best(static_cast<size_t>(a.n_values));
  for (const auto& [cell, n_am] : joint) {
    const int64_t ai = cell / m.n_values, mi = cell % m.n_values;
    Best& b = best[size_t(ai)];
    if (b.message < 0) {
      b = {mi, n_am};
      continue;
    }
    const int64_t n_m = m.counts[size_t(mi)], n_best = m.counts[size_t(b.message)];
    const double lhs = double(n_am) * double(n_best), rhs = double(b.n_am) * double(n_m);  // exact below 2^53
    if (lhs > rhs || (lhs == rhs && mi < b.message)) b = {mi, n_am};
  }
  double sum = 0.0;
  for (int64_t ai = 0; ai < a.n_values; ++ai) {
    const Best& b = best[size_t(ai)];
    sum += double(b.n_am) / double(m.counts[size_t(b.message)]) * (double(b.n_am) / double(a.counts[size_t(ai)]));
  }
  return sum / double(a.n_values);
}

}  // namespace emcomm::metrics
