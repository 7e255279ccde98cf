#include <c10/util/Exception.h>

#include <cstdlib>

#include "core/errors.h"
#include "experiments/commands.h"

namespace emcomm {
namespace {

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

bool debug_requested() {
  const char* d = std::getenv("EMCOMM_DEBUG");
  return d && *d && std::string(d) != "0";
}

ErrorReport report_exception(const std::exception& e, bool debug) {
  if (dynamic_cast<const UserError*>(&e)) return {2, "emcomm: error: " + std::string(e.what()) + "\n"};
  if (const auto* t = dynamic_cast<const c10::Error*>(&e)) {
    // LibTorch's what() carries a C++ backtrace; without EMCOMM_DEBUG a user sees its message only.
    if (debug) return {1, "emcomm: internal error: " + std::string(e.what()) + "\n"};
    return {1, "emcomm: internal error: " + first_line(t->what_without_backtrace()) +
                   " (set EMCOMM_DEBUG=1 for the backtrace)\n"};
  }
  const std::string what = debug ? std::string(e.what()) : first_line(e.what());
  if (dynamic_cast<const std::logic_error*>(&e)) return {1, "emcomm: internal error: " + what + "\n"};  // EMCOMM_CHECK
  return {1, "emcomm: fatal: " + what + "\n"};  // a run that cannot go on (non-finite loss, disk full, ...)
}

}  // namespace emcomm
