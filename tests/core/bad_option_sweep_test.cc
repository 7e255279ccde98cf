// Every option of every registered env and algorithm rejects values of the wrong type and
// out of range with a UserError naming the option (in process: ~1900 checks), and through the
// real CLI every option gets a bad value and inconsistent combinations are refused: exit 2,
// the option named, nothing written.
#include <catch2/catch.hpp>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/errors.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;

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

namespace {

struct CliCase {
  std::string label, args, must_name;  // must_name: what the message has to contain
  test::CommandResult result;
};

// Runs every case through the real binary, two at a time (the cases are independent).
void run_cli_cases(std::vector<CliCase>& cases) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < cases.size(); i = next++) cases[i].result = test::run_emcomm(cases[i].args);
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
}

void check_cli_cases(const std::vector<CliCase>& cases) {
  for (const auto& c : cases) {
    INFO(c.label << "\nemcomm " << c.args << "\n" << c.result.output);
    CHECK(c.result.exit_code == 2);
    CHECK_THAT(c.result.output, Catch::Contains(c.must_name));
    CHECK_THAT(c.result.output, Catch::Contains("emcomm: error:"));  // one clear message, no crash
  }
}

// The one bad value each option gets through the CLI: out of range when it has a bound,
// else a value of the wrong type.
std::string cli_bad_value(const OptionSpec& s) {
  const auto v = bad_values(s);
  return v.size() > 4 ? v[4] : v.front();
}

}  // namespace

TEST_CASE("bad option sweep: through the CLI every registered option rejects a bad value with exit 2 naming it",
          "[e2e][sweep]") {
  // Batched: one `emcomm train` per env + algorithm pair, giving a bad value to each option
  // no earlier pair covered, from a minimal config naming only the pair. The CLI reports
  // every bad value in one message, so each option must be named in its pair's output.
  const ConfigSchema schema = build_schema();
  test::TempDir dir;
  std::set<std::string> covered;
  int64_t strings = 0;
  std::vector<CliCase> cases;
  std::vector<std::vector<std::string>> named;  // per case: the options it must name
  for (const auto& env : schema.envs)
    for (const auto& algo : schema.algorithms) {
      const std::string ini = dir / (env.name + "-" + algo.name + ".ini");
      OptionSet all;
      all.merge(schema.common).merge(env.options).merge(algo.options);
      std::string args = "train '" + ini + "' --run.out='" + (dir / "never") + "'";
      std::vector<std::string> names;
      for (const auto& spec : all.specs()) {
        if (spec.name == "env.name" || spec.name == "train.algorithm" || !covered.insert(spec.name).second) continue;
        if (spec.type == OptType::String) {  // any text is a string; checked where it is used
          ++strings;
          continue;
        }
        args += " '--" + spec.name + "=" + cli_bad_value(spec) + "'";
        names.push_back(spec.name);
      }
      if (names.empty()) continue;
      std::ofstream(ini) << "[env]\nname = " << env.name << "\n[train]\nalgorithm = " << algo.name << "\n";
      cases.push_back({env.name + " + " + algo.name, args, "emcomm: error:", {}});
      named.push_back(names);
    }
  run_cli_cases(cases);
  check_cli_cases(cases);
  size_t options = 0;
  for (size_t i = 0; i < cases.size(); ++i)
    for (const auto& name : named[i]) {
      INFO(cases[i].label << ": " << name << "\n" << cases[i].result.output);
      CHECK_THAT(cases[i].result.output, Catch::Contains("option " + name + ":"));
      ++options;
    }
  INFO(options << " options through the CLI in " << cases.size() << " runs, " << strings << " string options");
  CHECK(options > 60);
  CHECK(options + strings == covered.size());  // every registered option but env.name/train.algorithm
  CHECK(!fs::exists(dir / "never"));          // a rejected config leaves nothing behind
}

TEST_CASE("bad option sweep: inconsistent combinations exit 2 naming the options", "[e2e][sweep]") {
  test::TempDir dir;
  const std::string s2p = "train '" + test::source_path("experiments/configs/lewis_s2p.ini") + "' --run.out='" +
                          (dir / "never") + "' ";
  const std::string sp = "train '" + test::source_path("experiments/configs/lewis_selfplay.ini") + "' --run.out='" +
                         (dir / "never") + "' ";
  std::vector<CliCase> cases = {
      {"more distractors than distinct objects", sp + "--env.mode=discrimination --env.attributes=2 --env.values=5 --env.distractors=20",
       "env.distractors", {}},
      {"a human language longer than the channel", s2p + "--agents.max_len=4", "agents.max_len", {}},
      {"a human language with more words than the vocabulary", s2p + "--agents.vocab_size=20", "agents.vocab_size", {}},
      {"a seed set larger than the train split", s2p + "--env.attributes=2 --env.values=5 --agents.max_len=2 --s2p.seed_size=50",
       "s2p.seed_size", {}},
      {"imitation in a population of one", s2p + "--population.imitate_every=5", "population.imitate_every", {}},
      {"EOS with a one-symbol vocabulary", sp + "--agents.eos=true --agents.vocab_size=1", "agents.vocab_size", {}},
      {"resume with an overwrite", "train --resume '" + (dir / "never") + "' --overwrite", "--overwrite", {}},
  };
  run_cli_cases(cases);
  check_cli_cases(cases);
}
