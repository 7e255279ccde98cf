#include "algorithms/algorithm.h"
#include "algorithms/trainer.h"
#include "experiments/commands.h"

namespace emcomm {

namespace {
std::vector<std::string> names_of(const std::vector<Component>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.name);
  return out;
}
}  // namespace

ConfigSchema build_schema() {
  ConfigSchema schema;
  schema.envs = EnvRegistry::components();
  schema.algorithms = AlgorithmRegistry::components();
  schema.common.add_choice("env.name", "lewis", names_of(schema.envs), "environment")
      .add_choice("train.algorithm", "selfplay", names_of(schema.algorithms), "training algorithm")
      .merge(trainer_options());
  return schema;
}

}  // namespace emcomm
