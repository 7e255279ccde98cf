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
