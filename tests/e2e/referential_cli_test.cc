// End-to-end: emcomm make-dataset, and emcomm train on a dataset file that is malformed.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "envs/referential/dataset.h"
#include "tests/test_util.h"

using namespace emcomm;
using Catch::Matchers::Contains;


TEST_CASE("cli: make-dataset writes the scenes the game renders, and refuses bad options", "[e2e]") {
  test::TempDir dir;
  const std::string out = dir / "scenes.h5";
  auto r = test::run_emcomm("make-dataset '" + out + "' --size=50 --objects=2 --noise=0.1 --seed=4 --synonyms=false");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("wrote 50 scenes (40 train, 5 val, 5 test)"));
  const Dataset file = read_dataset(out);
  SynthOptions o;
  o.size = 50;
  o.scene.objects = 2;
  o.scene.noise = 0.1;
  o.scene.jitter = 0.5;
  o.caption = {false, true, true};
  const Dataset mem = synthesize(o, 4);
  CHECK(file.images == mem.images);
  CHECK(file.captions == mem.captions);
  CHECK(file.concepts == mem.concepts);

  r = test::run_emcomm("make-dataset '" + out + "' --size=50");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("already exists") && Contains("--overwrite"));
  CHECK(test::run_emcomm("make-dataset '" + out + "' --size=60 --overwrite").exit_code == 0);
  CHECK(read_dataset(out).rows == 60);

  struct Bad {
    std::string args, expected;
  };
  for (const Bad& b : {Bad{"--size=abc", "env.size"}, Bad{"--noise=2", "env.noise"}, Bad{"--objects=7", "env.objects=7"},
                       Bad{"--image_size=12", "env.image_size"}, Bad{"--sizes=5", "did you mean '--size'"},
                       Bad{"--size", "needs a value"}, Bad{"", "needs an output file"}}) {
    const std::string target = b.expected == "needs an output file" ? "" : "'" + (dir / "bad.h5") + "' ";
    r = test::run_emcomm("make-dataset " + target + b.args);
    INFO(b.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(b.expected));
    CHECK_FALSE(std::filesystem::exists(dir / "bad.h5"));
  }
  CHECK_THAT(test::run_emcomm("help").output, Contains("make-dataset"));
}

TEST_CASE("cli: training on a malformed dataset file exits 2 naming the file and the problem", "[e2e]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  test::TempDir dir;
  const std::string data = dir / "broken.h5";
  const std::string cmd = "/usr/bin/python3 '" + test::source_path("tests/data/write_dataset.py") + "' '" + data +
                          "' --malformed caption_id 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string config = dir / "referential.ini";
  std::ofstream(config) << "[env]\nname = referential\ndistractors = 3\n[train]\nalgorithm = selfplay\nsteps = 2\n";
  auto r = test::run_emcomm("train '" + config + "' --env.dataset='" + data + "' --run.out='" + (dir / "run") + "'");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("dataset file '" + data + "'") && Contains("captions row 5 position 1") &&
                           Contains("outside the vocabulary"));
  CHECK_FALSE(std::filesystem::exists(dir / "run/run.h5"));
}
