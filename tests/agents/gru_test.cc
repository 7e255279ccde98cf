#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "agents/encoders.h"
#include "agents/gru.h"
#include "agents/modules.h"

using namespace emcomm;

namespace {
at::Generator gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

ReceiverSpec discrimination(int64_t candidates, int64_t dim) {
  ReceiverSpec r;
  r.kind = ReceiverSpec::Kind::Discriminate;
  r.candidates = candidates;
  r.candidate_dim = dim;
  return r;
}

std::shared_ptr<GruSpeakerImpl> speaker(const ChannelSpec& ch, int64_t in_dim, uint64_t seed) {
  auto s = std::make_shared<GruSpeakerImpl>(std::make_shared<BeholderImpl>(in_dim, 8), true, 8, 4, ch);
  auto g = gen(seed);
  init_layers(*s, g);
  return s;
}
}  // namespace

TEST_CASE("listener scores: dot product and inverse mean squared distance by hand", "[agents][gru]") {
  // Two candidates of dimension 2 for one message vector (1, 1).
  auto cand = torch::tensor({1.0f, 0.0f, 0.0f, 2.0f}).view({1, 2, 2});
  auto msg = torch::tensor({1.0f, 1.0f}).view({1, 2});
  CHECK(dot_scores(cand, msg).allclose(torch::tensor({1.0f, 2.0f}).view({1, 2})));
  // mse(c0) = (0^2 + 1^2) / 2 = 0.5 -> 2;  mse(c1) = (1^2 + 1^2) / 2 = 1 -> 1.
  CHECK(inv_mse_scores(cand, msg).allclose(torch::tensor({2.0f, 1.0f}).view({1, 2})));
  // A candidate equal to the message gets the highest score, and a finite one.
  auto exact = inv_mse_scores(torch::tensor({1.0f, 1.0f, 3.0f, 3.0f}).view({1, 2, 2}), msg);
  CHECK(std::isfinite(exact[0][0].item<float>()));
  CHECK(exact[0][0].item<float>() > exact[0][1].item<float>());
}

TEST_CASE("gru listener: reads the state at the message's end, ignoring what follows EOS", "[agents][gru]") {
  const ChannelSpec eos{6, 4, true};
  auto enc = std::make_shared<BeholderImpl>(3, 8);
  auto lp = std::make_shared<GruListenerImpl>(enc, eos, 8, 4, discrimination(2, 3), ListenerScore::InvMse);
  auto& l = *lp;
  auto g = gen(1);
  init_layers(l, g);
  torch::NoGradGuard no_grad;
  auto m = torch::tensor({3, 0, 5, 2}, torch::kInt64).view({1, 4});
  auto state = l.message_state(onehots_of(m, eos));
  // The same message in a 2-position channel ends at the same EOS.
  auto short_state = l.message_state(onehots_of(m.narrow(1, 0, 2), ChannelSpec{6, 2, true}));
  CHECK(state.allclose(short_state, 1e-6, 1e-7));
  // Without EOS the state is the last position's; it differs from the 2-symbol state.
  auto fixed = l.message_state(onehots_of(m, ChannelSpec{6, 4, false}));
  CHECK_FALSE(fixed.allclose(state, 1e-4, 1e-5));
  // Scores are the inverse-MSE of the encoded candidates against Linear(state), written out:
  // score_c = 1 / mean_h (enc(c)_h - (W state + b)_h)^2.
  auto cand = torch::rand({1, 2, 3}, g);
  auto scores = l.forward(onehots_of(m, eos), cand);
  REQUIRE(scores.sizes() == torch::IntArrayRef({1, 2}));
  auto params = l.named_parameters();
  auto target = torch::matmul(params["out.weight"], state[0]) + params["out.bias"];  // [H]
  auto enc_cand = l.encoder()->forward(cand)[0];                                    // [2, H]
  for (int64_t c = 0; c < 2; ++c) {
    double sq = 0;
    for (int64_t h = 0; h < target.size(0); ++h) sq += std::pow(enc_cand[c][h].item<double>() - target[h].item<double>(), 2);
    CHECK(scores[0][c].item<double>() == Approx(double(target.size(0)) / sq).epsilon(1e-4));
  }
  // The dot-product listener scores tanh(enc(c)) . state.
  auto dp = std::make_shared<GruListenerImpl>(std::make_shared<BeholderImpl>(3, 8), eos, 8, 4, discrimination(2, 3),
                                              ListenerScore::Dot);
  init_layers(*dp, g);
  auto dstate = dp->message_state(onehots_of(m, eos))[0];
  auto dcand = dp->encoder()->forward(cand)[0];
  auto dscores = dp->forward(onehots_of(m, eos), cand);
  for (int64_t c = 0; c < 2; ++c) {
    double dot = 0;
    for (int64_t h = 0; h < dstate.size(0); ++h)
      dot += std::tanh(dcand[c][h].item<double>()) * dstate[h].item<double>();
    CHECK(dscores[0][c].item<double>() == Approx(dot).epsilon(1e-4).margin(1e-6));
  }
}

