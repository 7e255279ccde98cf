// End-to-end pieces of the S2P image game's reference setting (docs/referential.md "Reference
// image-game setting"): the COCO-folder converter (scripts/s2p-coco-to-h5.py) checked against
// hand-worked values by tests/data/check_s2p_coco.py, its output trained on with the reference
// loop's options, and the feature stand-in of `make-dataset --features`.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "core/run_file.h"
#include "envs/referential/dataset.h"
#include "tests/test_util.h"

using namespace emcomm;
using Catch::Matchers::Contains;

namespace {
// The reference loop's options (referential_s2p_reference.ini) on small agents and a tiny budget.
const char* kReferenceLoop =
    " --s2p.schedule=sched --s2p.round_supervision=split --s2p.sup_batch=8 --s2p.pretrain_select=best"
    " --s2p.pretrain_test_every=2 --s2p.optimizers=per_update --s2p.select=seed_val_listener"
    " --s2p.eval_each_round=true --s2p.selfplay_data=after_seed --s2p.listener_pretrain=4 --s2p.speaker_pretrain=2"
    " --s2p.sp_steps=2 --s2p.sup_steps=2 --s2p.rounds=2 --train.steps=100 --train.eval_every=100";
}  // namespace

TEST_CASE("s2p-coco-to-h5: the released COCO folder layout converts as ibr_game prepares it and trains", "[e2e]") {
  EMCOMM_NEEDS_PYTHON("h5py", "numpy", "torch");
  test::TempDir dir;
  const std::string cmd = "/usr/bin/python3 '" + test::source_path("tests/data/check_s2p_coco.py") + "' '" +
                          dir.path.string() + "' 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const Dataset ds = read_dataset(dir / "big.h5");
  CHECK(ds.rows == 100);
  CHECK(ds.feature_dim == 16);
  const std::string config = dir / "ref.ini";
  std::ofstream(config) << "[env]\nname = referential\ndistractors = 3\n[agents]\narch = gru\nhidden = 16\n"
                           "embed = 8\nscore = inv_mse\nshared_encoder = true\nvocab_size = 20\nmax_len = 8\n"
                           "eos = true\nrelaxation = st_gumbel\n[train]\nalgorithm = s2p\nbatch_size = 8\n"
                           "[s2p]\nseed_size = 40\n[eval]\nsize = 0\n";
  auto r = test::run_emcomm("train '" + config + "' --env.dataset='" + (dir / "big.h5") + "' --run.out='" +
                            (dir / "run") + "'" + kReferenceLoop);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  RunReader reader(dir / "run/run.h5");
  CHECK(reader.validate().empty());
  // 6 pretraining steps, then 2 rounds of 2 self-play + 2 listener + 2 speaker steps: the run
  // ends at step 18 with an evaluation after each round (steps 12 and 18).
  CHECK(reader.scalar("listener_human_acc/seed_val").step == std::vector<int64_t>{12, 18});
  CHECK(reader.scalar("train/pretrain/selected_listener_acc").step.size() == 1);
}

TEST_CASE("make-dataset --features: scenes as fixed random-network feature vectors", "[e2e]") {
  test::TempDir dir;
  auto a = test::run_emcomm("make-dataset '" + (dir / "f.h5") + "' --size=60 --image_size=16 --features=32");
  INFO(a.output);
  REQUIRE(a.exit_code == 0);
  CHECK_THAT(a.output, Contains("32-d random-network features of 16x16 scenes"));
  auto b = test::run_emcomm("make-dataset '" + (dir / "g.h5") + "' --size=60 --image_size=16 --features=32");
  auto img = test::run_emcomm("make-dataset '" + (dir / "i.h5") + "' --size=60 --image_size=16");
  REQUIRE(b.exit_code == 0);
  REQUIRE(img.exit_code == 0);
  const Dataset f = read_dataset(dir / "f.h5"), g = read_dataset(dir / "g.h5"), i = read_dataset(dir / "i.h5");
  CHECK(f.feature_dim == 32);
  CHECK_FALSE(f.pixels());
  CHECK(f.features == g.features);  // the same seed: the same network and scenes
  CHECK(f.captions == i.captions);  // the scenes' captions, concepts and split are the image file's
  CHECK(f.concepts == i.concepts);
  CHECK(f.split == i.split);
  // Distinct scenes give distinct vectors (the network keeps what tells scenes apart), and ReLU
  // outputs are non-negative like pooled CNN features.
  int64_t same = 0;
  for (int64_t r = 1; r < f.rows; ++r)
    same += std::equal(f.features.begin() + r * 32, f.features.begin() + (r + 1) * 32, f.features.begin());
  CHECK(same == 0);
  for (float v : f.features) REQUIRE(v >= 0.0f);
  auto bad = test::run_emcomm("make-dataset '" + (dir / "h.h5") + "' --features=-3");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Contains("--features='-3'"));
}
