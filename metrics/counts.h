// Counting helpers shared by the metrics (internal: not part of the public API).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace emcomm::metrics::detail {

// An order-preserving relabelling of a variable: ids[i] is the rank of x[i] among the
// distinct values of x (0 .. n_values-1), counts[r] how many rows hold the value of rank r.
struct Dense {
  std::vector<int64_t> ids;
  std::vector<int64_t> counts;
  int64_t n_values = 0;
  int64_t rows() const { return int64_t(ids.size()); }
};

Dense dense(const int64_t* x, int64_t n);
// Column j of a row-major [n, cols] int32 array.
Dense dense_column(const int32_t* data, int64_t n, int64_t cols, int64_t j);

// -sum_x p(x) log2 p(x) with p = counts / n (zero counts are skipped).
double entropy_of_counts(const std::vector<int64_t>& counts, int64_t n);
// One term of a plug-in mutual information: p(x,y) log2[p(x,y) / (p(x) p(y))] from the
// counts n(x,y), n(x), n(y) over n rows; written so that an exact product table gives 0.
inline double mi_term(int64_t nxy, int64_t nx, int64_t ny, int64_t n) {
  if (nxy == 0) return 0.0;
  return double(nxy) / double(n) * std::log2((double(nxy) * double(n)) / (double(nx) * double(ny)));
}
// I(X;Y) in bits from two relabelled variables over the same rows (clamped at 0).
double mutual_information(const Dense& x, const Dense& y);

}  // namespace emcomm::metrics::detail
