// The referential game: batches, distractor sampling, human language, option checks.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/config.h"
#include "core/errors.h"
#include "envs/referential/referential.h"
#include "tests/test_util.h"

using namespace emcomm;
using Catch::Matchers::Contains;

namespace {

ReferentialGame::Options small_options() {
  ReferentialGame::Options o;
  o.synth.size = 600;
  o.synth.scene.noise = 0.05;
  o.synth.scene.jitter = 0.5;
  return o;
}

// A features dataset of n rows where row i is the vector (i % distinct, 0) and every row is in
// every split's pattern 0,1,2,0,1,2...; no captions, no concepts.
Dataset feature_dataset(int64_t n, int64_t distinct) {
  Dataset d;
  d.rows = n;
  d.feature_dim = 2;
  for (int64_t i = 0; i < n; ++i) {
    d.features.insert(d.features.end(), {float(i % distinct), 0.0f});
    d.split.push_back(uint8_t(i % 3));
  }
  return d;
}

}  // namespace

TEST_CASE("referential batches follow the contract: shapes, ranges, target slot") {
  ReferentialGame game(small_options());
  CHECK(game.name() == "referential");
  CHECK(game.object_shape() == std::vector<int64_t>{3, 32, 32});
  CHECK(game.sender_input_dim() == 3 * 32 * 32);
  const auto spec = game.receiver_spec();
  CHECK(spec.kind == ReceiverSpec::Kind::Discriminate);
  CHECK(spec.candidates == 10);
  CHECK(spec.candidate_dim == 3 * 32 * 32);
  CHECK(game.split_size(Split::Train) + game.split_size(Split::Val) + game.split_size(Split::Test) == 600);
  CHECK(game.split_size(Split::Val) == 60);
  Rng rng(3);
  const int64_t B = 2000;
  const SignalBatch b = game.sample(Split::Train, B, rng);
  CHECK(b.sender_input.sizes() == torch::IntArrayRef({B, 3, 32, 32}));
  CHECK(b.sender_input.scalar_type() == torch::kFloat32);
  CHECK(b.receiver_input.sizes() == torch::IntArrayRef({B, 10, 3, 32, 32}));
  CHECK(b.target.sizes() == torch::IntArrayRef({B}));
  CHECK(b.target.scalar_type() == torch::kInt64);
  CHECK(b.concept.sizes() == torch::IntArrayRef({B, 4}));
  CHECK(b.object_ids.sizes() == torch::IntArrayRef({B}));
  CHECK(b.sender_input.min().item<float>() >= 0.0f);
  CHECK(b.sender_input.max().item<float>() <= 1.0f);

  // The candidate at the target slot is the sender's image, the others are other images.
  const auto& data = game.dataset();
  for (int64_t r = 0; r < 200; ++r) {
    const int64_t t = b.target[r].item<int64_t>();
    CHECK(torch::equal(b.receiver_input[r][t], b.sender_input[r]));
    for (int64_t c = 0; c < 10; ++c)
      if (c != t) CHECK_FALSE(torch::equal(b.receiver_input[r][c], b.sender_input[r]));
  }
  // Concept of the batch = the dataset's concept of object_ids.
  for (int64_t r = 0; r < 20; ++r) {
    const int64_t row = b.object_ids[r].item<int64_t>();
    CHECK(data.split[row] == 0);
    for (int64_t a = 0; a < 4; ++a) CHECK(b.concept[r][a].item<int64_t>() == data.concepts[row * 4 + a]);
  }
  // Target slot uniform: each of the 10 slots gets 200 +- 4.5 sigma (sigma = sqrt(2000*.1*.9) = 13.4).
  auto counts = torch::bincount(b.target, {}, 10);
  for (int64_t c = 0; c < 10; ++c) {
    CHECK(counts[c].item<int64_t>() > 140);
    CHECK(counts[c].item<int64_t>() < 260);
  }
}

