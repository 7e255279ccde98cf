// Continuing a run past its train.steps (emcomm train --resume RUN_DIR --train.steps=N) and
// evaluating a trained run without training (emcomm eval), end to end (issue 17, items 13-14).
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "core/json.h"
#include "core/run_file.h"
#include "tests/test_util.h"

using namespace emcomm;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const std::string kLewis = test::source_path("experiments/configs/lewis_selfplay.ini");
const std::string kS2P = test::source_path("experiments/configs/lewis_s2p.ini");
const std::string kTiny =
    " --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=16"
    " --train.eval_every=4 --eval.size=32 --eval.log_rows=4 --train.batch_size=8 --run.checkpoint_every=4"
    " --run.checkpoint_keep=10";
const std::string kS2PTiny =
    " --env.attributes=3 --env.values=4 --agents.vocab_size=12 --agents.max_len=3 --agents.hidden=32"
    " --train.eval_every=10 --eval.size=64 --eval.log_rows=4 --train.batch_size=32 --s2p.seed_size=20"
    " --s2p.listener_pretrain=5 --s2p.speaker_pretrain=5 --s2p.sp_steps=5 --s2p.sup_steps=5";

std::map<std::string, ScalarSeries> all_scalars(const std::string& h5) {
  RunReader r(h5);
  std::map<std::string, ScalarSeries> out;
  for (const auto& name : r.scalar_names())
    if (name.rfind("time/", 0) != 0) out[name] = r.scalar(name);  // wall time differs
  return out;
}

double summary_final(const std::string& run_dir, const std::string& figure) {
  const std::string text = test::read_text(run_dir + "/summary.json");
  const size_t at = text.find(json_string(figure) + ": ");
  REQUIRE(at != std::string::npos);
  return std::stod(text.substr(at + json_string(figure).size() + 2));
}

}  // namespace

TEST_CASE("resume with a larger train.steps continues a finished run exactly as a longer run", "[e2e][resume]") {
  test::TempDir dir;
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --train.steps=8 --run.out='" + (dir / "short") + "'" + kTiny).exit_code == 0);
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --train.steps=16 --run.out='" + (dir / "long") + "'" + kTiny).exit_code == 0);
  auto r = test::run_emcomm("train --resume '" + (dir / "short") + "' --train.steps=16");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("train.steps raised to 16") && Contains("finished 16 steps"));
  // The same figures at the same steps, and the same final model, as the run trained to 16.
  const auto a = all_scalars(dir / "short/run.h5"), b = all_scalars(dir / "long/run.h5");
  REQUIRE(a.size() == b.size());
  for (const auto& [name, s] : b) {
    INFO(name);
    REQUIRE(a.count(name));
    CHECK(a.at(name).step == s.step);
    CHECK(a.at(name).value == s.value);
  }
  CHECK(test::read_text(dir / "short/checkpoints/final.pt") == test::read_text(dir / "long/checkpoints/final.pt"));
  // The config records the new value and when it was raised; the file still conforms.
  {
    RunReader reader(dir / "short/run.h5");  // closed before the run is continued again
    CHECK(reader.validate().empty());
    CHECK(reader.config().at("train.steps") == "16");
    CHECK_THAT(reader.config_ini(), Contains("# train.steps raised from 8 to 16 at step 8"));
  }
  CHECK_THAT(test::read_text(dir / "short/config.ini"),
             Catch::StartsWith("# emcomm run config resolved from: " + kLewis + "\n# train.steps raised from 8 to 16 at step 8"));
  CHECK(summary_final(dir / "short", "sp_acc/val") == summary_final(dir / "long", "sp_acc/val"));
  CHECK_THAT(test::read_text(dir / "short/summary.json"), Contains("\"steps\": 16"));

  // A second raise keeps the first note; lowering is refused and changes nothing.
  r = test::run_emcomm("train --resume '" + (dir / "short") + "' --train.steps=20");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(test::read_text(dir / "short/config.ini"),
             Contains("raised from 8 to 16 at step 8") && Contains("raised from 16 to 20 at step 16"));
  const std::string before = test::read_text(dir / "short/summary.json");
  r = test::run_emcomm("train --resume '" + (dir / "short") + "' --train.steps=12");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("the run's train.steps is 20; a resumed run may only raise it"));
  CHECK(test::read_text(dir / "short/summary.json") == before);
  // Other options still cannot change on resume.
  r = test::run_emcomm("train --resume '" + (dir / "short") + "' --train.steps=30 --train.lr=0.1");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("only --train.steps (to raise it)"));
}

