#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <vector>

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
