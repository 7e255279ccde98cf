#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace emcomm {

Progress::Progress(int64_t total_steps, bool enabled)
    : total_(total_steps), enabled_(enabled), start_(std::chrono::steady_clock::now()), last_draw_() {}

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::string Progress::line(int64_t step, int64_t total, double seconds, const std::string& extra) {
  double rate = seconds > 0 ? step / seconds : 0.0;
  double eta = rate > 0 ? (total - step) / rate : 0.0;
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %lld/%lld  %.1f steps/s  ETA %dm%02ds", (long long)step,
                (long long)total, rate, int(eta) / 60, int(eta) % 60);
  std::string s = buf;
  if (!extra.empty()) s += "  " + extra;
  return s;
}

void Progress::update(int64_t step, const std::string& extra) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && step < total_) return;
  last_draw_ = now;
  drawn_ = true;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r\033[K%s", line(step, total_, secs, extra).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (enabled_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace emcomm
