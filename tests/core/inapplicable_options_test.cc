// Options left behind when a config switches env or algorithm are all named in one message.
#include <catch2/catch.hpp>

#include "core/errors.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

using namespace emcomm;

TEST_CASE("config: every option that does not apply is reported in one message", "[config]") {
  const std::string msg = test::thrown_message([] {
    resolve_config(build_schema(), "",
                   {"--env.name=lewis", "--train.algorithm=reinforce", "--agents.activation=relu",
                    "--agents.relaxation=gumbel", "--s2p.schedule=sched"});
  });
  CHECK_THAT(msg, Catch::StartsWith("3 options do not apply to env 'lewis' with algorithm 'reinforce'") &&
                      Catch::Contains("agents.activation") && Catch::Contains("agents.relaxation") &&
                      Catch::Contains("s2p.schedule"));
  const std::string one = test::thrown_message(
      [] { resolve_config(build_schema(), "", {"--train.algorithm=reinforce", "--agents.activation=relu"}); });
  CHECK_THAT(one, Catch::StartsWith("option agents.activation does not apply to env 'lewis' with algorithm 'reinforce'"));
}
