#include "metrics/disentanglement.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "metrics/counts.h"

namespace emcomm::metrics {

namespace {

std::vector<detail::Dense> attribute_columns(const IntTable& concepts) {
  std::vector<detail::Dense> columns;
  for (int64_t i = 0; i < concepts.cols; ++i)
    columns.push_back(detail::dense_column(concepts.data, concepts.rows, concepts.cols, i));
  return columns;
}

void check_rows(const char* what, const IntTable& messages, const IntTable& concepts) {
  if (messages.rows != concepts.rows)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(messages.rows) + " messages and " +
                                std::to_string(concepts.rows) + " concepts");
  if (concepts.cols < 1) throw std::invalid_argument(std::string(what) + ": concepts have no attribute");
}

// (I(x; attr_(1)) - I(x; attr_(2))) / H(x) for a variable x with H(x) > 0.
double information_gap(const detail::Dense& x, const std::vector<detail::Dense>& attributes) {
  std::vector<double> mi;
  for (const detail::Dense& a : attributes) mi.push_back(detail::mutual_information(x, a));
  std::sort(mi.begin(), mi.end(), std::greater<double>());
  const double second = mi.size() > 1 ? mi[1] : 0.0;
  return (mi[0] - second) / detail::entropy_of_counts(x.counts, x.rows());
}

double mean_or_nan(double sum, int64_t count) {
  return count > 0 ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double posdis(IntTable messages, IntTable concepts) {
  check_rows("posdis", messages, concepts);
  const std::vector<detail::Dense> attributes = attribute_columns(concepts);
  double sum = 0.0;
  int64_t informative = 0;
  for (int64_t j = 0; j < messages.cols; ++j) {
    const detail::Dense symbol = detail::dense_column(messages.data, messages.rows, messages.cols, j);
    if (symbol.n_values < 2) continue;  // H = 0
    sum += information_gap(symbol, attributes);
    ++informative;
  }
  return mean_or_nan(sum, informative);
}

double bosdis(IntTable messages, IntTable concepts) {
  check_rows("bosdis", messages, concepts);
  const std::vector<detail::Dense> attributes = attribute_columns(concepts);
  const int64_t n = messages.rows;

  // Relabel every cell (order-preserving, so the negative padding values come first), then
  // list for each symbol the rows it occurs in, once per occurrence.
  const detail::Dense cell = detail::dense_column(messages.data, n * messages.cols, 1, 0);
  int64_t first_symbol = 0;  // ids below this one are negative values (padding)
  for (int64_t c = 0; c < n * messages.cols; ++c)
    if (messages.data[c] < 0) first_symbol = std::max(first_symbol, cell.ids[size_t(c)] + 1);
  const int64_t n_symbols = cell.n_values - first_symbol;
  std::vector<int64_t> start(size_t(n_symbols) + 1, 0);
  for (int64_t s = 0; s < n_symbols; ++s) start[size_t(s) + 1] = start[size_t(s)] + cell.counts[size_t(first_symbol + s)];
  std::vector<int64_t> occurrence_row(static_cast<size_t>(start.back()));
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t c = 0; c < n * messages.cols; ++c) {
    const int64_t s = cell.ids[size_t(c)] - first_symbol;
    if (s >= 0) occurrence_row[size_t(fill[size_t(s)]++)] = c / messages.cols;
  }

  double sum = 0.0;
  int64_t informative = 0;
  std::vector<int64_t> count(size_t(n), 0);
  for (int64_t s = 0; s < n_symbols; ++s) {
    for (int64_t o = start[size_t(s)]; o < start[size_t(s) + 1]; ++o) ++count[size_t(occurrence_row[size_t(o)])];
    const detail::Dense symbol_count = detail::dense(count.data(), n);
    if (symbol_count.n_values >= 2) {  // H > 0
      sum += information_gap(symbol_count, attributes);
      ++informative;
    }
    for (int64_t o = start[size_t(s)]; o < start[size_t(s) + 1]; ++o) count[size_t(occurrence_row[size_t(o)])] = 0;
  }
  return mean_or_nan(sum, informative);
}

}  // namespace emcomm::metrics
