// Read-only views of the run file's integer fields, in row-major order: a [N] field is a
// table with one column, a [N, D] field has D columns, `message` [N, L] has L columns.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace emcomm::metrics {

// A [rows, cols] int32 array the caller owns; element (i, j) is data[i * cols + j].
struct IntTable {
  const int32_t* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;

  const int32_t* row(int64_t i) const { return data + i * cols; }
  int32_t at(int64_t i, int64_t j) const { return data[i * cols + j]; }
};

// Views `v` as [v.size() / cols, cols]; throws std::invalid_argument unless cols >= 1 and
// divides v.size(). The view borrows v's storage, so v must outlive it.
inline IntTable int_table(const std::vector<int32_t>& v, int64_t cols) {
  if (cols < 1 || int64_t(v.size()) % cols != 0)
    throw std::invalid_argument("int_table: " + std::to_string(v.size()) + " values do not form rows of " +
                                std::to_string(cols));
  return IntTable{v.data(), int64_t(v.size()) / cols, cols};
}
// A view of a temporary would dangle.
IntTable int_table(const std::vector<int32_t>&& v, int64_t cols) = delete;

}  // namespace emcomm::metrics
