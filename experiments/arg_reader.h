// The option loop the subcommands share: "--name value" or "--name=value", each name at most once
// unless said otherwise, with one message format for a missing value and a repeated option.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "core/errors.h"

namespace emcomm {

class ArgReader {
 public:
  // command: how messages name the command ("'emcomm eval'"); usage: appended to them.
  ArgReader(const std::vector<std::string>& args, std::string command, std::string usage)
      : args_(args), command_(std::move(command)), usage_(std::move(usage)) {}

  // Moves to the next argument; false once they are all read.
  bool next() { return ++i_ < args_.size(); }
  const std::string& arg() const { return args_[i_]; }
  size_t index() const { return i_; }  // of arg() in args

  // True when the current argument is `name` (its value the next argument) or `name=value`;
  // the value goes to `into`. UserError for a missing value, or a second `name` unless repeatable.
  bool value(const std::string& name, std::string& into, bool repeatable = false) {
    const std::string& a = arg();
    if (a == name) {
      if (i_ + 1 >= args_.size()) throw UserError(command_ + " option " + name + " needs a value\n" + usage_);
      into = args_[++i_];
    } else if (a.rfind(name + "=", 0) == 0) {
      into = a.substr(name.size() + 1);
    } else {
      return false;
    }
    if (!seen_.insert(name).second && !repeatable) throw UserError(command_ + " option " + name + " given twice");
    return true;
  }
  bool given(const std::string& name) const { return seen_.count(name) != 0; }

 private:
  const std::vector<std::string>& args_;
  std::string command_, usage_;
  size_t i_ = size_t(-1);
  std::set<std::string> seen_;
};

}  // namespace emcomm
