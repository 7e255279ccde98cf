// Error kinds. Library code throws; only main() decides exit codes:
// UserError -> exit 2 (bad option, value, file), anything else -> exit 1.
#pragma once

#include <stdexcept>
#include <string>

namespace emcomm {

// Bad user input: an option, a value, a file. The message names what is wrong and what is
// allowed; the CLI prints it and exits with code 2.
class UserError : public std::invalid_argument {
 public:
  explicit UserError(const std::string& what) : std::invalid_argument(what) {}
};

// An internal invariant failed: a bug in emcomm, not in the user's input.
#define EMCOMM_CHECK(cond, msg)                                                     \
  do {                                                                              \
    if (!(cond))                                                                    \
      throw std::logic_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                             ": check failed: " #cond ": " + (msg));                \
  } while (0)

}  // namespace emcomm
