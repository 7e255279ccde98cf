#include "metrics/topsim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

namespace emcomm::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Average ranks (1-based) of x; tied values share the mean of their ranks.
std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
    const double r = 0.5 * double(i + 1 + j);  // mean of ranks i+1 .. j
    for (size_t t = i; t < j; ++t) rank[order[t]] = r;
    i = j;
  }
  return rank;
}

// Uniform integer in [0, bound) from a 64-bit generator, by rejection: the same on every
// platform (std::uniform_int_distribution is implementation-defined).
uint64_t uniform_below(std::mt19937_64& gen, uint64_t bound) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t r;
  do r = gen();
  while (r >= limit);
  return r % bound;
}

}  // namespace

int64_t levenshtein(const int32_t* a, int64_t na, const int32_t* b, int64_t nb) {
  std::vector<int64_t> prev(size_t(nb) + 1), cur(size_t(nb) + 1);
  std::iota(prev.begin(), prev.end(), int64_t(0));
  for (int64_t i = 1; i <= na; ++i) {
    cur[0] = i;
    for (int64_t j = 1; j <= nb; ++j)
      cur[size_t(j)] = std::min({prev[size_t(j)] + 1, cur[size_t(j - 1)] + 1,
                                 prev[size_t(j - 1)] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[size_t(nb)];
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("spearman: sizes differ");
  if (x.size() < 2) return kNaN;
  const std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  const double mean = 0.5 * double(x.size() + 1);  // the mean of any average ranking
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (size_t i = 0; i < rx.size(); ++i) {
    const double dx = rx[i] - mean, dy = ry[i] - mean;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0.0 || syy == 0.0) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

double topographic_similarity(IntTable concepts, IntTable messages, const std::vector<int32_t>& length,
                              int64_t max_rows, uint64_t seed) {
  const int64_t n = concepts.rows;
  if (messages.rows != n || int64_t(length.size()) != n)
    throw std::invalid_argument("topographic_similarity: " + std::to_string(n) + " concepts, " +
                                std::to_string(messages.rows) + " messages and " + std::to_string(length.size()) +
                                " lengths");
  for (size_t i = 0; i < length.size(); ++i)
    if (length[i] < 0 || length[i] > messages.cols)
      throw std::invalid_argument("topographic_similarity: length " + std::to_string(length[i]) + " of row " +
                                  std::to_string(i) + " is outside 0.." + std::to_string(messages.cols));

  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), int64_t(0));
  if (max_rows > 0 && n > max_rows) {
    std::mt19937_64 gen(seed);
    for (int64_t i = 0; i < max_rows; ++i)
      std::swap(rows[size_t(i)], rows[size_t(i) + size_t(uniform_below(gen, uint64_t(n - i)))]);
    rows.resize(size_t(max_rows));
  }
  const size_t m = rows.size();
  if (m < 2) return kNaN;

  std::vector<double> concept_distance, message_distance;
  concept_distance.reserve(m * (m - 1) / 2);
  message_distance.reserve(m * (m - 1) / 2);
  for (size_t p = 0; p < m; ++p)
    for (size_t q = p + 1; q < m; ++q) {
      const int64_t i = rows[p], j = rows[q];
      int64_t hamming = 0;
      for (int64_t a = 0; a < concepts.cols; ++a) hamming += concepts.at(i, a) != concepts.at(j, a);
      concept_distance.push_back(double(hamming));
      const int64_t li = length[size_t(i)], lj = length[size_t(j)];
      const double d = double(levenshtein(messages.row(i), li, messages.row(j), lj));
      message_distance.push_back(li + lj == 0 ? 0.0 : 2.0 * d / double(li + lj));
    }
  return spearman(concept_distance, message_distance);
}

}  // namespace emcomm::metrics
