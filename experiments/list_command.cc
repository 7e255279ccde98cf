#include <cstdio>

#include "algorithms/algorithm.h"
#include "algorithms/pairs.h"
#include "core/errors.h"
#include "experiments/commands.h"

namespace emcomm {

namespace {
void print_options(const OptionSet& set) {
  for (const auto& s : set.specs())
    std::printf("    --%-24s %s [default %s; %s]\n", s.name.c_str(), s.help.c_str(),
                s.default_value.empty() ? "\"\"" : s.default_value.c_str(), s.allowed().c_str());
}
void print_components(const char* title, const std::vector<Component>& cs) {
  std::printf("\n%s:\n", title);
  for (const auto& c : cs) {
    std::printf("  %s: %s\n", c.name.c_str(), c.description.c_str());
    print_options(c.options);
  }
}
}  // namespace

int list_command(const std::vector<std::string>& args) {
  if (!args.empty()) throw UserError("'emcomm list' takes no arguments, got '" + args.front() + "'");
  ConfigSchema schema = build_schema();
  std::printf("Options of every run:\n");
  print_options(schema.common);
  print_components("Environments (env.name)", schema.envs);
  print_components("Algorithms (train.algorithm)", schema.algorithms);
  std::printf("\nEnvironments by kind:\n");
  for (const EnvEntry* e : EnvRegistry::entries())
    std::printf("  %-12s %-9s game, %s observations%s\n", e->name.c_str(), env_kind_name(e->kind),
                observations_name(e->observations), e->human_language ? ", human language" : "");
  std::printf("\nEnv x algorithm pairs (emcomm train refuses the others before building anything):\n");
  std::printf("  %-12s %-10s %s\n", "env", "algorithm", "");
  for (const PairInfo& p : pairs_table())
    std::printf("  %-12s %-10s %s %s\n", p.env.c_str(), p.algorithm.c_str(), p.trains ? "trains " : "refused",
                p.trains ? ("(" + p.how + ")").c_str() : ("- " + p.how).c_str());
  return 0;
}

}  // namespace emcomm
