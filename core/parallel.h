// Runs the parts of a job at once on plain threads. Used where LibTorch's intra-op pool is held
// at one thread (run.threads goes to OpenBLAS or to our own splits, docs/PERFORMANCE.md
// "Threads"): S2P member slices (algorithms/runtime.h run_parts) and FusedAdam's passes.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace emcomm {

// Runs work(0), ..., work(parts - 1) at once, work(0) on the calling thread and each other on a
// thread of its own; after all have ended, rethrows the first part's exception if any threw.
// Thread-local settings (grad mode, ...) start at their defaults in the new threads.
inline void run_on_threads(int64_t parts, const std::function<void(int64_t)>& work) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(parts > 0 ? parts : 0));
  auto guarded = [&](int64_t k) {
    try {
      work(k);
    } catch (...) {
      errors[size_t(k)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int64_t k = 1; k < parts; ++k) threads.emplace_back(guarded, k);
  if (parts > 0) guarded(0);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace emcomm
