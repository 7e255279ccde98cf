#include "core/config.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"

namespace po = boost::program_options;

namespace emcomm {
namespace {

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_float(const std::string& s, double* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parse_bool(const std::string& s, bool* out) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), ::tolower);
  if (l == "true" || l == "1" || l == "yes" || l == "on") return *out = true, true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return *out = false, true;
  return false;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string unknown_option_message(const std::string& name, const std::string& where,
                                   const std::vector<std::string>& valid) {
  std::string msg = "unknown option '" + name + "'" + where;
  std::string near = nearest_name(name, valid);
  if (!near.empty()) msg += "; did you mean '" + near + "'?";
  msg += " ('emcomm list' shows every option)";
  return msg;
}

// Raw "section.key" -> value pairs from parsed options; unknown names are errors.
void collect(const po::parsed_options& parsed, const std::string& where,
             const std::vector<std::string>& valid, std::map<std::string, std::string>* out) {
  for (const auto& opt : parsed.options) {
    if (opt.string_key.empty() || opt.position_key >= 0) {
      std::string text = opt.original_tokens.empty() ? "?" : opt.original_tokens.front();
      throw UserError("unexpected argument '" + text + "'" + where +
                      "; options are written --section.key=value");
    }
    if (opt.unregistered) throw UserError(unknown_option_message(opt.string_key, where, valid));
    if (opt.value.size() != 1)
      throw UserError("option '" + opt.string_key + "'" + where + " needs exactly one value");
    (*out)[opt.string_key] = trim(opt.value.front());
  }
}

}  // namespace

std::string nearest_name(const std::string& name, const std::vector<std::string>& valid) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& v : valid) {
    size_t d = edit_distance(name, v);
    // Also match on the key alone, so "--attributes" suggests "env.attributes".
    auto dot = v.find('.');
    if (dot != std::string::npos && name.find('.') == std::string::npos)
      d = std::min(d, edit_distance(name, v.substr(dot + 1)));
    if (d < best_d) best_d = d, best = v;
  }
  if (best_d == std::string::npos || best_d > std::max<size_t>(2, name.size() / 3)) return "";
  return best;
}

std::string OptionSpec::allowed() const {
  switch (type) {
    case OptType::Int:
      return "an integer in [" + format_number(min) + ", " + format_number(max) + "]";
    case OptType::Float:
      return "a number in [" + format_number(min) + ", " + format_number(max) + "]";
    case OptType::Bool:
      return "true or false";
    case OptType::String:
      return "a string";
    case OptType::Choice: {
      std::string s = "one of ";
      for (size_t i = 0; i < choices.size(); ++i) s += (i ? "|" : "") + choices[i];
      return s;
    }
  }
  return "";
}

std::string OptionSpec::check(const std::string& value) const {
  auto fail = [&]() -> std::string {
    throw UserError("option " + name + ": got '" + value + "', expected " + allowed());
  };
  switch (type) {
    case OptType::Int: {
      int64_t v;
      if (!parse_int(value, &v) || v < min || v > max) fail();
      return std::to_string(v);
    }
    case OptType::Float: {
      double v;
      if (!parse_float(value, &v) || v < min || v > max) fail();
      return value;
    }
    case OptType::Bool: {
      bool v;
      if (!parse_bool(value, &v)) fail();
      return v ? "true" : "false";
    }
    case OptType::String:
      return value;
    case OptType::Choice:
      if (std::find(choices.begin(), choices.end(), value) == choices.end()) fail();
      return value;
  }
  return value;
}

OptionSet& OptionSet::add(OptionSpec spec) {
  EMCOMM_CHECK(spec.name.find('.') != std::string::npos, "option name must be section.key: " + spec.name);
  EMCOMM_CHECK(find(spec.name) == nullptr, "option declared twice: " + spec.name);
  spec.check(spec.default_value);  // a bad default is a bug
  specs_.push_back(std::move(spec));
  return *this;
}

