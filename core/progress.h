// A one-line progress display on stderr (rate, ETA, latest figures), redrawn at most a few
// times a second; silent when stderr is not a terminal, so logs and CI stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace emcomm {

class Progress {
 public:
  explicit Progress(int64_t total_steps, bool enabled);
  static bool stderr_is_terminal();
  void update(int64_t step, const std::string& extra);
  void finish();
  // The text update() would draw; exposed for tests.
  static std::string line(int64_t step, int64_t total, double seconds, const std::string& extra);

 private:
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace emcomm
