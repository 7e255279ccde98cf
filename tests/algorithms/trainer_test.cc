#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <vector>

#include "algorithms/state_archive.h"
#include "algorithms/trainer.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

// Records how the Trainer drives it; its loss turns NaN at `nan_at`.
struct FakeAlgorithm : Algorithm {
  std::vector<int64_t> steps, evals;
  std::string saved;
  int64_t nan_at = -1;
  Metrics train_step(int64_t step) override {
    steps.push_back(step);
    return {{"loss", step == nan_at ? std::nan("") : double(step)}};
  }
  Metrics evaluate(int64_t step, RunWriter&) override {
    evals.push_back(step);
    return {{"sp_acc/val", step / 10.0}};
  }
  void save(const std::string& path) override { saved = path; }
  std::string headline() const override { return "sp_acc/val"; }
};

// Resumable: its state is the last step it trained; its parameter turns NaN at `bad_at`.
struct FakeResumable : FakeAlgorithm {
  int64_t bad_at = -1, last = 0;
  Metrics train_step(int64_t step) override {
    CHECK(step == last + 1);  // a resumed run continues right after the checkpoint
    last = step;
    return FakeAlgorithm::train_step(step);
  }
  bool resumable() const override { return true; }
  void save_state(torch::serialize::OutputArchive& ar) override { state::put(ar, "last", last); }
  void load_state(torch::serialize::InputArchive& ar) override { last = state::get_int(ar, "last"); }
  std::string nonfinite_parameter() override { return bad_at > 0 && last >= bad_at ? "speaker.weight" : ""; }
};

std::vector<std::string> names_of(const std::vector<std::string>& paths) {
  std::vector<std::string> names;
  for (const auto& p : paths) names.push_back(std::filesystem::path(p).filename().string());
  return names;
}

}  // namespace

TEST_CASE("trainer: steps, evaluation schedule, scalars, hooks, checkpoint", "[trainer]") {
  test::TempDir dir;
  FakeAlgorithm algo;
  std::vector<int64_t> hook_steps, hook_evals;
  int64_t ended_at = 0;
  {
    RunWriter log(dir / "run.h5", {{"run.seed", "1"}}, "[run]\nseed = 1\n", "test");
    Trainer::Options opt;
    opt.steps = 7;
    opt.eval_every = 3;
    opt.checkpoint_path = dir / "final.pt";
    Trainer trainer(opt, log);
    trainer.add_hooks({[&](int64_t s, const Metrics&) { hook_steps.push_back(s); },
                       [&](int64_t s, const Metrics& m) {
                         hook_evals.push_back(s);
                         CHECK(m.at("sp_acc/val") == Approx(s / 10.0));
                       },
                       [&](int64_t s, const Metrics& m) {
                         ended_at = s;
                         CHECK(m.at("sp_acc/val") == Approx(0.7));
                       }});
    Metrics last = trainer.run(algo);
    CHECK(last.at("train/loss") == Approx(7.0));  // mean training loss since the last evaluation
  }
  CHECK(algo.steps == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7});
  CHECK(algo.evals == std::vector<int64_t>{3, 6, 7});  // every 3 steps and at the end
  CHECK(hook_steps.size() == 7);
  CHECK(hook_evals == algo.evals);
  CHECK(ended_at == 7);
  CHECK(algo.saved == dir / "final.pt");
  RunReader r(dir / "run.h5");
  auto acc = r.scalar("sp_acc/val");
  CHECK(acc.step == std::vector<int64_t>{3, 6, 7});
  CHECK(acc.value == std::vector<double>{0.3, 0.6, 0.7});
  auto loss = r.scalar("train/loss");
  CHECK(loss.value == std::vector<double>{2.0, 5.0, 7.0});  // means of {1,2,3}, {4,5,6}, {7}
}

TEST_CASE("trainer: a non-finite loss stops the run naming the figure and step", "[trainer]") {
  test::TempDir dir;
  FakeAlgorithm algo;
  algo.nan_at = 5;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Trainer::Options opt;
  opt.steps = 10;
  opt.eval_every = 2;
  Trainer trainer(opt, log);
  CHECK_THROWS_WITH(trainer.run(algo), Catch::Contains("non-finite training loss") && Catch::Contains("step 5"));
  CHECK(algo.evals == std::vector<int64_t>{2, 4});
}

