#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

#include "metrics/information.h"
#include "metrics/symbols.h"
#include "metrics/table.h"

using namespace emcomm::metrics;
using Ids = std::vector<int64_t>;

TEST_CASE("metrics symbols: a message is the tuple of its symbols up to its length", "[metrics]") {
  // [3,-1] length 1 and [3,0] length 2 differ; [3,7] with length 1 is the message (3).
  const std::vector<int32_t> message = {3, -1, 3, 0, 3, -1, 3, 7};
  const std::vector<int32_t> length = {1, 2, 1, 1};
  const Ids ids = messages_as_symbols(int_table(message, 2), length);
  CHECK(ids == Ids{0, 1, 0, 0});
  // Three (3) and one (3,0): H = 2 - (3/4) log2 3.
  CHECK(entropy(ids) == Approx(0.811278124459133));
}

TEST_CASE("metrics symbols: message ids follow the lexicographic order of tuples", "[metrics]") {
  // (2), (2,0), (), (1,5), (3): sorted () < (1,5) < (2) < (2,0) < (3).
  const std::vector<int32_t> message = {2, -1, 2, 0, -1, -1, 1, 5, 3, -1};
  const std::vector<int32_t> length = {1, 2, 0, 2, 1};
  CHECK(messages_as_symbols(int_table(message, 2), length) == Ids{2, 3, 0, 1, 4});
}

TEST_CASE("metrics symbols: an N x D row is one symbol and an N field keeps its order", "[metrics]") {
  const std::vector<int32_t> action2 = {1, 2, 1, 2, 0, 5, -1, -1};
  CHECK(rows_as_symbols(int_table(action2, 2)) == Ids{2, 2, 1, 0});
  const std::vector<int32_t> action1 = {5, -1, 5, 2};
  CHECK(rows_as_symbols(int_table(action1, 1)) == Ids{2, 0, 2, 1});
  const std::vector<int32_t> none;
  CHECK(rows_as_symbols(int_table(none, 3)).empty());
}

TEST_CASE("metrics symbols: inconsistent shapes and lengths are refused", "[metrics]") {
  const std::vector<int32_t> message = {1, 2, 3, 4};
  CHECK_THROWS_AS(int_table(message, 3), std::invalid_argument);
  CHECK_THROWS_AS(int_table(message, 0), std::invalid_argument);
  CHECK_THROWS_AS(messages_as_symbols(int_table(message, 2), {1}), std::invalid_argument);
  CHECK_THROWS_AS(messages_as_symbols(int_table(message, 2), {1, 3}), std::invalid_argument);
  CHECK_THROWS_AS(messages_as_symbols(int_table(message, 2), {-1, 2}), std::invalid_argument);
}
