#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "metrics/cic.h"

using namespace emcomm::metrics;
using Probs = std::vector<float>;

namespace {

// p_action [1, m, m] of a listener that maps message c to action c.
Probs one_to_one(int m) {
  Probs p(size_t(m * m), 0.0f);
  for (int c = 0; c < m; ++c) p[size_t(c * m + c)] = 1.0f;
  return p;
}

double cic1(const Probs& p_message, const Probs& p_action, int64_t k) {
  return cic(p_message.data(), p_action.data(), 1, int64_t(p_message.size()), k);
}

}  // namespace

TEST_CASE("metrics cic: a listener that ignores messages has CIC exactly 0", "[metrics]") {
  // Two states, three messages, four actions; the same distribution under every message.
  const Probs p_message = {0.2f, 0.3f, 0.5f, 0.7f, 0.1f, 0.2f};
  Probs p_action;
  for (int s = 0; s < 2; ++s)
    for (int c = 0; c < 3; ++c) p_action.insert(p_action.end(), {0.1f, 0.2f, 0.3f, 0.4f});
  CHECK(cic(p_message.data(), p_action.data(), 2, 3, 4) == 0.0);
}

TEST_CASE("metrics cic: a one-to-one listener under a uniform sender has CIC log2 M", "[metrics]") {
  CHECK(cic1({0.5f, 0.5f}, one_to_one(2), 2) == Approx(1.0));
  CHECK(cic1({0.25f, 0.25f, 0.25f, 0.25f}, one_to_one(4), 4) == Approx(2.0));
}

TEST_CASE("metrics cic: hand-computed intermediate listener", "[metrics]") {
  // p(c) = (1/2, 1/2); p(a|do(0)) = (1, 0), p(a|do(1)) = (1/2, 1/2); p(a) = (3/4, 1/4).
  // CIC = H(p(a)) - sum_c p(c) H(p(a|do(c))) = H(1/4) - 1/2.
  CHECK(cic1({0.5f, 0.5f}, {1.0f, 0.0f, 0.5f, 0.5f}, 2) == Approx(0.811278124459133 - 0.5));
}

TEST_CASE("metrics cic: p(c) weighs the listener's answers (the sender's distribution)", "[metrics]") {
  // One-to-one listener, sender p(c) = (1/4, 3/4): CIC = H(p(c)) = H(1/4) (an unweighted
  // mixture p(a) = (1/2, 1/2) would give 1; the released Pitfalls code's mean instead of sum
  // would add log2 2 = 1).
  CHECK(cic1({0.25f, 0.75f}, one_to_one(2), 2) == Approx(0.811278124459133));
  // A message the sender never sends does not count, however differently it is answered.
  CHECK(cic1({1.0f, 0.0f}, one_to_one(2), 2) == 0.0);
}

TEST_CASE("metrics cic: the result is the mean over rows", "[metrics]") {
  // Row 0: one-to-one (1 bit); row 1: ignoring listener (0).
  const Probs p_message = {0.5f, 0.5f, 0.5f, 0.5f};
  const Probs p_action = {1.0f, 0.0f, 0.0f, 1.0f, 0.3f, 0.7f, 0.3f, 0.7f};
  CHECK(cic(p_message.data(), p_action.data(), 2, 2, 2) == Approx(0.5));
  CHECK(std::isnan(cic(p_message.data(), p_action.data(), 0, 2, 2)));
}

TEST_CASE("metrics cic: an unnormalised message sample is renormalised", "[metrics]") {
  // Two sampled messages with total probability 0.4: the same as p(c) = (1/4, 3/4).
  CHECK(cic1({0.1f, 0.3f}, one_to_one(2), 2) == Approx(cic1({0.25f, 0.75f}, one_to_one(2), 2)));
  CHECK(cic1({2.0f, 2.0f}, one_to_one(2), 2) == Approx(1.0));
  // Action distributions are renormalised too: (2, 0) and (0, 3) are one-to-one.
  CHECK(cic1({0.5f, 0.5f}, {2.0f, 0.0f, 0.0f, 3.0f}, 2) == Approx(1.0));
}

TEST_CASE("metrics cic: factorised receivers report the mean CIC over factors", "[metrics]") {
  // [1, M=2, A=2, V=2]: factor 0 one-to-one (1 bit), factor 1 the intermediate case above.
  // Layout p_action[c][f][v].
  const Probs p_message = {0.5f, 0.5f};
  const Probs p_action = {1.0f, 0.0f, /* c=0 f=1 */ 1.0f, 0.0f,
                          /* c=1 f=0 */ 0.0f, 1.0f, /* c=1 f=1 */ 0.5f, 0.5f};
  CHECK(cic_factorised(p_message.data(), p_action.data(), 1, 2, 2, 2) ==
        Approx((1.0 + (0.811278124459133 - 0.5)) / 2.0));
  // One factor is the plain [N, M, K] case.
  const Probs single = {1.0f, 0.0f, 0.5f, 0.5f};
  CHECK(cic_factorised(p_message.data(), single.data(), 1, 2, 1, 2) ==
        cic(p_message.data(), single.data(), 1, 2, 2));
}

TEST_CASE("metrics cic: invalid probability tables are refused", "[metrics]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(cic1({0.0f, 0.0f}, one_to_one(2), 2), std::invalid_argument);
  CHECK_THROWS_AS(cic1({-0.5f, 1.5f}, one_to_one(2), 2), std::invalid_argument);
  CHECK_THROWS_AS(cic1({nan, 0.5f}, one_to_one(2), 2), std::invalid_argument);
  CHECK_THROWS_AS(cic1({0.5f, 0.5f}, {1.0f, 0.0f, 0.0f, 0.0f}, 2), std::invalid_argument);
  CHECK_THROWS_AS(cic1({0.5f, 0.5f}, {1.0f, 0.0f, nan, 1.0f}, 2), std::invalid_argument);
}
