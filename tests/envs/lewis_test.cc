#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <set>
#include <tuple>

#include "core/errors.h"
#include "envs/lewis/lewis.h"

using namespace emcomm;

namespace {

LewisGame::Options opts(int64_t A, int64_t V, LewisGame::SplitKind split,
                        LewisGame::Mode mode = LewisGame::Mode::Reconstruct, int64_t distractors = 9) {
  LewisGame::Options o;
  o.attributes = A;
  o.values = V;
  o.split = split;
  o.mode = mode;
  o.distractors = distractors;
  return o;
}

std::set<int64_t> split_ids(const LewisGame& g, Split s) {
  std::set<int64_t> ids;
  for (int64_t i = 0; i < g.split_size(s); ++i) ids.insert(g.object_at(s, i));
  return ids;
}

}  // namespace

TEST_CASE("lewis human language: a seeded bijection plus a position permutation", "[lewis][language]") {
  HumanLanguage lang(4, 5, Rng(3));
  std::set<int64_t> words, positions;
  for (int64_t a = 0; a < 4; ++a) {
    positions.insert(lang.position_of(a));
    for (int64_t v = 0; v < 5; ++v) words.insert(lang.word_of(a, v));
  }
  CHECK(words.size() == 20);  // bijection onto 0..19
  CHECK(*words.begin() == 0);
  CHECK(*words.rbegin() == 19);
  CHECK(positions == std::set<int64_t>{0, 1, 2, 3});

  auto concept = torch::tensor({{0, 1, 2, 3}, {4, 4, 0, 1}}, torch::kInt64);
  auto msg = lang.encode(concept);
  REQUIRE(msg.sizes() == torch::IntArrayRef({2, 4}));
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t a = 0; a < 4; ++a)
      CHECK(msg[r][lang.position_of(a)].item<int64_t>() == lang.word_of(a, concept[r][a].item<int64_t>()));

  HumanLanguage same(4, 5, Rng(3)), other(4, 5, Rng(4));
  CHECK(torch::equal(same.encode(concept), msg));
  CHECK_FALSE(torch::equal(other.encode(concept), msg));
}

TEST_CASE("lewis paper split: product order 80/10/10, held-out values of attribute 0", "[lewis][split]") {
  LewisGame g(opts(3, 10, LewisGame::SplitKind::Paper), Rng(1));
  CHECK(g.num_objects() == 1000);
  CHECK(g.split_size(Split::Train) == 800);
  CHECK(g.split_size(Split::Val) == 100);
  CHECK(g.split_size(Split::Test) == 100);
  CHECK(g.object_at(Split::Train, 0) == 0);
  CHECK(g.object_at(Split::Val, 0) == 800);
  CHECK(g.object_at(Split::Test, 99) == 999);
  // Attribute 0 is the most significant digit: 0-7 in train, 8 in val, 9 in test.
  auto val = g.decode({g.object_at(Split::Val, 0), g.object_at(Split::Val, 99)});
  CHECK(val[0][0].item<int64_t>() == 8);
  CHECK(val[1][0].item<int64_t>() == 8);
  CHECK(g.decode({999})[0][2].item<int64_t>() == 9);
  CHECK(g.decode({123}).equal(torch::tensor({{1, 2, 3}}, torch::kInt64)));
}

TEST_CASE("lewis random split: sizes, disjoint, covering, seeded", "[lewis][split]") {
  LewisGame g(opts(2, 10, LewisGame::SplitKind::Random), Rng(1));
  auto tr = split_ids(g, Split::Train), va = split_ids(g, Split::Val), te = split_ids(g, Split::Test);
  CHECK(tr.size() == 80);
  CHECK(va.size() == 10);
  CHECK(te.size() == 10);
  std::set<int64_t> all(tr);
  all.insert(va.begin(), va.end());
  all.insert(te.begin(), te.end());
  CHECK(all.size() == 100);  // disjoint and covering
  CHECK(*all.rbegin() == 99);
  LewisGame same(opts(2, 10, LewisGame::SplitKind::Random), Rng(1));
  LewisGame other(opts(2, 10, LewisGame::SplitKind::Random), Rng(2));
  CHECK(split_ids(same, Split::Val) == va);
  CHECK(split_ids(other, Split::Val) != va);
  // Not product order: the shuffled val split is not the last-but-one tenth.
  std::set<int64_t> ordered;
  for (int64_t i = 80; i < 90; ++i) ordered.insert(i);
  CHECK(va != ordered);
}

