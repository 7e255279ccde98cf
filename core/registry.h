// A name -> entry registry living in a function-local static (no static-init order trouble).
// Envs and algorithms register themselves with one line in their own .cc file:
//   static const bool registered = Registry<EnvEntry>::add({"lewis", "...", options, factory});
// Libraries holding such files are CMake OBJECT libraries so the linker keeps them.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/errors.h"

namespace emcomm {

template <class Entry>  // Entry has: std::string name, description; OptionSet options.
class Registry {
 public:
  static bool add(Entry entry) {
    auto& m = map();
    EMCOMM_CHECK(m.count(entry.name) == 0, "registered twice: " + entry.name);
    std::string name = entry.name;
    m.emplace(std::move(name), std::move(entry));
    return true;
  }
  // kind is "env" or "algorithm", for the message.
  static const Entry& get(const std::string& name, const std::string& kind) {
    auto& m = map();
    auto it = m.find(name);
    if (it == m.end()) throw UserError("unknown " + kind + " '" + name + "', expected one of " + names_joined());
    return it->second;
  }
  static std::vector<const Entry*> entries() {
    std::vector<const Entry*> out;
    for (const auto& kv : map()) out.push_back(&kv.second);
    return out;
  }
  static std::vector<Component> components() {
    std::vector<Component> out;
    for (const auto& kv : map()) out.push_back({kv.second.name, kv.second.description, kv.second.options});
    return out;
  }
  static std::string names_joined() {
    std::string s;
    for (const auto& kv : map()) s += (s.empty() ? "" : "|") + kv.first;
    return s;
  }

 private:
  static std::map<std::string, Entry>& map() {
    static std::map<std::string, Entry> m;
    return m;
  }
};

}  // namespace emcomm
