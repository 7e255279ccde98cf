// The up-front memory estimate (algorithms/memory_check.h): hand-computed on a small Lewis game,
// every shipped config far below a small machine's memory, an absurd batch refused.
#include <catch2/catch.hpp>

#include <filesystem>

#include "algorithms/memory_check.h"
#include "core/errors.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;

namespace {

std::pair<Config, std::shared_ptr<Env>> built(const std::string& ini, std::vector<std::string> extra) {
  Config cfg = resolve_config(build_schema(), ini, extra);
  Rng root(static_cast<uint64_t>(cfg.get_int("run.seed")));
  auto env = EnvRegistry::get(cfg.get_string("env.name"), "env").make(cfg, root.derive("env"));
  return {cfg, env};
}

}  // namespace

TEST_CASE("memory estimate: a Lewis self-play step by hand", "[memory]") {
  // 3 attributes x 4 values: sender input 12, reconstruction output 12; hidden 10, L 2, V 5.
  auto [cfg, env] = built("", {"--env.name=lewis", "--train.algorithm=selfplay", "--env.attributes=3", "--env.values=4",
                               "--agents.hidden=10", "--agents.max_len=2", "--agents.vocab_size=5",
                               "--train.batch_size=100"});
  const double per_object = 2 * 12 + 6 * 10 + 8 * (2 * 5) + 6 * 12;  // 236 floats
  const double params = 4 * 2 * 10 * (2 * 5);  // two 10 x 10 message layers, weights + grad + 2 Adam moments
  CHECK(estimate_peak_memory(*env, cfg).bytes == 4.0 * (100 * per_object + params));
  CHECK_NOTHROW(check_memory(*env, cfg));
}

TEST_CASE("memory estimate: every shipped config fits in 2 GB by the estimate", "[memory]") {
  for (const auto& e : fs::directory_iterator(test::source_path("experiments/configs"))) {
    if (e.path().extension() != ".ini") continue;
    INFO(e.path().filename().string());
    const Config c = resolve_config(build_schema(), e.path().string(), {});
    if (c.has("env.dataset") && !c.get_string("env.dataset").empty()) continue;  // needs a dataset file
    auto [cfg, env] = built(e.path().string(), {});
    const MemoryEstimate m = estimate_peak_memory(*env, cfg);
    INFO(m.driver);
    CHECK(m.bytes > 0);
    CHECK(m.bytes < 2e9);
  }
}

TEST_CASE("memory estimate: a batch that cannot fit is refused before anything is written", "[memory][e2e]") {
  test::TempDir dir;
  auto r = test::run_emcomm("train '" + test::source_path("experiments/configs/lewis_selfplay.ini") +
                            "' --train.batch_size=16777216 --run.out='" + (dir / "run") + "'");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Catch::Contains("this run needs at least") && Catch::Contains("train.batch_size=16777216") &&
                           Catch::Contains("available"));
  CHECK_FALSE(fs::exists(dir / "run"));
  CHECK(available_memory_bytes() > 0);
}
