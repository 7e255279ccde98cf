#include <catch2/catch.hpp>

#include "metrics/basic.h"

using namespace emcomm::metrics;

TEST_CASE("metrics basic: mean length and symbols used ignore padding", "[metrics]") {
  CHECK(mean_length({1, 2, 6}) == Approx(3.0));
  CHECK(mean_length({}) == 0.0);
  CHECK(symbols_used({3, 3, -1, 0, 7, -1}) == 3);
  CHECK(symbols_used({-1, -1}) == 0);
}