OptionSet& OptionSet::add_int(const std::string& name, int64_t def, const std::string& help,
                              int64_t min, int64_t max) {
  OptionSpec s{name, OptType::Int, std::to_string(def), help, double(min), double(max), {}};
  return add(s);
}
OptionSet& OptionSet::add_float(const std::string& name, double def, const std::string& help,
                                double min, double max) {
  return add({name, OptType::Float, format_number(def), help, min, max, {}});
}
OptionSet& OptionSet::add_bool(const std::string& name, bool def, const std::string& help) {
  return add({name, OptType::Bool, def ? "true" : "false", help, 0, 0, {}});
}
OptionSet& OptionSet::add_string(const std::string& name, const std::string& def,
                                 const std::string& help) {
  return add({name, OptType::String, def, help, 0, 0, {}});
}
OptionSet& OptionSet::add_choice(const std::string& name, const std::string& def,
                                 const std::vector<std::string>& choices, const std::string& help) {
  return add({name, OptType::Choice, def, help, 0, 0, choices});
}

OptionSet& OptionSet::merge(const OptionSet& other) {
  for (const auto& s : other.specs_) {
    auto it = std::find_if(specs_.begin(), specs_.end(), [&](const OptionSpec& x) { return x.name == s.name; });
    if (it != specs_.end()) *it = s;
    else specs_.push_back(s);
  }
  return *this;
}

const OptionSpec* OptionSet::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Config::Config(std::vector<OptionSpec> specs, std::map<std::string, std::string> values,
               std::string source)
    : specs_(std::move(specs)), values_(std::move(values)), source_(std::move(source)) {}

const std::string& Config::raw(const std::string& name) const {
  auto it = values_.find(name);
  EMCOMM_CHECK(it != values_.end(), "option not declared by the selected components: " + name);
  return it->second;
}

int64_t Config::get_int(const std::string& name) const { return std::stoll(raw(name)); }
double Config::get_float(const std::string& name) const { return std::stod(raw(name)); }
bool Config::get_bool(const std::string& name) const { return raw(name) == "true"; }
std::string Config::get_string(const std::string& name) const { return raw(name); }
bool Config::is_set(const std::string& name) const {
  auto it = explicit_.find(name);
  return it != explicit_.end() && it->second;
}

void Config::set(const std::string& name, const std::string& value) {
  auto it = std::find_if(specs_.begin(), specs_.end(), [&](const OptionSpec& s) { return s.name == name; });
  EMCOMM_CHECK(it != specs_.end(), "set() of an option not declared: " + name);
  values_[name] = it->check(value);
  explicit_[name] = true;
}

std::string Config::to_ini() const {
  // Sections in the order their first option was declared.
  std::vector<std::string> sections;
  for (const auto& s : specs_)
    if (std::find(sections.begin(), sections.end(), s.section()) == sections.end())
      sections.push_back(s.section());
  std::ostringstream os;
  os << "# emcomm resolved config: every option with the value used (rerun with 'emcomm train FILE')\n";
  for (const auto& sec : sections) {
    os << "\n[" << sec << "]\n";
    for (const auto& s : specs_) {
      if (s.section() != sec) continue;
      os << "# " << s.help << " (" << s.allowed() << "; default " << s.default_value << ")\n";
      os << s.key() << " = " << values_.at(s.name) << "\n";
    }
  }
  return os.str();
}