TEST_CASE("resume: what S2P logs once at the end is not duplicated; a run ended by its schedule is not extended",
          "[e2e][resume]") {
  test::TempDir dir;
  const std::string run = dir / "s2p";
  REQUIRE(test::run_emcomm("train '" + kS2P + "' --train.steps=40 --run.out='" + run + "'" + kS2PTiny).exit_code == 0);
  auto selected_points = [&] { return RunReader(run + "/run.h5").scalar("selected/sp_acc/val").step.size(); };
  auto selected_rows = [&] { return RunReader(run + "/run.h5").interaction_rows("selected_val"); };
  REQUIRE(selected_points() == 1);
  const int64_t rows = selected_rows();
  REQUIRE(rows > 0);
  // Resuming the finished run re-logs the selected model's evaluation in place of the old one.
  REQUIRE(test::run_emcomm("train --resume '" + run + "'").exit_code == 0);
  CHECK(selected_points() == 1);
  CHECK(selected_rows() == rows);
  REQUIRE(test::run_emcomm("train --resume '" + run + "' --train.steps=60").exit_code == 0);
  CHECK(selected_points() == 1);
  CHECK(selected_rows() == rows);
  CHECK(RunReader(run + "/run.h5").validate().empty());
  CHECK(RunReader(run + "/run.h5").scalar("sp_acc/val").step.back() == 60);

  // s2p.rounds ends this run at step 5 + 5 + 2 x 10 = 30, before train.steps: raising
  // train.steps cannot continue it.
  const std::string rounds = dir / "rounds";
  REQUIRE(test::run_emcomm("train '" + kS2P + "' --train.steps=40 --s2p.schedule=sched --s2p.rounds=2 --run.out='" +
                           rounds + "'" + kS2PTiny).exit_code == 0);
  auto r = test::run_emcomm("train --resume '" + rounds + "' --train.steps=80");
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("the run ended at step 30 because its algorithm's schedule ended"));
  CHECK(RunReader(rounds + "/run.h5").config().at("train.steps") == "40");
}

TEST_CASE("eval: a checkpoint evaluated without training gives the run's own figures, in a file of its own",
          "[e2e][eval]") {
  test::TempDir dir;
  const std::string run = dir / "run";
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --train.steps=12 --run.out='" + run + "'" + kTiny).exit_code == 0);
  const std::string run_h5_before = test::read_text(run + "/run.h5");
  auto r = test::run_emcomm("eval '" + run + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("evaluated " + run + " at step 12") && Contains("sp_acc/val"));
  CHECK(test::read_text(run + "/run.h5") == run_h5_before);  // the run's own file is untouched
  {
    RunReader e(run + "/eval/final.h5");
    CHECK(e.validate().empty());
    CHECK(e.scalar("sp_acc/val").step == std::vector<int64_t>{12});
    CHECK(e.scalar("sp_acc/val").value[0] == summary_final(run, "sp_acc/val"));
    CHECK(e.interaction_rows("val") == 4);
  }
  // --step K: that checkpoint's model, whose greedy accuracy is the run's evaluation at K.
  r = test::run_emcomm("eval '" + run + "' --step 4 --json");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("\"step\": 4") && Contains("step-4.h5"));
  CHECK(RunReader(run + "/eval/step-4.h5").scalar("sp_acc/val").value ==
        std::vector<double>{RunReader(run + "/run.h5").scalar("sp_acc/val").value[0]});
  // eval.size and --split: fewer objects evaluated, only val's figures printed.
  r = test::run_emcomm("eval '" + run + "' --step=8 --split val --eval.size=3 --eval.log_rows=16");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("sp_acc/val"));
  CHECK_THAT(r.output, !Contains("sp_acc/test") && !Contains("sp_acc/train"));
  CHECK(RunReader(run + "/eval/step-8.h5").interaction_rows("val") == 3);

  // Mistakes: exit 2 with what is allowed.
  struct Bad {
    std::string args, says;
  };
  for (const Bad& b : std::vector<Bad>{
           {"'" + run + "' --step 7", "no checkpoint at step 7; " + run + "/checkpoints holds steps 4, 8, 12"},
           {"'" + run + "' --step soon", "expected final or a step number"},
           {"'" + run + "'", "eval/final.h5' exists; pass --overwrite"},
           {"'" + run + "' --overwrite --train.steps=3", "'emcomm eval' takes --step"},
           {"'" + run + "' --overwrite --split nope", "this run's evaluation has splits test, train, val"},
           {"'" + (dir / "nothing") + "'", "does not exist"},
           {"", "needs a run directory"},
       }) {
    r = test::run_emcomm("eval " + b.args);
    INFO(b.args << "\n" << r.output);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(b.says));
  }
  // An unfinished run has no final model.
  const std::string stopped = dir / "stopped";
  REQUIRE(test::run_emcomm("train '" + kLewis + "' --train.steps=12 --run.stop_after=8 --run.out='" + stopped + "'" + kTiny)
              .exit_code == 0);
  r = test::run_emcomm("eval '" + stopped + "'");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("has not finished"));
  CHECK(test::run_emcomm("eval '" + stopped + "' --step 8").exit_code == 0);
}

TEST_CASE("eval: S2P's final model is the seed-validation-selected one that summary.json reports", "[e2e][eval]") {
  test::TempDir dir;
  const std::string run = dir / "s2p";
  REQUIRE(test::run_emcomm("train '" + kS2P + "' --train.steps=40 --run.out='" + run + "'" + kS2PTiny).exit_code == 0);
  auto r = test::run_emcomm("eval '" + run + "'");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader e(run + "/eval/final.h5");
  CHECK(e.scalar("eval/model_step").value[0] == summary_final(run, "selected_step"));
  for (const std::string fig : {"sp_acc/val", "sp_acc/test", "listener_human_acc/val"}) {
    INFO(fig);
    CHECK(e.scalar(fig).value[0] == Approx(summary_final(run, fig)).margin(1e-12));
  }
}
