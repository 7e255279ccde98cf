#include <catch2/catch.hpp>
#include <set>

#include "core/progress.h"
#include "core/rng.h"

using namespace emcomm;

TEST_CASE("rng: same seed same stream, derived streams differ by name", "[rng]") {
  Rng a(5), b(5);
  for (int i = 0; i < 10; ++i) CHECK(a.next() == b.next());
  CHECK(Rng(5).derive("env").next() == Rng(5).derive("env").next());
  CHECK(Rng(5).derive("env").next() != Rng(5).derive("agents").next());
  CHECK(Rng(5).derive("env").next() != Rng(6).derive("env").next());
}

TEST_CASE("rng: below(n) stays in range and covers it", "[rng]") {
  Rng r(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = r.below(7);
    REQUIRE(v < 7);
    seen.insert(v);
  }
  CHECK(seen.size() == 7);
}

TEST_CASE("progress: line shows rate, ETA and the latest figure", "[progress]") {
  auto s = Progress::line(100, 1000, 10.0, "sp_acc/val 0.5");
  CHECK_THAT(s, Catch::Contains("step 100/1000"));
  CHECK_THAT(s, Catch::Contains("10.0 steps/s"));
  CHECK_THAT(s, Catch::Contains("ETA 1m30s"));
  CHECK_THAT(s, Catch::Contains("sp_acc/val 0.5"));
}
