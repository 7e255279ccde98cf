#include <catch2/catch.hpp>

#include "metrics/basic.h"

using namespace emcomm::metrics;

TEST_CASE("metrics basic: mean length and symbols used ignore padding", "[metrics]") {
  CHECK(mean_length({1, 2, 6}) == Approx(3.0));
  CHECK(mean_length({}) == 0.0);
  CHECK(symbols_used({3, 3, -1, 0, 7, -1}) == 3);
  CHECK(symbols_used({-1, -1}) == 0);
}

TEST_CASE("metrics basic: accuracy is the fraction of rows with reward > 0", "[metrics]") {
  CHECK(accuracy({1.0f, 0.0f, 0.5f, -1.0f}) == 0.5);
  CHECK(accuracy({1.0f, 1.0f, 1.0f}) == 1.0);
  CHECK(accuracy({0.0f, 0.0f}) == 0.0);
  CHECK(accuracy({}) == 0.0);
}

TEST_CASE("metrics basic: target_accuracy counts exact matches over the rows that have a target", "[metrics]") {
  // One column: rows 0 and 2 right, row 1 wrong, row 3 has no target.
  CHECK(target_accuracy({2, 1, 0, 3}, {2, 0, 0, -1}, 0) == Approx(2.0 / 3.0));
  // Two columns (reconstruction): a row is right only when every attribute is.
  CHECK(target_accuracy({1, 2, 1, 0, 3, 3}, {1, 2, 1, 1, 3, 3}, 2) == Approx(2.0 / 3.0));
  // No row with a target, or shapes that do not match: -1 (no accuracy).
  CHECK(target_accuracy({1, 2}, {-1, -1}, 0) == -1);
  CHECK(target_accuracy({1, 2, 3}, {1, 2}, 0) == -1);
}
