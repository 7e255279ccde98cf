#include "metrics/symbols.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "metrics/counts.h"

namespace emcomm::metrics {

namespace {

// Ids of the tuples table.row(i)[0 .. len(i)), ranked lexicographically.
template <class Len>
std::vector<int64_t> tuple_ids(const IntTable& t, Len len) {
  const int64_t n = t.rows;
  auto hash = [&](int64_t i) {
    uint64_t h = 1469598103934665603ull ^ uint64_t(len(i));
    const int32_t* r = t.row(i);
    for (int64_t j = 0; j < len(i); ++j) h = (h ^ uint32_t(r[j])) * 1099511628211ull;
    return size_t(h ^ (h >> 29));
  };
  auto equal = [&](int64_t a, int64_t b) {
    return len(a) == len(b) && std::equal(t.row(a), t.row(a) + len(a), t.row(b));
  };
  auto less = [&](int64_t a, int64_t b) {
    return std::lexicographical_compare(t.row(a), t.row(a) + len(a), t.row(b), t.row(b) + len(b));
  };

  // Provisional ids in order of first appearance, one representative row for each.
  std::unordered_map<int64_t, int64_t, decltype(hash), decltype(equal)> first(
      size_t(std::min<int64_t>(n, 1 << 20)) + 1, hash, equal);
  std::vector<int64_t> representative;
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto [it, inserted] = first.emplace(i, int64_t(representative.size()));
    if (inserted) representative.push_back(i);
    ids[size_t(i)] = it->second;
  }
  std::vector<int64_t> order(representative.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return less(representative[size_t(a)], representative[size_t(b)]); });
  std::vector<int64_t> rank(order.size());
  for (size_t r = 0; r < order.size(); ++r) rank[size_t(order[r])] = int64_t(r);
  for (int64_t& id : ids) id = rank[size_t(id)];
  return ids;
}

}  // namespace

std::vector<int64_t> messages_as_symbols(IntTable message, const std::vector<int32_t>& length) {
  if (int64_t(length.size()) != message.rows)
    throw std::invalid_argument("messages_as_symbols: " + std::to_string(length.size()) + " lengths for " +
                                std::to_string(message.rows) + " messages");
  for (size_t i = 0; i < length.size(); ++i)
    if (length[i] < 0 || length[i] > message.cols)
      throw std::invalid_argument("messages_as_symbols: length " + std::to_string(length[i]) + " of row " +
                                  std::to_string(i) + " is outside 0.." + std::to_string(message.cols));
  return tuple_ids(message, [&](int64_t i) { return int64_t(length[size_t(i)]); });
}

std::vector<int64_t> rows_as_symbols(IntTable table) {
  if (table.cols == 1) return detail::dense_column(table.data, table.rows, 1, 0).ids;
  const int64_t width = table.cols;
  return tuple_ids(table, [width](int64_t) { return width; });
}

}  // namespace emcomm::metrics