TEST_CASE("lewis sampling: one-hot sender input, targets from the split", "[lewis]") {
  LewisGame g(opts(3, 4, LewisGame::SplitKind::Paper), Rng(1));
  Rng rng(9);
  auto b = g.sample(Split::Test, 50, rng);
  REQUIRE(b.sender_input.sizes() == torch::IntArrayRef({50, 12}));
  CHECK(b.sender_input.sum(1).eq(3).all().item<bool>());
  CHECK(b.sender_input.view({50, 3, 4}).argmax(2).equal(b.concept));
  CHECK(b.target.equal(b.concept));
  // 64 objects in product order: the test split is ids 57..63, all with attribute 0 == 3.
  CHECK(b.concept.select(1, 0).eq(3).all().item<bool>());
}

TEST_CASE("lewis reconstruction scoring: correct only when every attribute is right", "[lewis][score]") {
  LewisGame g(opts(2, 3 + 2, LewisGame::SplitKind::Paper), Rng(1));
  SignalBatch b;
  b.concept = torch::tensor({{0, 2}, {1, 1}}, torch::kInt64);
  b.target = b.concept;
  b.sender_input = torch::zeros({2, 10});
  auto out = torch::full({2, 2, 5}, -5.0);
  out[0][0][0] = 5;  // row 0: both attributes right
  out[0][1][2] = 5;
  out[1][0][1] = 5;  // row 1: attribute 1 wrong
  out[1][1][0] = 5;
  CHECK(g.correct(out, b).equal(torch::tensor({1.0f, 0.0f})));
  CHECK(g.receiver_action(out).equal(torch::tensor({{0, 2}, {1, 0}}, torch::kInt64)));
  auto loss = g.loss(out, b);
  // Row 0: two confident right answers -> small; row 1 pays for the wrong attribute.
  double lse = std::log(std::exp(5.0) + 4 * std::exp(-5.0));
  CHECK(loss[0].item<double>() == Approx(2 * (lse - 5.0)).margin(1e-6));
  CHECK(loss[1].item<double>() == Approx((lse - 5.0) + (lse + 5.0)).margin(1e-5));
}

TEST_CASE("lewis discrimination: distinct candidates, target at its slot, scoring", "[lewis][score]") {
  // 64 objects in product order: train ids 0..50, val 51..56, test 57..63. Five candidates
  // from the 51 train objects take the rejection path, from the 6 val objects Fisher-Yates.
  LewisGame g(opts(2, 8, LewisGame::SplitKind::Paper, LewisGame::Mode::Discriminate, 4), Rng(1));
  for (auto [split, lo, hi] : {std::tuple{Split::Train, 0, 51}, std::tuple{Split::Val, 51, 57}}) {
    Rng rng(2);
    auto b = g.sample(split, 200, rng);
    REQUIRE(b.receiver_input.sizes() == torch::IntArrayRef({200, 5, 16}));
    auto cand = b.receiver_input.view({200, 5, 2, 8}).argmax(3);  // [B, C, A]
    auto ids = (cand.select(2, 0) * 8 + cand.select(2, 1));       // [B, C]
    CHECK(ids.min().item<int64_t>() >= lo);
    CHECK(ids.max().item<int64_t>() < hi);
    for (int64_t r = 0; r < 200; ++r) {
      auto row = ids[r];
      REQUIRE(std::get<0>(at::_unique(row)).numel() == 5);  // distinct
      CHECK(cand[r][b.target[r].item<int64_t>()].equal(b.concept[r]));
    }
    CHECK(b.target.min().item<int64_t>() == 0);
    CHECK(b.target.max().item<int64_t>() == 4);
    auto out = torch::zeros({200, 5});
    out.scatter_(1, b.target.unsqueeze(1), 1.0);
    CHECK(g.correct(out, b).eq(1).all().item<bool>());
    CHECK(g.correct(-out, b).eq(0).all().item<bool>());
    CHECK(g.receiver_action(out).equal(b.target));
  }
}

TEST_CASE("lewis: too many distractors for a split is a user error", "[lewis]") {
  CHECK_THROWS_AS(LewisGame(opts(2, 8, LewisGame::SplitKind::Paper, LewisGame::Mode::Discriminate, 6), Rng(1)),
                  UserError);
  CHECK_THROWS_AS(LewisGame(opts(20, 1000, LewisGame::SplitKind::Random), Rng(1)), UserError);
  CHECK_THROWS_AS(LewisGame(opts(1, 5, LewisGame::SplitKind::Paper), Rng(1)), UserError);  // empty val split
}

TEST_CASE("lewis eval_set: evenly spread and deterministic", "[lewis]") {
  LewisGame g(opts(3, 10, LewisGame::SplitKind::Paper), Rng(1));
  Rng r1(0), r2(0);
  auto a = g.eval_set(Split::Train, 8, r1), b = g.eval_set(Split::Train, 8, r2);
  CHECK(a.concept.equal(b.concept));
  CHECK(a.concept[1].equal(torch::tensor({1, 0, 0}, torch::kInt64)));  // object 100 of 800
  CHECK(g.eval_set(Split::Val, 0, r1).size() == 100);
}