TEST_CASE("referential distractors have distinct concepts, distinct from the target") {
  // 600 scenes drawn from 480 concepts: many rows share a concept with another row.
  ReferentialGame game(small_options());
  const auto& d = game.dataset();
  Rng rng(9);
  for (Split s : kAllSplits) {
    const SignalBatch b = game.sample(s, 300, rng);
    // Map every candidate image back to its row to read its concept.
    const int64_t px = d.object_size();
    auto img = (b.receiver_input * 255).round().to(torch::kUInt8).permute({0, 1, 3, 4, 2}).contiguous();
    std::map<std::vector<uint8_t>, int64_t> row_of;
    for (int64_t i = 0; i < d.rows; ++i) row_of[std::vector<uint8_t>(&d.images[i * px], &d.images[(i + 1) * px])] = i;
    const uint8_t* p = img.data_ptr<uint8_t>();
    for (int64_t r = 0; r < 300; ++r) {
      std::set<std::vector<int32_t>> concepts;
      for (int64_t c = 0; c < 10; ++c) {
        auto it = row_of.find(std::vector<uint8_t>(p + (r * 10 + c) * px, p + (r * 10 + c + 1) * px));
        REQUIRE(it != row_of.end());
        CHECK(d.split[it->second] == int(s));  // candidates come from the episode's split
        concepts.insert(std::vector<int32_t>(&d.concepts[it->second * 4], &d.concepts[it->second * 4 + 4]));
      }
      CHECK(concepts.size() == 10);
    }
  }
}

TEST_CASE("referential distractors without concepts are distinct objects, also when few exist") {
  // 5 distinct feature vectors per split, 4 distractors: every episode shows all 5.
  ReferentialGame game(feature_dataset(60, 5), 4, "test data");
  CHECK(game.object_shape() == std::vector<int64_t>{2});
  CHECK(game.distinct_objects(Split::Val) == 5);
  CHECK_FALSE(game.has_human_language());
  Rng rng(1);
  const SignalBatch b = game.sample(Split::Val, 100, rng);
  CHECK(b.receiver_input.sizes() == torch::IntArrayRef({100, 5, 2}));
  CHECK_FALSE(b.concept.defined());
  for (int64_t r = 0; r < 100; ++r) {
    auto values = std::get<0>(torch::sort(b.receiver_input[r].select(1, 0)));
    CHECK(torch::equal(values, torch::arange(5, torch::kFloat32)));
    CHECK(b.receiver_input[r][b.target[r].item<int64_t>()][0].item<float>() == b.sender_input[r][0].item<float>());
  }
  CHECK_THAT(test::thrown_message([&] { game.human_messages(b); }), Contains("no human language"));
  CHECK_THAT(test::thrown_message([&] { ReferentialGame g(feature_dataset(60, 5), 5, "test data"); }),
             Contains("env.distractors=5") && Contains("6 distinct feature vectors") && Contains("has 5"));
}

TEST_CASE("referential loss, action and correctness score the target slot") {
  ReferentialGame game(feature_dataset(30, 10), 2, "test data");
  Rng rng(2);
  SignalBatch b = game.sample(Split::Train, 2, rng);
  b.target = torch::tensor({0, 2}, torch::kInt64);
  auto scores = torch::tensor({{2.0f, 0.0f, 0.0f}, {0.0f, 3.0f, 1.0f}});
  CHECK(torch::equal(game.receiver_action(scores), torch::tensor({0, 1}, torch::kInt64)));
  CHECK(torch::equal(game.correct(scores, b), torch::tensor({1.0f, 0.0f})));
  const auto loss = game.loss(scores, b);
  // -log softmax: row 0: log(e^2 + 2) - 2; row 1: log(1 + e^3 + e) - 1.
  CHECK(loss[0].item<float>() == Approx(std::log(std::exp(2.0) + 2) - 2));
  CHECK(loss[1].item<float>() == Approx(std::log(1 + std::exp(3.0) + std::exp(1.0)) - 1));
}

