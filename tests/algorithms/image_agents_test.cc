// The agents on a small fake image game with variable-length captions, before any real image
// env: images need the CNN encoder, captions need agents.eos=true, and both trainers run
// unchanged on them.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "algorithms/s2p.h"
#include "algorithms/selfplay.h"
#include "core/errors.h"
#include "experiments/commands.h"
#include "tests/test_util.h"

using namespace emcomm;

namespace {

// K colours; object k is an 8 x 8 image of colour k with a bright pixel at a k-dependent
// place. Candidates: the target and `distractors` other colours, target slot uniform.
// Caption of object k: word k, plus word K + k % 2 when k >= 2 (one or two words, -1 padded).
class FakeImageGame : public SignalingGame {
 public:
  static constexpr int64_t K = 6, S = 8, kDistractors = 3;
  std::string name() const override { return "fake_images"; }
  int64_t sender_input_dim() const override { return 3 * S * S; }
  std::vector<int64_t> object_shape() const override { return {3, S, S}; }
  ReceiverSpec receiver_spec() const override {
    ReceiverSpec r;
    r.kind = ReceiverSpec::Kind::Discriminate;
    r.candidates = kDistractors + 1;
    r.candidate_dim = sender_input_dim();
    return r;
  }
  int64_t split_size(Split) const override { return K; }
  SignalBatch sample(Split, int64_t batch, Rng& rng) const override {
    std::vector<int64_t> ids(batch);
    for (auto& i : ids) i = int64_t(rng.below(K));
    return make(ids, rng);
  }
  SignalBatch eval_set(Split s, int64_t size, Rng& rng) const override { return slice(s, 0, K, rng); }
  SignalBatch slice(Split, int64_t first, int64_t count, Rng& rng) const override {
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < count; ++i) ids.push_back((first + i) % K);
    return make(ids, rng);
  }
  torch::Tensor loss(const torch::Tensor& out, const SignalBatch& b) const override {
    return torch::nn::functional::cross_entropy(
        out, b.target, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  }
  torch::Tensor receiver_action(const torch::Tensor& out) const override { return out.argmax(-1); }
  torch::Tensor correct(const torch::Tensor& out, const SignalBatch& b) const override {
    return (out.argmax(-1) == b.target).to(torch::kFloat32);
  }
  bool has_human_language() const override { return true; }
  int64_t human_vocab_size() const override { return K + 2; }
  int64_t human_length() const override { return 2; }
  torch::Tensor human_messages(const SignalBatch& b) const override {
    auto k = b.concept.select(1, 0);
    auto second = torch::where(k >= 2, K + k % 2, torch::full_like(k, -1));
    return torch::stack({k, second}, 1);
  }

 private:
  static torch::Tensor image(int64_t k) {
    auto img = torch::zeros({3, S, S});
    img[k % 3].fill_(0.3 + 0.3 * double(k / 3));
    img.select(1, k).select(1, (3 * k) % S).fill_(1.0);
    return img;
  }
  SignalBatch make(const std::vector<int64_t>& ids, Rng& rng) const {
    const int64_t B = int64_t(ids.size()), C = kDistractors + 1;
    SignalBatch b;
    b.sender_input = torch::empty({B, 3, S, S});
    b.receiver_input = torch::empty({B, C, 3, S, S});
    b.target = torch::empty({B}, torch::kInt64);
    b.concept = torch::empty({B, 1}, torch::kInt64);
    for (int64_t i = 0; i < B; ++i) {
      const int64_t slot = int64_t(rng.below(C));
      b.sender_input[i].copy_(image(ids[i]));
      b.target[i] = slot;
      b.concept[i][0] = ids[i];
      int64_t other = ids[i];
      for (int64_t c = 0; c < C; ++c) {
        if (c == slot) {
          b.receiver_input[i][c].copy_(image(ids[i]));
          continue;
        }
        other = (other + 1) % K == ids[i] ? (other + 2) % K : (other + 1) % K;
        b.receiver_input[i][c].copy_(image(other));
      }
    }
    return b;
  }
};

Config config(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--agents.arch=gru",       "--agents.hidden=32",     "--agents.embed=8",
                                   "--agents.cnn_channels=4", "--agents.vocab_size=9",  "--agents.max_len=3",
                                   "--agents.eos=true",
                                   "--agents.relaxation=st_gumbel", "--train.batch_size=32", "--train.lr=0.005",
                                   "--eval.size=0",           "--eval.log_rows=4"};
  args.insert(args.end(), extra.begin(), extra.end());
  return resolve_config(build_schema(), "", args);
}

}  // namespace

TEST_CASE("image agents: gru self-play with a CNN encoder learns a fake image game", "[gru][images]") {
  Config cfg = config({"--train.algorithm=selfplay"});
  auto game = std::make_shared<FakeImageGame>();
  SelfPlay algo(SelfPlay::Options::from(cfg), game, Rng(2));
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  for (int64_t t = 1; t <= 300; ++t) algo.train_step(t);
  CHECK(algo.evaluate(300, log).at("sp_acc/train") > 0.6);  // chance 0.25
}

TEST_CASE("image agents: s2p on captions of varying length; agents.eos=false and linear agents are refused",
          "[gru][images][s2p]") {
  auto game = std::make_shared<FakeImageGame>();
  Config cfg = config({"--train.algorithm=s2p", "--s2p.schedule=supervised", "--s2p.seed_size=6",
                       "--s2p.seed_val_fraction=0", "--s2p.select=last"});
  S2P algo(S2P::Options::from(cfg), game, Rng(3));
  // Captions in channel form: words shift past EOS, the -1 padding becomes EOS.
  auto human = algo.human_channel_messages(algo.seed_train());
  for (int64_t i = 0; i < human.size(0); ++i) {
    const int64_t k = algo.seed_train().concept[i][0].item<int64_t>();
    CHECK(human[i][0].item<int64_t>() == k + 1);
    CHECK(human[i][1].item<int64_t>() == (k >= 2 ? FakeImageGame::K + k % 2 + 1 : 0));
    CHECK(human[i][2].item<int64_t>() == 0);
  }
  for (int64_t t = 1; t <= 300; ++t) algo.train_step(t);
  test::TempDir dir;
  RunWriter log(dir / "run.h5", {}, "", "test");
  Metrics m = algo.evaluate(300, log);
  CHECK(m.at("speaker_human_match/train") == 1.0);
  CHECK(m.at("speaker_token_acc/train") == 1.0);
  CHECK(m.at("listener_human_acc/train") == 1.0);

  CHECK_THROWS_WITH(S2P(S2P::Options::from(config({"--train.algorithm=s2p", "--agents.eos=false",
                                                    "--agents.max_len=2", "--s2p.seed_size=6"})),
                        game, Rng(3)),
                    Catch::Contains("agents.eos=true"));
  CHECK_THROWS_WITH(SelfPlay(SelfPlay::Options::from(config({"--train.algorithm=selfplay", "--agents.arch=linear",
                                                              "--agents.max_len=2"})),
                             game, Rng(3)),
                    Catch::Contains("agents.arch=gru"));
}
