#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/parallel.h"

using namespace emcomm;

TEST_CASE("run_on_threads: every part runs once, part 0 on the calling thread, the others on their own",
          "[parallel]") {
  const auto caller = std::this_thread::get_id();
  std::vector<std::thread::id> ran(4);
  std::vector<int> count(4, 0);
  run_on_threads(4, [&](int64_t k) {
    ran[size_t(k)] = std::this_thread::get_id();
    ++count[size_t(k)];
  });
  CHECK(count == std::vector<int>{1, 1, 1, 1});
  CHECK(ran[0] == caller);
  for (size_t k = 1; k < 4; ++k) CHECK(ran[k] != caller);
  // One part: no thread at all.
  std::thread::id only;
  run_on_threads(1, [&](int64_t) { only = std::this_thread::get_id(); });
  CHECK(only == caller);
}

TEST_CASE("run_on_threads: a part's exception reaches the caller after every part has ended", "[parallel]") {
  std::atomic<int> finished{0};
  auto work = [&](int64_t k) {
    if (k == 2) throw std::runtime_error("part 2 failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // still running when part 2 throws
    ++finished;
  };
  CHECK_THROWS_WITH(run_on_threads(3, work), "part 2 failed");
  CHECK(finished == 2);  // parts 0 and 1 were joined, not abandoned
  // The first part's exception wins when several throw.
  CHECK_THROWS_WITH(run_on_threads(3, [](int64_t k) { throw std::runtime_error("part " + std::to_string(k)); }),
                    "part 0");
}
