// End-to-end: a dataset written by h5py alone (tests/data/write_dataset.py) trains with
// `emcomm train`, on images and on features, with the GRU/CNN agents (agents.arch=gru), and the
// pair learns its training objects.
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
      // Small agents: 300 steps take seconds.
      std::ofstream(config) << "[env]\nname = referential\ndistractors = 3\n[agents]\narch = gru\nhidden = 32\n"
                               "embed = 16\ncnn_channels = 8\nvocab_size = 10\nmax_len = 2\n"
                               "[train]\nalgorithm = selfplay\nsteps = 300\neval_every = 150\nbatch_size = 16\n"
                               "[eval]\nsize = 0\n";
      auto r = test::run_emcomm("train '" + config + "' --env.dataset='" + data + "' --run.out='" + (dir / "run") + "'");
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      RunReader reader(dir / "run/run.h5");
      CHECK(reader.validate().empty());
      CHECK(reader.config().at("env.dataset") == data);
      const auto acc = reader.scalar("sp_acc/test");
      REQUIRE(acc.step == std::vector<int64_t>{150, 300});
      // The pair learns its 16 training objects: 4 candidates, chance 1/4 (a listener deaf to
      // the message gets 9 or more of the 16 right with probability 0.004). Seeds 1-3 get 10-14.
      // The 4 val and 4 test images (seen colours and corners, other brightness) are too few to
      // bar.
      CHECK(reader.scalar("sp_acc/train").value.back() > 0.5);
      CHECK_THAT(test::read_text(dir / "run/summary.json"), Contains("sp_acc/test"));
    }
  }
}
