#include "metrics/counts.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace emcomm::metrics::detail {

namespace {

// Values within a range not much wider than the row count are relabelled through a
// direct-address table, others through a hash map.
template <class Get>
Dense dense_impl(int64_t n, Get get) {
  Dense d;
  d.ids.resize(size_t(n));
  if (n == 0) return d;
  int64_t lo = get(0), hi = get(0);
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, get(i));
    hi = std::max(hi, get(i));
  }
  const uint64_t span = uint64_t(hi) - uint64_t(lo);  // exact even for extreme values
  if (span < uint64_t(2 * n + 1024)) {
    std::vector<int64_t> rank(size_t(span) + 1, -1);
    for (int64_t i = 0; i < n; ++i) rank[size_t(get(i) - lo)] = 0;
    for (int64_t& r : rank)
      if (r == 0) r = d.n_values++;
    for (int64_t i = 0; i < n; ++i) d.ids[size_t(i)] = rank[size_t(get(i) - lo)];
  } else {
    std::unordered_map<int64_t, int64_t> rank;
    rank.reserve(size_t(std::min<int64_t>(n, 1 << 20)));
    for (int64_t i = 0; i < n; ++i) rank.emplace(get(i), 0);
    std::vector<int64_t> values;
    values.reserve(rank.size());
    for (const auto& kv : rank) values.push_back(kv.first);
    std::sort(values.begin(), values.end());
    for (size_t r = 0; r < values.size(); ++r) rank[values[r]] = int64_t(r);
    d.n_values = int64_t(values.size());
    for (int64_t i = 0; i < n; ++i) d.ids[size_t(i)] = rank[get(i)];
  }
  d.counts.assign(size_t(d.n_values), 0);
  for (int64_t id : d.ids) ++d.counts[size_t(id)];
  return d;
}

}  // namespace

Dense dense(const int64_t* x, int64_t n) {
  return dense_impl(n, [x](int64_t i) { return x[i]; });
}

Dense dense_column(const int32_t* data, int64_t n, int64_t cols, int64_t j) {
  return dense_impl(n, [=](int64_t i) { return int64_t(data[i * cols + j]); });
}

double entropy_of_counts(const std::vector<int64_t>& counts, int64_t n) {
  double h = 0.0;
  for (int64_t c : counts)
    if (c > 0) {
      const double p = double(c) / double(n);
      h -= p * std::log2(p);
    }
  return h;
}

double mutual_information(const Dense& x, const Dense& y) {
  if (x.rows() != y.rows()) throw std::invalid_argument("mutual_information: variables have different row counts");
  const int64_t n = x.rows();
  if (n == 0) return 0.0;
  double mi = 0.0;
  const int64_t cells = x.n_values * y.n_values;  // <= n^2: no overflow below 3e9 rows
  if (cells <= 4 * n + 65536) {
    std::vector<int64_t> joint(size_t(cells), 0);
    for (int64_t i = 0; i < n; ++i) ++joint[size_t(x.ids[size_t(i)] * y.n_values + y.ids[size_t(i)])];
    for (int64_t cell = 0; cell < cells; ++cell)
      mi += mi_term(joint[size_t(cell)], x.counts[size_t(cell / y.n_values)], y.counts[size_t(cell % y.n_values)], n);
  } else {
    std::unordered_map<int64_t, int64_t> joint;
    joint.reserve(size_t(std::min<int64_t>(n, 1 << 20)));
    for (int64_t i = 0; i < n; ++i) ++joint[x.ids[size_t(i)] * y.n_values + y.ids[size_t(i)]];
    for (const auto& [cell, c] : joint)
      mi += mi_term(c, x.counts[size_t(cell / y.n_values)], y.counts[size_t(cell % y.n_values)], n);
  }
  return std::max(0.0, mi);
}

}  // namespace emcomm::metrics::detail
