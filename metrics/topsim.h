// Topographic similarity (Brighton & Kirby 2006; the EGG convention for message distances).
#pragma once

#include <cstdint>
#include <vector>

#include "metrics/table.h"

namespace emcomm::metrics {

// Spearman correlation, over every pair of (sampled) rows i < j, between the Hamming distance
// of the concepts [N, A] (number of attributes that differ) and the Levenshtein distance of
// the messages (their first length[i] symbols) divided by the mean of the two lengths
// (0 when both are empty). Ties get average ranks.
// At most max_rows rows are used: when N > max_rows, max_rows rows are drawn without
// replacement by a partial Fisher-Yates shuffle driven by std::mt19937_64(seed), so the
// result depends only on the data and the seed. max_rows <= 0 means every row (O(N^2) pairs).
// NaN when undefined: fewer than 2 rows, or either distance constant over the pairs.
// Throws std::invalid_argument when the row counts or length entries are inconsistent.
double topographic_similarity(IntTable concepts, IntTable messages, const std::vector<int32_t>& length,
                              int64_t max_rows, uint64_t seed);

// Edit distance (insertions, deletions, substitutions, each costing 1) between a[0..na) and b[0..nb).
int64_t levenshtein(const int32_t* a, int64_t na, const int32_t* b, int64_t nb);

// Spearman's rank correlation of x and y (Pearson correlation of their average ranks).
// NaN when there are fewer than 2 values or either side is constant.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace emcomm::metrics