TEST_CASE("gru speaker: EOS ends the message, later symbols are ignored, lengths by hand", "[agents][gru]") {
  const ChannelSpec eos{5, 4, true};
  auto s = speaker(eos, 3, 2);
  auto g = gen(3);
  auto x = torch::rand({6, 3}, g);
  torch::NoGradGuard no_grad;
  auto bias = s->named_parameters()["out.bias"];
  bias.fill_(0.0);
  bias[0] = 100.0;  // EOS first: every message is the empty message
  for (Relaxation r : {Relaxation::Greedy, Relaxation::StGumbel, Relaxation::Gumbel, Relaxation::Reinforce}) {
    auto out = s->speak(x, r, 1.0, g);
    CHECK(out.length.eq(1).all().item<bool>());
    CHECK(out.symbols.select(1, 0).eq(0).all().item<bool>());
    CHECK(out.onehots.narrow(1, 1, 3).abs().sum().item<float>() < 1e-6);  // nothing after EOS is heard
  }
  bias[0] = -100.0;  // EOS never: full length, every position heard
  auto out = s->speak(x, Relaxation::Greedy, 1.0, g);
  CHECK(out.length.eq(4).all().item<bool>());
  CHECK(out.onehots.sum({1, 2}).eq(4).all().item<bool>());
}

TEST_CASE("gru speaker: teacher forcing reproduces greedy speech and is causal", "[agents][gru]") {
  const ChannelSpec ch{7, 5, true};
  auto s = speaker(ch, 4, 5);
  auto g = gen(6);
  auto x = torch::rand({9, 4}, g);
  torch::NoGradGuard no_grad;
  auto greedy = s->speak(x, Relaxation::Greedy, 1.0, g);
  auto logits = s->teacher_logits(x, greedy.symbols);
  CHECK(logits.argmax(-1).equal(greedy.symbols));  // fed its own symbols, it says them again
  // Changing the symbols from position 2 on leaves the logits of positions 0..2 unchanged.
  auto other = greedy.symbols.clone();
  other.narrow(1, 2, 3).fill_(6);
  auto changed = s->teacher_logits(x, other);
  CHECK(changed.narrow(1, 0, 3).allclose(logits.narrow(1, 0, 3)));
  CHECK_FALSE(changed.narrow(1, 3, 2).allclose(logits.narrow(1, 3, 2)));
}

TEST_CASE("cnn encoder: images of any leading shape to hidden vectors, gradients reach the convolutions",
          "[agents][gru]") {
  auto ep = std::make_shared<CnnEncoderImpl>(12, 8, 4, 10);
  auto& enc = *ep;
  auto g = gen(7);
  init_layers(enc, g);
  auto img = torch::rand({2, 3, 3, 12, 8}, g);
  auto h = enc.forward(img);
  CHECK(h.sizes() == torch::IntArrayRef({2, 3, 10}));
  CHECK(h[1][2].allclose(enc.forward(img[1][2].unsqueeze(0))[0], 1e-5, 1e-6));  // rows are independent
  h.sum().backward();
  for (auto& p : enc.parameters()) CHECK(p.grad().abs().sum().item<float>() > 0);
  CHECK_THROWS(make_encoder({4, 8, 8}, 10, 4));
}
