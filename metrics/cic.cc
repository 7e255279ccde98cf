#include "metrics/cic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace emcomm::metrics {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("cic: " + what); }

// Sum of p[0], p[stride], ... (k values), checking each is finite and >= 0.
double checked_sum(const float* p, int64_t k, int64_t stride, const char* name, int64_t row) {
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    const float x = p[i * stride];
    if (!std::isfinite(x) || x < 0.0f)
      bad(std::string(name) + " of row " + std::to_string(row) + " holds " + std::to_string(x));
    sum += x;
  }
  if (!(sum > 0.0)) bad(std::string(name) + " of row " + std::to_string(row) + " sums to 0");
  return sum;
}

// CIC(s) of one state. q: p(c|s) for the m messages, normalised; p(a|do(c), s) is
// dist[c * stride + a] for a < k (normalised here).
double cic_state(const std::vector<double>& q, const float* dist, int64_t m, int64_t k, int64_t stride, int64_t row,
                 std::vector<double>& p, std::vector<double>& mix) {
  // A receiver that answers every message the sender may send in the same way has no
  // causal dependence on it: report exactly 0 rather than rounding noise.
  int64_t first = -1;
  bool same = true;
  for (int64_t c = 0; c < m && same; ++c) {
    if (q[size_t(c)] == 0.0) continue;
    if (first < 0)
      first = c;
    else
      same = std::equal(dist + c * stride, dist + c * stride + k, dist + first * stride);
  }

  p.assign(size_t(m * k), 0.0);
  mix.assign(size_t(k), 0.0);
  for (int64_t c = 0; c < m; ++c) {
    const float* d = dist + c * stride;
    const double sum = checked_sum(d, k, 1, "p_action", row);
    for (int64_t a = 0; a < k; ++a) {
      p[size_t(c * k + a)] = d[a] / sum;
      mix[size_t(a)] += q[size_t(c)] * p[size_t(c * k + a)];
    }
  }
  if (same) return 0.0;

  double cic = 0.0;
  for (int64_t c = 0; c < m; ++c) {
    if (q[size_t(c)] == 0.0) continue;
    double kl = 0.0;
    for (int64_t a = 0; a < k; ++a) {
      const double pa = p[size_t(c * k + a)];
      if (pa > 0.0) kl += pa * std::log2(pa / mix[size_t(a)]);  // mix[a] >= q[c] pa > 0
    }
    cic += q[size_t(c)] * kl;
  }
  return std::max(0.0, cic);  // a mutual information; rounding may dip below 0
}

// Mean over rows and factors; factor f of message c at row s is at
// p_action[((s * m + c) * factors + f) * k + a].
double cic_mean(const float* p_message, const float* p_action, int64_t n, int64_t m, int64_t factors, int64_t k) {
  if (n < 0 || m < 1 || factors < 1 || k < 1)
    bad("bad sizes n=" + std::to_string(n) + " m=" + std::to_string(m) + " k=" + std::to_string(k));
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> q(static_cast<size_t>(m)), p, mix;
  double total = 0.0;
  for (int64_t s = 0; s < n; ++s) {
    const float* pm = p_message + s * m;
    const double sum = checked_sum(pm, m, 1, "p_message", s);
    for (int64_t c = 0; c < m; ++c) q[size_t(c)] = pm[c] / sum;
    double row = 0.0;
    for (int64_t f = 0; f < factors; ++f)
      row += cic_state(q, p_action + (s * m * factors + f) * k, m, k, factors * k, s, p, mix);
    total += row / double(factors);
  }
  return total / double(n);
}

}  // namespace

double cic(const float* p_message, const float* p_action, int64_t n, int64_t m, int64_t k) {
  return cic_mean(p_message, p_action, n, m, 1, k);
}

double cic_factorised(const float* p_message, const float* p_action, int64_t n, int64_t m, int64_t a, int64_t v) {
  return cic_mean(p_message, p_action, n, m, a, v);
}

}  // namespace emcomm::metrics
