// End-to-end reproductions of issue 17 ("a researcher's first two hours"): inputs that used to
// crash or mislead. Each case is a command a new user ran.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const std::string kLewis = test::source_path("experiments/configs/lewis_selfplay.ini");
const std::string kTiny =
    " --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=16"
    " --train.steps=4 --train.eval_every=2 --eval.size=32 --eval.log_rows=4 --train.batch_size=8";

bool printable(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 && c != '\n' && c != '\t') return false;
  return true;
}

int python(const std::string& code) {
  return std::system(("/usr/bin/python3 -c \"" + code + "\"").c_str());
}

}  // namespace

TEST_CASE("first hours: run.out that cannot be a run directory exits 2 naming the path", "[e2e][errors]") {
  test::TempDir dir;
  auto r = test::run_emcomm("train '" + kLewis + "' --run.out=/proc/nope" + kTiny);
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("run.out '/proc/nope'") && Contains("cannot create the run directory"));

  // A non-empty directory that holds no earlier run ('/', '.', a home directory) is refused
  // even with --overwrite, and nothing in it is touched.
  fs::create_directories(dir / "home");
  { std::ofstream(dir / "home/notes.txt") << "mine"; }
  for (const std::string& out : {dir / "home", std::string(".")}) {
    const std::string cd = out == "." ? "cd '" + (dir / "home") + "' && " : "";
    r = test::run_shell(cd + "'" + EMCOMM_BIN + "' train '" + kLewis + "' --run.out=" + out + " --overwrite" + kTiny);
    INFO(out << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("is a directory that is not empty and holds no earlier run"));
    CHECK_FALSE(fs::exists(dir / "home/run.h5"));
    CHECK_FALSE(fs::exists(dir / "home/checkpoints"));
    CHECK(test::read_text(dir / "home/notes.txt") == "mine");
  }
  // An empty directory, and an earlier run's with --overwrite, are fine.
  fs::create_directories(dir / "empty");
  CHECK(test::run_emcomm("train '" + kLewis + "' --run.out='" + (dir / "empty") + "'" + kTiny).exit_code == 0);
  CHECK(test::run_emcomm("train '" + kLewis + "' --run.out='" + (dir / "empty") + "' --overwrite" + kTiny).exit_code == 0);
}

TEST_CASE("first hours: argument mistakes get messages that say what to type", "[e2e][errors]") {
  test::TempDir dir;
  struct Case {
    std::string args, expect;
  };
  fs::create_directories(dir / "adir");
  for (const auto& c : {Case{"train '" + (dir / "adir") + "'", "is a directory; to continue the run in it use: emcomm train --resume"},
                        Case{"train '" + kLewis + "' --train.steps 3", "write --train.steps=3"},
                        Case{"compare '" + kLewis + "' --seeds 1 --train.steps 3", "write --train.steps=3"},
                        Case{"analyze '" + (dir / "x.h5") + "' --split ''", "--split needs a split name"},
                        Case{"analyze '" + (dir / "x.h5") + "' --split=", "--split needs a split name"}}) {
    auto r = test::run_emcomm(c.args);
    INFO(c.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(c.expect));
  }
  // A garbage config file: the message names it without writing raw bytes to the terminal.
  {
    std::ofstream bin(dir / "garbage.ini", std::ios::binary);
    bin << "abc\x01\x1b[31mred\x9c=1\n";  // a control byte, a terminal escape, invalid UTF-8
  }
  auto g = test::run_emcomm("train '" + (dir / "garbage.ini") + "'");
  INFO(g.output);
  CHECK(g.exit_code == 2);
  CHECK_THAT(g.output, Contains("garbage.ini") && Contains("abc\\x01\\x1b[31mred\\x9c"));
  CHECK(printable(g.output));
  for (unsigned char c : g.output) CHECK(c < 0x80);
}

TEST_CASE("first hours: every command answers --help with exit 0, and emcomm --version names the run files' version",
          "[e2e]") {
  for (const std::string cmd : {"train", "compare", "sweep", "analyze", "eval", "bench", "make-dataset"}) {
    auto r = test::run_emcomm(cmd + " --help");
    INFO(cmd << "\n" << r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::StartsWith("usage: emcomm " + cmd));
  }
  auto help = test::run_emcomm("help");
  CHECK_THAT(help.output, Contains("train --resume RUN_DIR"));
  auto v = test::run_emcomm("--version");
  REQUIRE(v.exit_code == 0);
  test::TempDir dir;
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --run.out='" + (dir / "run") + "'" + kTiny).exit_code == 0);
  CHECK(v.output == "emcomm " + RunReader(dir / "run/run.h5").attribute("emcomm_version") + "\n");
}

