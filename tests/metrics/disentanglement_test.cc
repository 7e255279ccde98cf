#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "metrics/disentanglement.h"
#include "metrics/table.h"

using namespace emcomm::metrics;

namespace {

// All objects with `n_attr` attributes of `n_val` values, row-major [n_val^n_attr, n_attr].
std::vector<int32_t> all_objects(int n_attr, int n_val) {
  int total = 1;
  for (int i = 0; i < n_attr; ++i) total *= n_val;
  std::vector<int32_t> out(size_t(total * n_attr));
  for (int o = 0; o < total; ++o) {
    int rest = o;
    for (int i = n_attr - 1; i >= 0; --i, rest /= n_val) out[size_t(o * n_attr + i)] = rest % n_val;
  }
  return out;
}

}  // namespace

TEST_CASE("metrics posdis: the identity two-attribute language scores 1", "[metrics]") {
  const std::vector<int32_t> objects = all_objects(2, 3);
  CHECK(posdis(int_table(objects, 2), int_table(objects, 2)) == Approx(1.0));
}

TEST_CASE("metrics posdis: hand-computed languages", "[metrics]") {
  const std::vector<int32_t> objects = all_objects(2, 2);  // (0,0) (0,1) (1,0) (1,1)
  // Both positions encode only attribute 0: each has gap (1 - 0) / 1, so posdis = 1
  // (posdis does not penalise redundancy, nor attribute 1 going unexpressed).
  const std::vector<int32_t> redundant = {0, 0, 0, 0, 1, 1, 1, 1};
  CHECK(posdis(int_table(redundant, 2), int_table(objects, 2)) == Approx(1.0));
  // Position 0 = a0 (gap 1), position 1 = a0 xor a1 (independent of each attribute: gap 0).
  const std::vector<int32_t> xor_language = {0, 0, 0, 1, 1, 1, 1, 0};
  CHECK(posdis(int_table(xor_language, 2), int_table(objects, 2)) == Approx(0.5));
  // Padding counts as a value: (a0) when a1 = 0, (a0, a0) when a1 = 1. Position 1 holds
  // -1, 0, -1, 1 for the four objects: p = (1/2, 1/4, 1/4), H = 1.5, I(.;a1) = 1,
  // I(.;a0) = 0.5, gap 0.5 / 1.5 = 1/3; position 0 scores 1: posdis = (1 + 1/3) / 2.
  const std::vector<int32_t> padded = {0, -1, 0, 0, 1, -1, 1, 1};
  CHECK(posdis(int_table(padded, 2), int_table(objects, 2)) == Approx(2.0 / 3.0));
}

TEST_CASE("metrics posdis: a single attribute has second-highest information 0", "[metrics]") {
  // Concept (0),(0),(1),(1); symbol 0,1,1,1: H = H(1/4), I = H(1/4) - 1/2.
  const std::vector<int32_t> concept = {0, 0, 1, 1}, message = {0, 1, 1, 1};
  CHECK(posdis(int_table(message, 1), int_table(concept, 1)) ==
        Approx((0.811278124459133 - 0.5) / 0.811278124459133));
}

TEST_CASE("metrics posdis and bosdis: NaN when no position or symbol count varies", "[metrics]") {
  const std::vector<int32_t> concept = {0, 1, 2}, message = {4, -1, 4, -1, 4, -1};
  CHECK(std::isnan(posdis(int_table(message, 2), int_table(concept, 1))));
  CHECK(std::isnan(bosdis(int_table(message, 2), int_table(concept, 1))));
}

TEST_CASE("metrics bosdis: a bag-of-symbols language scores 1", "[metrics]") {
  // All 3x3 objects: a0 copies of symbol 0 and a1 copies of symbol 1, in a mixed order,
  // padded to 4 with -1.
  const std::vector<int32_t> objects = all_objects(2, 3);
  std::vector<int32_t> messages;
  for (size_t o = 0; o < objects.size() / 2; ++o) {
    std::vector<int32_t> m;
    for (int32_t k = 0; k < objects[2 * o + 1]; ++k) m.push_back(1);
    for (int32_t k = 0; k < objects[2 * o]; ++k) m.insert(o % 2 ? m.begin() : m.end(), 0);
    m.resize(4, -1);
    messages.insert(messages.end(), m.begin(), m.end());
  }
  CHECK(bosdis(int_table(messages, 4), int_table(objects, 2)) == Approx(1.0));
  CHECK(posdis(int_table(messages, 4), int_table(objects, 2)) < 0.9);
}

TEST_CASE("metrics bosdis: a positional language over one vocabulary scores 0", "[metrics]") {
  // Message (a0, a1) over symbols {0, 1}: the count of either symbol is a0 + a1 (or 2 minus
  // it), which tells as much about a0 as about a1: every gap is 0.
  const std::vector<int32_t> objects = all_objects(2, 2);
  CHECK(bosdis(int_table(objects, 2), int_table(objects, 2)) == Approx(0.0).margin(1e-12));
  CHECK(posdis(int_table(objects, 2), int_table(objects, 2)) == Approx(1.0));
}
