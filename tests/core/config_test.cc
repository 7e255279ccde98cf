#include <catch2/catch.hpp>
#include <fstream>

#include "core/config.h"
#include "core/errors.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

ConfigSchema test_schema() {
  ConfigSchema s;
  s.common.add_choice("env.name", "a", {"a", "b"}, "env")
      .add_choice("train.algorithm", "x", {"x"}, "algorithm")
      .add_int("run.seed", 1, "seed", 0, 1000)
      .add_string("run.out", "", "dir");
  Component a{"a", "env a", {}}, b{"b", "env b", {}}, x{"x", "algo x", {}};
  a.options.add_int("env.attributes", 6, "attributes", 1, 16).add_bool("env.flag", false, "flag");
  b.options.add_float("env.noise", 0.5, "noise", 0.0, 1.0);
  x.options.add_float("train.lr", 3e-3, "lr", 1e-8, 10.0).add_choice("agents.relaxation", "gumbel", {"gumbel", "reinforce"}, "r");
  s.envs = {a, b};
  s.algorithms = {x};
  return s;
}

std::string write_ini(const test::TempDir& dir, const std::string& text) {
  std::string path = dir / "c.ini";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const ConfigSchema& s, const std::string& ini, const std::vector<std::string>& over) {
  try {
    resolve_config(s, ini, over);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config: INI values, overrides win, defaults fill the rest", "[config]") {
  test::TempDir dir;
  auto ini = write_ini(dir, "[run]\nseed = 7\n[env]\nattributes = 3\n[train]\nlr = 0.01\n");
  Config c = resolve_config(test_schema(), ini, {"--env.attributes=4", "--agents.relaxation=reinforce"});
  CHECK(c.get_int("run.seed") == 7);
  CHECK(c.get_int("env.attributes") == 4);
  CHECK(c.get_float("train.lr") == Approx(0.01));
  CHECK(c.get_string("agents.relaxation") == "reinforce");
  CHECK(c.get_bool("env.flag") == false);
  CHECK(c.is_set("run.seed"));
  CHECK_FALSE(c.is_set("env.flag"));
  CHECK_FALSE(c.has("env.noise"));  // belongs to env b, not selected
}

TEST_CASE("config: to_ini reads back to the same values", "[config]") {
  test::TempDir dir;
  Config c = resolve_config(test_schema(), "", {"--env.attributes=9", "--run.out=/tmp/x y"});
  auto ini = write_ini(dir, c.to_ini());
  Config d = resolve_config(test_schema(), ini, {});
  CHECK(d.values() == c.values());
}

TEST_CASE("config: unknown option suggests the nearest valid name", "[config]") {
  test::TempDir dir;
  auto msg = error_of(test_schema(), "", {"--env.atributes=3"});
  CHECK_THAT(msg, Catch::Contains("unknown option 'env.atributes'"));
  CHECK_THAT(msg, Catch::Contains("did you mean 'env.attributes'"));
  auto ini = write_ini(dir, "[train]\nlrr = 0.1\n");
  msg = error_of(test_schema(), ini, {});
  CHECK_THAT(msg, Catch::Contains("train.lrr"));
  CHECK_THAT(msg, Catch::Contains("did you mean 'train.lr'"));
}

TEST_CASE("config: wrong type and out of range name the option and the allowed range", "[config]") {
  auto msg = error_of(test_schema(), "", {"--env.attributes=abc"});
  CHECK_THAT(msg, Catch::Contains("env.attributes"));
  CHECK_THAT(msg, Catch::Contains("an integer in [1, 16]"));
  msg = error_of(test_schema(), "", {"--env.attributes=17"});
  CHECK_THAT(msg, Catch::Contains("an integer in [1, 16]"));
  msg = error_of(test_schema(), "", {"--env.attributes=2.5"});
  CHECK_THAT(msg, Catch::Contains("env.attributes"));
  msg = error_of(test_schema(), "", {"--train.lr=fast"});
  CHECK_THAT(msg, Catch::Contains("train.lr"));
  msg = error_of(test_schema(), "", {"--env.flag=maybe"});
  CHECK_THAT(msg, Catch::Contains("true or false"));
  msg = error_of(test_schema(), "", {"--agents.relaxation=magic"});
  CHECK_THAT(msg, Catch::Contains("one of gumbel|reinforce"));
  msg = error_of(test_schema(), "", {"--env.name=c"});
  CHECK_THAT(msg, Catch::Contains("env.name"));
}

TEST_CASE("config: an option of an unselected component is refused", "[config]") {
  auto msg = error_of(test_schema(), "", {"--env.noise=0.1"});
  CHECK_THAT(msg, Catch::Contains("env.noise does not apply to env 'a'"));
  CHECK(error_of(test_schema(), "", {"--env.name=b", "--env.noise=0.1"}).empty());
}

TEST_CASE("config: malformed arguments and missing files are user errors", "[config]") {
  CHECK_THAT(error_of(test_schema(), "/nonexistent/c.ini", {}), Catch::Contains("cannot read config file"));
  CHECK_FALSE(error_of(test_schema(), "", {"positional"}).empty());
  CHECK_FALSE(error_of(test_schema(), "", {"--run.seed"}).empty());
}

TEST_CASE("config: nearest_name", "[config]") {
  CHECK(nearest_name("env.valuse", {"env.values", "env.attributes"}) == "env.values");
  CHECK(nearest_name("attributes", {"env.values", "env.attributes"}) == "env.attributes");
  CHECK(nearest_name("zzzzzzzz", {"env.values"}).empty());
}