TEST_CASE("first hours: analyze refuses a symbol after a message's end (the -1 padding rule)", "[e2e][errors]") {
  EMCOMM_NEEDS_PYTHON("h5py");
  test::TempDir dir;
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --run.out='" + (dir / "run") + "'" + kTiny).exit_code == 0);
  const std::string h5 = dir / "run/run.h5";
  REQUIRE(test::run_emcomm("analyze '" + h5 + "' --no-write").exit_code == 0);
  // The last val row (row 3 of the latest step's 4) keeps its 3 symbols but claims length 1:
  // positions 1 and 2 are after its end.
  REQUIRE(python("import h5py; f = h5py.File('" + h5 + "', 'r+'); d = f['interactions/val/length']; "
                 "d[d.shape[0] - 1] = 1; f.close()") == 0);
  auto r = test::run_emcomm("analyze '" + h5 + "' --no-write");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("malformed rows in split 'val'") && Contains("row 3 (length 1)") &&
                           Contains("at position 1, after the message's end (padding must be -1)"));
  // And a -1 inside a message.
  REQUIRE(python("import h5py; f = h5py.File('" + h5 + "', 'r+'); d = f['interactions/val/length']; n = d.shape[0] - 1; "
                 "d[n] = 3; m = f['interactions/val/message']; row = m[n]; row[1] = -1; m[n] = row; f.close()") == 0);
  r = test::run_emcomm("analyze '" + h5 + "' --no-write");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("row 3 (length 3) has symbol -1 at position 1, inside the message"));
}

TEST_CASE("first hours: a dataset without concepts trains (selfplay and s2p, features and images), concept metrics null",
          "[e2e]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy");
  test::TempDir dir;
  // Objects, split and captions (S2P needs a human language), no concepts.
  for (const std::string kind : {"features", "images"}) {
    const std::string data = dir / (kind + ".h5");
    const std::string objects = kind == "features" ? "f['features'] = rng.standard_normal((40, 6)).astype('float32')"
                                                   : "f['images'] = rng.integers(0, 256, (40, 8, 8, 3), dtype='uint8')";
    REQUIRE(python("import h5py, numpy as np; rng = np.random.default_rng(0); f = h5py.File('" + data +
                   "', 'w'); f.attrs['format'] = 'emcomm.dataset'; f.attrs['format_version'] = 1; " + objects +
                   "; f['split'] = np.array([0] * 30 + [1] * 5 + [2] * 5, dtype='uint8'); "
                   "f['captions'] = rng.integers(4, 8, (40, 2), dtype='int32'); "
                   "f['vocab'] = np.array([b'<pad>', b'<unk>', b'<bos>', b'<eos>', b'a', b'b', b'c', b'd'], dtype='S5'); "
                   "f.close()") == 0);
    for (const std::string algo : {"selfplay", "s2p"}) {
      const std::string ini = dir / "cfg.ini";
      std::ofstream(ini) << "[env]\nname = referential\ndistractors = 3\ndataset = " << data
                         << "\n[agents]\narch = gru\nhidden = 16\nembed = 8\ncnn_channels = 4\nvocab_size = 8\n"
                            "max_len = 2\n[train]\nalgorithm = " << algo << "\nbatch_size = 8\n[eval]\nsize = 5\nlog_rows = 5\n";
      const std::string run = dir / ("run-" + kind + "-" + algo);
      std::string extra = " --train.steps=8 --train.eval_every=4";
      if (algo == "s2p") extra += " --s2p.seed_size=10 --s2p.listener_pretrain=2 --s2p.speaker_pretrain=2";
      auto r = test::run_emcomm("train '" + ini + "' --run.out='" + run + "'" + extra);
      INFO(kind << " " << algo << "\n" << r.output);
      REQUIRE(r.exit_code == 0);
      RunReader reader(run + "/run.h5");
      CHECK(reader.validate().empty());
      CHECK(reader.interactions("val").concept_width == 0);
      auto a = test::run_emcomm("analyze '" + run + "/run.h5' --split val --json --no-write");
      INFO(a.output);
      REQUIRE(a.exit_code == 0);
      CHECK_THAT(a.output, Contains("\"topsim\": null") && Contains("\"mi_concept\": null"));
    }
  }
}

