#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "metrics/table.h"
#include "metrics/topsim.h"

using namespace emcomm::metrics;

TEST_CASE("metrics levenshtein and spearman: hand values", "[metrics]") {
  const std::vector<int32_t> kitten = {'k', 'i', 't', 't', 'e', 'n'}, sitting = {'s', 'i', 't', 't', 'i', 'n', 'g'};
  CHECK(levenshtein(kitten.data(), 6, sitting.data(), 7) == 3);
  CHECK(levenshtein(kitten.data(), 0, sitting.data(), 3) == 3);
  CHECK(levenshtein(kitten.data(), 6, kitten.data(), 6) == 0);
  // Average ranks x = (1, 2.5, 2.5, 4), y = (1, 3, 2, 4): rho = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10).
  CHECK(spearman({1, 2, 2, 3}, {1, 3, 2, 4}) == Approx(3.0 / std::sqrt(10.0)));
  CHECK(spearman({1, 2, 3}, {30, 20, 10}) == Approx(-1.0));
  CHECK(std::isnan(spearman({1, 2, 3}, {5, 5, 5})));
  CHECK(std::isnan(spearman({1}, {2})));
}

TEST_CASE("metrics topsim: a perfectly compositional language scores 1", "[metrics]") {
  // All 3x3 objects; the message is the attribute values as symbols.
  std::vector<int32_t> concepts, messages, length;
  for (int32_t a = 0; a < 3; ++a)
    for (int32_t b = 0; b < 3; ++b) {
      concepts.insert(concepts.end(), {a, b});
      messages.insert(messages.end(), {a, b});
      length.push_back(2);
    }
  CHECK(topographic_similarity(int_table(concepts, 2), int_table(messages, 2), length, 100, 1) == Approx(1.0));
}

TEST_CASE("metrics topsim: hand-computed cases with unequal and empty messages", "[metrics]") {
  // Concepts (0,0), (0,1), (1,1); messages (5), (5,6), (7,7).
  // Hamming (1, 2, 1); Levenshtein / mean length (1/1.5, 2/1.5, 2/2) -> rho = sqrt(3)/2.
  const std::vector<int32_t> concepts = {0, 0, 0, 1, 1, 1};
  const std::vector<int32_t> messages = {5, -1, 5, 6, 7, 7};
  CHECK(topographic_similarity(int_table(concepts, 2), int_table(messages, 2), {1, 2, 2}, 10, 1) ==
        Approx(std::sqrt(3.0) / 2.0));
  // Messages (), (), (4): distances (0 [both empty], 1/0.5, 1/0.5) = (0, 2, 2) -> rho = 1/2.
  const std::vector<int32_t> messages2 = {-1, -1, -1, -1, 4, -1};
  CHECK(topographic_similarity(int_table(concepts, 2), int_table(messages2, 2), {0, 0, 1}, 10, 1) ==
        Approx(0.5));
}

TEST_CASE("metrics topsim: NaN when undefined", "[metrics]") {
  const std::vector<int32_t> concepts = {0, 0, 0, 1, 1, 1}, messages = {1, 2, 3};
  // One row, one pair (two rows), or constant message distances.
  CHECK(std::isnan(topographic_similarity(int_table(concepts, 2), int_table(messages, 1), {1, 1, 1}, 1, 1)));
  CHECK(std::isnan(topographic_similarity(int_table(concepts, 2), int_table(messages, 1), {1, 1, 1}, 2, 1)));
  const std::vector<int32_t> same = {4, 4, 4};
  CHECK(std::isnan(topographic_similarity(int_table(concepts, 2), int_table(same, 1), {1, 1, 1}, 0, 1)));
  CHECK_THROWS_AS(topographic_similarity(int_table(concepts, 2), int_table(messages, 1), {1, 1}, 0, 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(topographic_similarity(int_table(concepts, 2), int_table(messages, 1), {1, 2, 1}, 0, 1),
                  std::invalid_argument);
}

TEST_CASE("metrics topsim: subsampling is deterministic for a seed", "[metrics]") {
  // 300 noisy rows: 4 attributes of 4 values, messages of length 1..4 copying some attributes.
  std::mt19937_64 gen(5);
  std::vector<int32_t> concepts, messages, length;
  for (int i = 0; i < 300; ++i) {
    int32_t c[4];
    for (int32_t& v : c) v = int32_t(gen() % 4);
    concepts.insert(concepts.end(), c, c + 4);
    const int32_t len = 1 + int32_t(gen() % 4);
    for (int32_t j = 0; j < 4; ++j) messages.push_back(j < len ? (gen() % 5 == 0 ? int32_t(gen() % 4) : c[j]) : -1);
    length.push_back(len);
  }
  const IntTable ct = int_table(concepts, 4), mt = int_table(messages, 4);
  const double a = topographic_similarity(ct, mt, length, 60, 42);
  const double b = topographic_similarity(ct, mt, length, 60, 42);
  const double c = topographic_similarity(ct, mt, length, 60, 43);
  CHECK(a == b);
  CHECK(a != c);  // another sample of rows
  CHECK(a > 0.0);
  // max_rows >= N, or <= 0, uses every row (the seed does not matter then).
  const double all = topographic_similarity(ct, mt, length, 0, 1);
  CHECK(topographic_similarity(ct, mt, length, 300, 9) == all);
  CHECK(topographic_similarity(ct, mt, length, 1000, 9) == all);
  CHECK(all != a);
}
