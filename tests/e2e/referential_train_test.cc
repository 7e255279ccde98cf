// End-to-end: a dataset written by h5py alone (tests/data/write_dataset.py) trains with
// `emcomm train`, on images and on features. Needs the GRU/CNN agents of the issue7-agents
// branch (agents.arch=gru): rename to referential_train_test.cc once that branch is merged.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;
using Catch::Matchers::Contains;

TEST_CASE("referential: an h5py-written dataset trains end to end with selfplay", "[e2e]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  for (const std::string kind : {"images", "features"}) {
    DYNAMIC_SECTION(kind) {
      test::TempDir dir;
      const std::string data = dir / "data.h5";
      const std::string cmd = "/usr/bin/python3 '" + test::source_path("tests/data/write_dataset.py") + "' '" + data +
                              "'" + (kind == "features" ? " --features" : "") + " 2>&1";
      REQUIRE(std::system(cmd.c_str()) == 0);
      const std::string config = dir / "referential.ini";
      std::ofstream(config) << "[env]\nname = referential\ndistractors = 3\n[agents]\narch = gru\n"
                               "[train]\nalgorithm = selfplay\nsteps = 20\neval_every = 10\n[eval]\nsize = 0\n";
      auto r = test::run_emcomm("train '" + config + "' --env.dataset='" + data + "' --run.out='" + (dir / "run") + "'");
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      RunReader reader(dir / "run/run.h5");
      CHECK(reader.validate().empty());
      CHECK(reader.config().at("env.dataset") == data);
      const auto acc = reader.scalar("sp_acc/test");
      REQUIRE(acc.step == std::vector<int64_t>{10, 20});
      for (double v : acc.value) CHECK((v >= 0 && v <= 1));
      CHECK_THAT(test::read_text(dir / "run/summary.json"), Contains("sp_acc/test"));
    }
  }
}