TEST_CASE("first hours: train without a config file uses the defaults, and a matrix run prints its figures",
          "[e2e]") {
  test::TempDir dir;
  auto r = test::run_emcomm("train --env.name=matrix --train.algorithm=reinforce --train.steps=20 --train.eval_every=10"
                            " --eval.size=50 --eval.log_rows=10 --metrics.cic_rows=10 --run.out='" + (dir / "m") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("finished 20 steps") && Contains("reward/mean"));
  CHECK_THAT(test::read_text(dir / "m/config.ini"),
             Catch::StartsWith("# emcomm run config resolved from: (defaults and the command line)"));
  RunReader reader(dir / "m/run.h5");
  CHECK(reader.validate().empty());
  CHECK(reader.config().at("env.n_acts") == "2");  // a default
  CHECK(test::run_emcomm("train").exit_code == 2);  // nothing at all is still a usage error
}

TEST_CASE("first hours: --resume on a finished run keeps its summary.json (wall_seconds included)", "[e2e][resume]") {
  test::TempDir dir;
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --run.out='" + (dir / "run") + "'" + kTiny).exit_code == 0);
  const std::string before = test::read_text(dir / "run/summary.json");
  auto r = test::run_emcomm("train --resume '" + (dir / "run") + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("had already finished at step 4") && Contains("sp_acc/val"));
  CHECK(test::read_text(dir / "run/summary.json") == before);
}

TEST_CASE("first hours: REINFORCE through the adapter logs concept and target as self-play does; analyze agrees "
          "with training", "[e2e][analyze]") {
  test::TempDir dir;
  // Every evaluation episode is logged (eval.size = log_rows), so the rows are the episodes the
  // training figures average over.
  for (const std::string mode : {"reconstruction", "discrimination"}) {
    const std::string run = dir / mode;
    auto r = test::run_emcomm("train --env.name=lewis --env.mode=" + mode + " --train.algorithm=reinforce --train.steps=40"
                              " --train.eval_every=20 --eval.size=200 --eval.log_rows=200 --run.out='" + run + "'");
    INFO(mode << "\n" << r.output);
    REQUIRE(r.exit_code == 0);
    const auto summary = nlohmann::json::parse(test::read_text(run + "/summary.json"));
    CHECK_FALSE(summary["final"].contains("sc"));  // the speaker takes no env action
    CHECK_FALSE(summary["final"].contains("ci_action"));
    RunReader reader(run + "/run.h5");
    REQUIRE(reader.interaction_rows("eval") == 400);  // evaluations at steps 20 and 40
    const InteractionBatch b = reader.interactions("eval", 200, 200);
    CHECK(b.concept_width == 6);  // the default Lewis game: 6 attributes
    CHECK(b.target_width == (mode == "reconstruction" ? 6 : 0));
    for (int32_t t : b.target) CHECK(t >= 0);
    if (mode == "reconstruction") CHECK(b.target == b.concept);  // the object itself is the target
    const auto a = test::run_emcomm("analyze '" + run + "/run.h5' --json --no-write");
    REQUIRE(a.exit_code == 0);
    const auto j = nlohmann::json::parse(a.output)["eval"];
    CHECK(j["topsim"].is_number());
    CHECK(j["posdis"].is_number());
    CHECK(j["mi_concept"].is_number());
    // The training figure "acc" is the fraction of episodes solved (every factor right), the rows'
    // exact target matches, not the fraction with some reward (graded in reconstruction).
    CHECK(j["accuracy"].get<double>() == Approx(summary["final"]["acc"].get<double>()).margin(1e-12));
    if (mode == "reconstruction") {  // where the reward rule would say otherwise
      double some_reward = 0;
      for (float w : b.reward) some_reward += w > 0 ? 1.0 / 200 : 0.0;
      CHECK(some_reward > j["accuracy"].get<double>());
    }
  }
}
