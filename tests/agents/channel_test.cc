#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "agents/channel.h"
#include "agents/modules.h"

using namespace emcomm;

namespace {
const ChannelSpec kEos{5, 4, true};
const ChannelSpec kFixed{5, 4, false};
torch::Tensor msgs(std::vector<std::vector<int64_t>> rows) {
  auto t = torch::empty({int64_t(rows.size()), int64_t(rows[0].size())}, torch::kInt64);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) t[r][c] = rows[r][c];
  return t;
}
at::Generator gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }
}  // namespace

TEST_CASE("channel EOS: lengths count EOS; empty message, EOS first, no EOS, symbols after EOS", "[channel]") {
  auto m = msgs({{0, 3, 4, 1},    // EOS at position 0: length 1, no content
                 {2, 0, 0, 0},    // one symbol then EOS
                 {1, 2, 3, 4},    // no EOS: length max_len
                 {3, 0, 2, 1}});  // symbols after EOS are ignored
  CHECK(message_lengths(m, kEos).equal(torch::tensor({1, 2, 4, 2}, torch::kInt64)));
  CHECK(symbols_for_log(m, kEos).equal(msgs({{0, -1, -1, -1}, {2, 0, -1, -1}, {1, 2, 3, 4}, {3, 0, -1, -1}})));
  auto oh = onehots_of(m, kEos);
  CHECK(oh.sum({1, 2}).equal(torch::tensor({1.0f, 2.0f, 4.0f, 2.0f})));
  // Row 3's symbols after EOS leave no trace in what the listener reads.
  CHECK(oh[3].equal(onehots_of(msgs({{3, 0, 4, 4}}), kEos)[0]));
}

TEST_CASE("channel fixed length: every symbol counts, 0 is an ordinary symbol", "[channel]") {
  auto m = msgs({{0, 0, 0, 0}, {1, 2, 3, 4}});
  CHECK(message_lengths(m, kFixed).equal(torch::tensor({4, 4}, torch::kInt64)));
  CHECK(symbols_for_log(m, kFixed).equal(m));
  CHECK(onehots_of(m, kFixed).sum({1, 2}).equal(torch::tensor({4.0f, 4.0f})));
}

TEST_CASE("channel relaxations: shapes, gradients flow, greedy is argmax", "[channel][gumbel]") {
  auto g = gen(1);
  auto logits = torch::randn({8, 4, 5}, g).set_requires_grad(true);
  for (auto relax : {Relaxation::Gumbel, Relaxation::StGumbel, Relaxation::Reinforce}) {
    auto out = emit(logits, relax, 1.0, kFixed, g);
    REQUIRE(out.onehots.sizes() == torch::IntArrayRef({8, 4, 5}));
    REQUIRE(out.symbols.sizes() == torch::IntArrayRef({8, 4}));
    torch::Tensor objective = relax == Relaxation::Reinforce
                                  ? out.log_prob.sum() + out.entropy.sum()
                                  : (out.onehots * torch::arange(5).to(torch::kFloat32)).sum();
    logits.mutable_grad() = torch::Tensor();
    objective.backward();
    REQUIRE(logits.grad().defined());
    CHECK(logits.grad().abs().sum().item<double>() > 0);
  }
  auto soft = emit(logits, Relaxation::Gumbel, 1.0, kFixed, g).onehots;
  CHECK(soft.sum(-1).allclose(torch::ones({8, 4})));
  CHECK(soft.max().item<double>() < 1.0);  // soft: not one-hot
  auto st = emit(logits, Relaxation::StGumbel, 1.0, kFixed, g);
  CHECK(st.onehots.detach().equal(torch::one_hot(st.symbols, 5).to(torch::kFloat32)));  // hard forward
  auto greedy = emit(logits, Relaxation::Greedy, 1.0, kFixed, g);
  CHECK(greedy.symbols.equal(logits.argmax(-1)));
  CHECK(emit(logits, Relaxation::Greedy, 1.0, kFixed, g).symbols.equal(greedy.symbols));  // no noise
}

TEST_CASE("channel temperature: low tau makes Gumbel samples nearly one-hot", "[channel][gumbel]") {
  auto g = gen(2);
  auto logits = torch::randn({64, 4, 5}, g);
  auto cold = emit(logits, Relaxation::Gumbel, 0.01, kFixed, g).onehots;
  CHECK(std::get<0>(cold.max(-1)).mean().item<double>() > 0.95);
  auto warm = emit(logits, Relaxation::Gumbel, 10.0, kFixed, g).onehots;
  CHECK(std::get<0>(warm.max(-1)).mean().item<double>() < 0.5);
}

TEST_CASE("channel EOS in relaxed messages: content after EOS is masked", "[channel][gumbel]") {
  auto g = gen(3);
  // Position 1 strongly prefers EOS, so positions 2.. must carry (almost) nothing.
  auto logits = torch::zeros({16, 4, 5});
  logits.select(1, 1).select(1, 0).fill_(50.0);
  for (auto relax : {Relaxation::Gumbel, Relaxation::StGumbel, Relaxation::Reinforce, Relaxation::Greedy}) {
    auto out = emit(logits, relax, 1.0, kEos, g);
    CHECK(out.onehots.narrow(1, 2, 2).abs().max().item<double>() < 1e-6);
    CHECK(out.length.le(2).all().item<bool>());
  }
}

TEST_CASE("reinforce: log_prob of the sampled message and mean entropy", "[channel]") {
  auto g = gen(4);
  auto logits = torch::zeros({3, 4, 5});  // uniform: log p = log(1/5) per symbol
  auto out = emit(logits, Relaxation::Reinforce, 1.0, kFixed, g);
  CHECK(out.log_prob.allclose(torch::full({3}, 4 * std::log(0.2f))));
  CHECK(out.entropy.allclose(torch::full({3}, -std::log(0.2f))));
}

TEST_CASE("modules: shapes and seeded initialisation", "[agents]") {
  ChannelSpec ch{60, 6, false};
  ReceiverSpec rec;
  rec.attributes = 6;
  rec.values = 10;
  Speaker s1(60, 500, ch, Activation::None), s2(60, 500, ch, Activation::None);
  auto g1 = gen(7), g2 = gen(7);
  init_linear_layers(*s1, g1);
  init_linear_layers(*s2, g2);
  auto x = torch::one_hot(torch::randint(10, {3, 6}, g1), 10).view({3, 60}).to(torch::kFloat32);
  CHECK(s1(x).sizes() == torch::IntArrayRef({3, 6, 60}));
  CHECK(s1(x).equal(s2(x)));
  Listener l(ch, 500, rec, Activation::Relu);
  CHECK(l(torch::zeros({3, 6, 60})).sizes() == torch::IntArrayRef({3, 6, 10}));
  ReceiverSpec disc;
  disc.kind = ReceiverSpec::Kind::Discriminate;
  disc.candidates = 4;
  disc.candidate_dim = 60;
  Listener d(ch, 100, disc, Activation::None);
  CHECK(d(torch::zeros({3, 6, 60}), torch::zeros({3, 4, 60})).sizes() == torch::IntArrayRef({3, 4}));
}