TEST_CASE("referential human language: captions as word ids and back to text") {
  auto o = small_options();
  o.synth.caption = {false, false, false};
  ReferentialGame game(o);
  REQUIRE(game.has_human_language());
  const auto& d = game.dataset();
  CHECK(game.human_vocab_size() == int64_t(d.vocab.size()) - 3);
  CHECK(game.human_length() == 8);
  Rng rng(4);
  const SignalBatch b = game.slice(Split::Test, 0, 5, rng);
  const auto words = game.human_messages(b);
  CHECK(words.sizes() == torch::IntArrayRef({5, 8}));
  CaptionGrammar grammar(2, 1, {});
  for (int64_t r = 0; r < 5; ++r) {
    const int64_t row = game.row_at(Split::Test, r);
    CHECK(b.object_ids[r].item<int64_t>() == row);
    const std::string text = game.human_text(words[r]);
    // The text parses back to the row's concept.
    std::vector<std::string> tokens;
    std::istringstream in(text);
    for (std::string w; in >> w;) tokens.push_back(w);
    const auto parsed = grammar.parse(tokens);
    REQUIRE(parsed.has_value());
    CHECK(scene_concept(*parsed) == std::vector<int32_t>(&d.concepts[row * 4], &d.concepts[row * 4 + 4]));
    CHECK(words[r].min().item<int64_t>() >= 1);  // no <unk> in synthetic captions
    CHECK(words[r].max().item<int64_t>() < game.human_vocab_size());
  }
  // Word id 0 is <unk>: a dataset with an <unk> caption word.
  Dataset unk = feature_dataset(30, 10);
  unk.vocab = {"<pad>", "<unk>", "<bos>", "<eos>", "hello"};
  unk.caption_length = 2;
  for (int64_t i = 0; i < 30; ++i) unk.captions.insert(unk.captions.end(), {i % 2 ? kUnk : 4, -1});
  ReferentialGame g(unk, 2, "test data");
  CHECK(g.human_vocab_size() == 2);
  const SignalBatch ub = g.slice(Split::Train, 0, 2, rng);  // rows 0 and 3
  CHECK(torch::equal(g.human_messages(ub), torch::tensor({{1, -1}, {0, -1}}, torch::kInt64)));
  CHECK(g.human_text(torch::tensor({1, 0, -1})) == "hello <unk>");
}

TEST_CASE("referential eval_set and slice follow the split order") {
  ReferentialGame game(small_options());
  Rng rng(5);
  const SignalBatch all = game.eval_set(Split::Val, 0, rng);
  CHECK(all.size() == 60);
  const SignalBatch some = game.eval_set(Split::Val, 20, rng);
  for (int64_t k = 0; k < 20; ++k) CHECK(some.object_ids[k].item<int64_t>() == game.row_at(Split::Val, k * 3));
  const SignalBatch sl = game.slice(Split::Train, 10, 4, rng);
  for (int64_t k = 0; k < 4; ++k) CHECK(sl.object_ids[k].item<int64_t>() == game.row_at(Split::Train, 10 + k));
  CHECK_THAT(test::thrown_message([&] { game.slice(Split::Val, 50, 20, rng); }), Contains("val split, which has 60"));
  // Same rng seed -> same batch.
  Rng r1(8), r2(8);
  CHECK(torch::equal(game.sample(Split::Train, 50, r1).receiver_input, game.sample(Split::Train, 50, r2).receiver_input));
}

TEST_CASE("referential synthetic data is the same for every run seed and follows env.data_seed") {
  auto o = small_options();
  o.synth.size = 50;
  o.distractors = 3;
  ReferentialGame a(o), b(o);
  CHECK(a.dataset().images == b.dataset().images);
  o.data_seed = 2;
  ReferentialGame c(o);
  CHECK(a.dataset().images != c.dataset().images);
}

TEST_CASE("referential options are validated naming the option") {
  auto cfg_with = [](const std::map<std::string, std::string>& set) {
    const OptionSet opts = ReferentialGame::option_set();
    std::map<std::string, std::string> values;
    for (const auto& s : opts.specs()) values[s.name] = s.default_value;
    Config cfg(opts.specs(), values, "test");
    for (const auto& kv : set) cfg.set(kv.first, kv.second);
    return cfg;
  };
  CHECK_THAT(test::thrown_message([&] { ReferentialGame::Options::from(cfg_with({{"env.objects", "5"}})); }),
             Contains("env.objects=5"));
  CHECK_THAT(test::thrown_message([&] { ReferentialGame::Options::from(cfg_with({{"env.size", "10"}, {"env.val_fraction", "0.5"}, {"env.test_fraction", "0.5"}})); }),
             Contains("env.val_fraction"));
  CHECK_THAT(test::thrown_message([&] { ReferentialGame::Options::from(cfg_with({{"env.dataset", "x.h5"}, {"env.noise", "0.2"}})); }),
             Contains("env.noise") && Contains("cannot be combined with env.dataset"));
  auto o = small_options();
  o.synth.size = 40;  // 4 val rows: fewer than 10 candidates
  CHECK_THAT(test::thrown_message([&] { ReferentialGame g(o); }),
             Contains("env.distractors=9") && Contains("val split") && Contains("has 4"));
  o.dataset = "/nonexistent/data.h5";
  CHECK_THAT(test::thrown_message([&] { ReferentialGame g(o); }), Contains("/nonexistent/data.h5") && Contains("does not exist"));
}
