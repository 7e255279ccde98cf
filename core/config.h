// Options and configs. Every component declares its options (name "section.key", type,
// default, range or choices, help) in an OptionSet; resolve_config() reads an INI file plus
// "--section.key=value" overrides through Boost.Program_options, keeps only the options of
// the selected env and algorithm, fills defaults and checks every value. Any problem is a
// UserError naming the option and what is allowed.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace emcomm {

enum class OptType { Int, Float, Bool, String, Choice };

struct OptionSpec {
  std::string name;  // "section.key"
  OptType type = OptType::String;
  std::string default_value;
  std::string help;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;

  std::string section() const { return name.substr(0, name.find('.')); }
  std::string key() const { return name.substr(name.find('.') + 1); }
  // "an integer in [1, 16]", "one of gumbel|st_gumbel|reinforce", ...
  std::string allowed() const;
  // Throws UserError naming the option when `value` does not fit; returns the canonical text.
  std::string check(const std::string& value) const;
};

class OptionSet {
 public:
  OptionSet& add_int(const std::string& name, int64_t def, const std::string& help,
                     int64_t min = std::numeric_limits<int32_t>::min(),
                     int64_t max = std::numeric_limits<int32_t>::max());
  OptionSet& add_float(const std::string& name, double def, const std::string& help,
                       double min = -std::numeric_limits<double>::infinity(),
                       double max = std::numeric_limits<double>::infinity());
  OptionSet& add_bool(const std::string& name, bool def, const std::string& help);
  OptionSet& add_string(const std::string& name, const std::string& def, const std::string& help);
  OptionSet& add_choice(const std::string& name, const std::string& def,
                        const std::vector<std::string>& choices, const std::string& help);
  OptionSet& merge(const OptionSet& other);  // other's specs replace same-named ones

  const std::vector<OptionSpec>& specs() const { return specs_; }
  const OptionSpec* find(const std::string& name) const;

 private:
  OptionSet& add(OptionSpec spec);
  std::vector<OptionSpec> specs_;
};

// A selectable component (an env or an algorithm) and the options it brings.
struct Component {
  std::string name;
  std::string description;
  OptionSet options;
};

// Everything resolve_config() may accept. env.name selects one of `envs`,
// train.algorithm one of `algorithms`.
struct ConfigSchema {
  OptionSet common;
  std::vector<Component> envs;
  std::vector<Component> algorithms;
};

class Config {
 public:
  Config() = default;
  Config(std::vector<OptionSpec> specs, std::map<std::string, std::string> values,
         std::string source);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  std::string get_string(const std::string& name) const;  // also for choices
  // True when the INI file or the command line gave a value different from the default (a
  // given value equal to the default counts as not set, so a saved config.ini reruns alike).
  bool is_set(const std::string& name) const;
  void set(const std::string& name, const std::string& value);  // checked like user input

  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& source() const { return source_; }
  // The resolved config as an INI file that resolve_config() reads back to the same values.
  std::string to_ini() const;

 private:
  const std::string& raw(const std::string& name) const;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> explicit_;
  std::string source_;
  friend Config resolve_config(const ConfigSchema&, const std::string&,
                               const std::vector<std::string>&);
};

// ini_path may be empty (defaults + overrides only). overrides are "--section.key=value".
Config resolve_config(const ConfigSchema& schema, const std::string& ini_path,
                      const std::vector<std::string>& overrides);

// The valid name closest to `name` (edit distance), or "" when nothing is close.
std::string nearest_name(const std::string& name, const std::vector<std::string>& valid);

}  // namespace emcomm