Config resolve_config(const ConfigSchema& schema, const std::string& ini_path,
                      const std::vector<std::string>& overrides) {
  // Every name any component declares is known to the parser; applicability is checked after.
  std::set<std::string> known;
  for (const auto& s : schema.common.specs()) known.insert(s.name);
  for (const auto* list : {&schema.envs, &schema.algorithms})
    for (const auto& c : *list)
      for (const auto& s : c.options.specs()) known.insert(s.name);
  std::vector<std::string> valid(known.begin(), known.end());
  po::options_description desc;
  for (const auto& n : known) desc.add_options()(n.c_str(), po::value<std::string>());

  std::map<std::string, std::string> given;
  if (!ini_path.empty()) {
    std::ifstream in(ini_path);
    if (!in) throw UserError("cannot read config file '" + ini_path + "'");
    try {
      collect(po::parse_config_file(in, desc, true), " in " + ini_path, valid, &given);
    } catch (const po::error& e) {
      throw UserError("config file '" + ini_path + "': " + e.what());
    }
  }
  std::map<std::string, std::string> over;
  try {
    auto parsed = po::command_line_parser(overrides)
                      .options(desc)
                      .style(po::command_line_style::allow_long |
                             po::command_line_style::long_allow_adjacent)
                      .allow_unregistered()
                      .run();
    collect(parsed, " on the command line", valid, &over);
  } catch (const po::error& e) {
    throw UserError(std::string("command line: ") + e.what() + "; options are written --section.key=value");
  }
  for (const auto& kv : over) given[kv.first] = kv.second;

  // Select the env and algorithm, then keep only their options.
  auto pick = [&](const char* opt, const std::vector<Component>& list, const char* kind) -> const Component* {
    const OptionSpec* spec = schema.common.find(opt);
    EMCOMM_CHECK(spec != nullptr, std::string("schema lacks ") + opt);
    std::string name = given.count(opt) ? given[opt] : spec->default_value;
    std::string names;
    for (const auto& c : list) {
      if (c.name == name) return &c;
      names += (names.empty() ? "" : "|") + c.name;
    }
    throw UserError("option " + std::string(opt) + ": unknown " + kind + " '" + name + "', expected one of " + names);
  };
  const Component* env = pick("env.name", schema.envs, "env");
  const Component* algo = pick("train.algorithm", schema.algorithms, "algorithm");
  OptionSet applicable;
  applicable.merge(schema.common).merge(env->options).merge(algo->options);

  std::vector<std::string> applicable_names;
  for (const auto& s : applicable.specs()) applicable_names.push_back(s.name);
  // Every option that does not apply is reported, in one message (switching algorithm in a
  // config leaves several behind).
  std::vector<std::string> inapplicable, hints;
  for (const auto& kv : given) {
    if (applicable.find(kv.first)) continue;
    const std::string n = nearest_name(kv.first, applicable_names);
    inapplicable.push_back(kv.first);
    hints.push_back(n.empty() ? std::string() : "did you mean '" + n + "'?");
  }
  if (inapplicable.size() == 1)
    throw UserError("option " + inapplicable.front() + " does not apply to env '" + env->name + "' with algorithm '" +
                    algo->name + "'" + (hints.front().empty() ? "" : "; " + hints.front()));
  if (!inapplicable.empty()) {
    std::string all = std::to_string(inapplicable.size()) + " options do not apply to env '" + env->name +
                      "' with algorithm '" + algo->name + "':";
    for (size_t i = 0; i < inapplicable.size(); ++i)
      all += "\n  " + inapplicable[i] + (hints[i].empty() ? "" : " (" + hints[i] + ")");
    throw UserError(all);
  }

  Config cfg;
  cfg.specs_ = applicable.specs();
  cfg.source_ = ini_path;
  // Every bad value is reported, in one message, so a config is fixed in one round.
  std::vector<std::string> problems;
  for (const auto& s : cfg.specs_) {
    auto it = given.find(s.name);
    try {
      cfg.values_[s.name] = s.check(it != given.end() ? it->second : s.default_value);
    } catch (const UserError& e) {
      problems.push_back(e.what());
      continue;
    }
    // A given value equal to the default counts as not set: a saved config.ini (which lists
    // every option) then reruns and resumes like the config it came from.
    cfg.explicit_[s.name] = it != given.end() && cfg.values_[s.name] != s.check(s.default_value);
  }
  if (problems.size() == 1) throw UserError(problems.front());
  if (!problems.empty()) {
    std::string all = std::to_string(problems.size()) + " options have bad values:";
    for (const auto& p : problems) all += "\n  " + p;
    throw UserError(all);
  }
  return cfg;
}

}  // namespace emcomm