TEST_CASE("trainer: checkpoints every N steps and at a stop and at the end with the last K kept and resume continues", "[trainer]") {
  test::TempDir dir;
  Trainer::Options opt;
  opt.steps = 10;
  opt.eval_every = 4;
  opt.checkpoint_dir = dir / "ck";
  opt.checkpoint_every = 3;
  opt.checkpoint_keep = 2;
  opt.stop_after = 7;
  std::filesystem::create_directories(dir / "ck");
  {
    FakeResumable algo;
    RunWriter log(dir / "run.h5", {}, "", "test");
    Trainer trainer(opt, log);
    trainer.run(algo);
    CHECK(trainer.stopped);
    CHECK(trainer.stop_signal == 0);
    CHECK(trainer.last_step == 7);
    CHECK(algo.evals == std::vector<int64_t>{4});
  }
  // 3 and 6 by checkpoint_every, 7 at the stop; the last two kept.
  CHECK(names_of(Trainer::checkpoints(dir / "ck")) ==
        std::vector<std::string>{"step-000000000007.pt", "step-000000000006.pt"});
  FakeResumable algo;
  Trainer trainer(opt);
  CHECK(trainer.resume(algo, Trainer::checkpoints(dir / "ck").front()) == 7);
  CHECK(algo.last == 7);
  RunWriter log(dir / "run.h5", 7);
  trainer.set_log(log);
  trainer.run(algo);
  CHECK(!trainer.stopped);
  CHECK(algo.steps == std::vector<int64_t>{8, 9, 10});
  CHECK(algo.evals == std::vector<int64_t>{8, 10});
  CHECK(names_of(Trainer::checkpoints(dir / "ck")) ==
        std::vector<std::string>{"step-000000000010.pt", "step-000000000009.pt"});
  RunReader r(dir / "run.h5");
  CHECK(r.scalar("train/loss").step == std::vector<int64_t>{4, 8, 10});
  // The mean over steps 5..8 spans the stop: the running sums were in the checkpoint.
  CHECK(r.scalar("train/loss").value == std::vector<double>{2.5, 6.5, 9.5});
}

TEST_CASE("trainer: a non-finite parameter stops before the checkpoint and the last good one stays", "[trainer]") {
  test::TempDir dir;
  FakeResumable algo;
  algo.bad_at = 9;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Trainer::Options opt;
  opt.steps = 20;
  opt.eval_every = 2;
  opt.checkpoint_dir = dir.path.string();
  opt.checkpoint_every = 4;
  Trainer trainer(opt, log);
  CHECK_THROWS_WITH(trainer.run(algo), Catch::Contains("non-finite parameter speaker.weight after step 10") &&
                                           Catch::Contains("last good checkpoint is " + (dir / "step-000000000008.pt")));
  CHECK(algo.evals == std::vector<int64_t>{2, 4, 6, 8});  // no evaluation of the broken model
  CHECK(names_of(Trainer::checkpoints(dir.path.string())) == std::vector<std::string>{"step-000000000008.pt", "step-000000000004.pt"});
  FakeResumable again;
  Trainer resumed(opt);
  CHECK(resumed.resume(again, dir / "step-000000000008.pt") == 8);
  CHECK(again.last == 8);
  CHECK(RunReader(dir / "run.h5").scalar("sp_acc/val").step == std::vector<int64_t>{2, 4, 6, 8});
}

TEST_CASE("trainer: a file that is not a checkpoint is refused naming it", "[trainer]") {
  test::TempDir dir;
  { std::ofstream(dir / "step-000000000001.pt") << "garbage"; }
  FakeResumable algo;
  Trainer::Options opt;
  Trainer trainer(opt);
  auto msg = test::thrown_message([&] { trainer.resume(algo, dir / "step-000000000001.pt"); });
  CHECK_THAT(msg, Catch::Contains("checkpoint '" + (dir / "step-000000000001.pt") + "' cannot be resumed from"));
  FakeAlgorithm plain;  // not resumable
  CHECK_THAT(test::thrown_message([&] { trainer.resume(plain, dir / "step-000000000001.pt"); }),
             Catch::Contains("cannot resume"));
}
