#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "metrics/information.h"
#include "metrics/symbols.h"
#include "metrics/table.h"

using namespace emcomm::metrics;
using Ids = std::vector<int64_t>;

// H(1/4, 3/4) = 2 - (3/4) log2 3.
constexpr double kH14 = 0.811278124459133;

TEST_CASE("metrics entropy: uniform and constant variables and a hand case", "[metrics]") {
  CHECK(entropy({0, 1, 2, 3}) == 2.0);
  CHECK(entropy({5, 5, 9, 9, -1, -1, 70000000000, 70000000000}) == 2.0);
  CHECK(entropy({7, 7, 7}) == 0.0);
  CHECK(entropy({}) == 0.0);
  CHECK(entropy({0, 0, 0, 1}) == Approx(kH14));
}

TEST_CASE("metrics mutual information: identical and independent variables and a 2x2 joint", "[metrics]") {
  const Ids x = {0, 0, 1, 2, 2, 2, 3, 3};
  CHECK(mutual_information(x, x) == Approx(entropy(x)));
  // A function of x: I(x; f(x)) = H(f(x)).
  const Ids fx = {1, 1, 1, 0, 0, 0, 1, 1};
  CHECK(mutual_information(x, fx) == Approx(entropy(fx)));

  // Product tables, uniform and not (n(x,y) = n(x) n(y) with n(x) = 1,2 and n(y) = 1,3): exactly 0.
  CHECK(mutual_information({0, 0, 1, 1, 2, 2}, {0, 1, 0, 1, 0, 1}) == 0.0);
  CHECK(mutual_information({0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, {0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}) == 0.0);

  // n(0,0)=3, n(0,1)=1, n(1,0)=1, n(1,1)=3: I = 1 + 1 - 1.811278 = 1 - H(1/4).
  const Ids a = {0, 0, 0, 0, 1, 1, 1, 1}, b = {0, 0, 0, 1, 0, 1, 1, 1};
  CHECK(mutual_information(a, b) == Approx(1.0 - kH14));
  CHECK(mutual_information(b, a) == Approx(1.0 - kH14));

  CHECK(mutual_information({}, {}) == 0.0);
  CHECK_THROWS_AS(mutual_information({1, 2}, {1}), std::invalid_argument);
}

TEST_CASE("metrics mutual information equals H(X) + H(Y) - H(XY) on random tables", "[metrics]") {
  std::mt19937_64 gen(11);
  for (int trial = 0; trial < 5; ++trial) {
    Ids x, y, xy;
    for (int i = 0; i < 500; ++i) {
      const int64_t u = int64_t(gen() % 7), v = int64_t((u * u + gen() % 3) % 5);
      x.push_back(u * 1000003);  // far-apart values take the hash-map path
      y.push_back(v);
      xy.push_back(u * 5 + v);
    }
    CHECK(mutual_information(x, y) == Approx(entropy(x) + entropy(y) - entropy(xy)).margin(1e-12));
  }
}

TEST_CASE("metrics mutual information: tables too large to tabulate densely, by hand", "[metrics]") {
  // Joint tables of more than 4n + 65536 cells are counted in a hash map. n = 600 rows: x = i / 2
  // (300 values, each twice); y splits the pairs of even x (both rows get their own value) and
  // keeps those of odd x together: 150 * 2 + 150 = 450 values, 300 x 450 = 135000 cells > 67936.
  // x is a function of y, so I(x; y) = H(x) = log2 300; y is no function of x, so H(y) =
  // (1/2) log2 600 + (1/2) log2 300 is more.
  Ids x, y;
  for (int64_t i = 0; i < 600; ++i) {
    const int64_t pair = i / 2;
    x.push_back(pair);
    y.push_back(pair % 2 == 0 ? 2 * pair + i % 2 : 2 * pair);
  }
  CHECK(entropy(y) == Approx(0.5 * std::log2(600.0) + 0.5 * std::log2(300.0)).margin(1e-12));
  CHECK(mutual_information(x, y) == Approx(std::log2(300.0)).margin(1e-12));
  CHECK(mutual_information(y, x) == Approx(std::log2(300.0)).margin(1e-12));
  // n = 800, 400 values each way (160000 cells > 68736): a bijection gives log2 400; pairing
  // a = i / 2 with w, the same pairs shifted by one row, makes all 800 (a, w) distinct while each
  // value of a meets two of w: I = 2 log2 400 - log2 800 = log2 400 - 1.
  Ids a, b, w;
  for (int64_t i = 0; i < 800; ++i) {
    a.push_back(i / 2);                   // 400 values, each twice
    b.push_back((i / 2 * 7919) % 400);    // a bijection of a
    w.push_back(((i + 1) % 800) / 2);     // rows (2k+1, 2k+2) share a value: a cyclic shift by one row
  }
  CHECK(mutual_information(a, b) == Approx(std::log2(400.0)).margin(1e-12));
  CHECK(mutual_information(a, w) == Approx(std::log2(400.0) - 1.0).margin(1e-12));
}

TEST_CASE("metrics speaker consistency and instantaneous coordination on a tiny run", "[metrics]") {
  // Messages (4,1) and (4) four times each; sender actions give the 3,1,1,3 joint above.
  const std::vector<int32_t> message = {4, 1, 4, 1, 4, 1, 4, 1, 4, -1, 4, -1, 4, -1, 4, -1};
  const std::vector<int32_t> length = {2, 2, 2, 2, 1, 1, 1, 1};
  const std::vector<int32_t> sender_action = {0, 0, 0, 1, 0, 1, 1, 1};
  // Receiver actions [N, 2]: (7,7) after (4,1) and (7,8) after (4): fully determined.
  const std::vector<int32_t> receiver_action = {7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 7, 8, 7, 8};
  const std::vector<int32_t> no_action(8, -1);
  const Ids m = messages_as_symbols(int_table(message, 2), length);
  const double sc = mutual_information(m, rows_as_symbols(int_table(sender_action, 1)));
  const double ic = mutual_information(m, rows_as_symbols(int_table(receiver_action, 2)));
  CHECK(sc == Approx(1.0 - kH14));
  CHECK(ic == Approx(1.0));
  // A speaker that takes no action (-1 everywhere, the Lewis game) has SC = 0.
  CHECK(mutual_information(m, rows_as_symbols(int_table(no_action, 1))) == 0.0);
}

TEST_CASE("metrics context independence: one-to-one code is 1", "[metrics]") {
  CHECK(context_independence({0, 1, 2, 0, 1, 2}, {5, 3, 9, 5, 3, 9}) == 1.0);
  CHECK(context_independence({4}, {4}) == 1.0);
  CHECK(std::isnan(context_independence({}, {})));
  CHECK_THROWS_AS(context_independence({1, 2}, {1}), std::invalid_argument);
}

TEST_CASE("metrics context independence: hand-computed imperfect codes", "[metrics]") {
  // (a,m): (0,0) x2, (0,1), (1,1) x2. a=0: m*=0, p(0|m0)=1, p(m0|0)=2/3; a=1: m*=1,
  // p(1|m1)=2/3, p(m1|1)=1. CI = (2/3 + 2/3) / 2.
  CHECK(context_independence({0, 0, 0, 1, 1}, {0, 0, 1, 1, 1}) == Approx(2.0 / 3.0));
  // One message for two meanings: each a has p(a|m)=1/2, p(m|a)=1.
  CHECK(context_independence({0, 1}, {0, 0}) == Approx(0.5));
}

TEST_CASE("metrics context independence: ties go to the lexicographically smallest message", "[metrics]") {
  // Meaning 0 is sent as (2) once and as (2,0) twice: p(0|m) = 1 for both, m* = (2) < (2,0),
  // so CI = p(m*|0) = 1/3, however frequent the other message is.
  const std::vector<int32_t> message = {2, 0, 2, -1, 2, 0};
  const Ids m = messages_as_symbols(int_table(message, 2), {2, 1, 2});
  CHECK(context_independence({0, 0, 0}, m) == Approx(1.0 / 3.0));
  // Swap the frequencies: (2) twice, (2,0) once. CI = 2/3.
  const std::vector<int32_t> message2 = {2, -1, 2, 0, 2, -1};
  const Ids m2 = messages_as_symbols(int_table(message2, 2), {1, 2, 1});
  CHECK(context_independence({0, 0, 0}, m2) == Approx(2.0 / 3.0));
}
