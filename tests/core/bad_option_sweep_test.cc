// Every option of every registered env and algorithm rejects values of the wrong type and
// out of range with a UserError naming the option (the CLI turns it into exit code 2).
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>

#include "core/errors.h"
#include "experiments/commands.h"

using namespace emcomm;

namespace {

std::vector<std::string> bad_values(const OptionSpec& s) {
  auto num = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  switch (s.type) {
    case OptType::Int: {
      std::vector<std::string> v = {"abc", "1.5", "", "1e3x"};
      if (std::isfinite(s.min)) v.push_back(num(s.min - 1));
      if (std::isfinite(s.max)) v.push_back(num(s.max + 1));
      return v;
    }
    case OptType::Float: {
      std::vector<std::string> v = {"abc", "", "nan", "inf"};
      if (std::isfinite(s.min)) v.push_back(num(s.min - 1 - std::abs(s.min)));
      if (std::isfinite(s.max)) v.push_back(num(s.max + 1 + std::abs(s.max)));
      return v;
    }
    case OptType::Bool:
      return {"maybe", "2", ""};
    case OptType::Choice:
      return {"no-such-choice", ""};
    case OptType::String:
      return {};
  }
  return {};
}

}  // namespace

TEST_CASE("bad option sweep: every registered option rejects bad values naming the option", "[config][sweep]") {
  const ConfigSchema schema = build_schema();
  int64_t checked = 0;
  for (const auto& env : schema.envs)
    for (const auto& algo : schema.algorithms) {
      OptionSet all;
      all.merge(schema.common).merge(env.options).merge(algo.options);
      for (const auto& spec : all.specs()) {
        if (spec.name == "env.name" || spec.name == "train.algorithm") continue;  // select the components
        for (const auto& bad : bad_values(spec)) {
          INFO(env.name << " + " << algo.name << ": --" << spec.name << "=" << bad);
          std::vector<std::string> args = {"--env.name=" + env.name, "--train.algorithm=" + algo.name,
                                           "--" + spec.name + "=" + bad};
          try {
            resolve_config(schema, "", args);
            FAIL("accepted");
          } catch (const UserError& e) {
            CHECK_THAT(e.what(), Catch::Contains(spec.name));
          }
          ++checked;
        }
      }
    }
  CHECK(checked > 200);
}

TEST_CASE("bad option sweep: the CLI exits 2 naming the option for a sample of them", "[e2e][sweep]") {
  // One bad value per option type through the real binary (the in-process sweep covers all).
  for (const auto* name : {"env.values", "agents.temperature", "agents.eos", "env.split", "train.steps"}) {
    std::string bad = std::string(name) == "agents.eos" ? "maybe" : "-5x";
    std::string cmd = std::string("'") + EMCOMM_BIN + "' train '" + EMCOMM_SOURCE_DIR +
                      "/experiments/configs/lewis_selfplay.ini' --run.out=/nonexistent/never --" + name + "=" + bad +
                      " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    int status = pclose(p);
    INFO(cmd << "\n" << out);
    CHECK(WEXITSTATUS(status) == 2);
    CHECK_THAT(out, Catch::Contains(name));
  }
}
