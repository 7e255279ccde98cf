// The CIC probe: enumeration (single- and multi-symbol, EOS), sampling (shapes, weights,
// determinism, frequencies, EOS with hand values through the trainers' pair and population
// probes), batching of receiver calls, the options, and agreement of its tables with
// metrics::cic on hand-checkable senders and receivers.
#include "algorithms/cic_probe.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <vector>

#include "algorithms/signal_log.h"
#include "core/config.h"
#include "metrics/cic.h"

using namespace emcomm;

namespace {

at::Generator make_gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

double h2(double p) { return p <= 0 || p >= 1 ? 0.0 : -(p * std::log2(p) + (1 - p) * std::log2(1 - p)); }

std::vector<float> floats(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

double cic_of(const CicTables& t) {
  auto pm = floats(t.p_message), pa = floats(t.p_action);
  const int64_t n = t.p_message.size(0), m = t.p_message.size(1);
  if (t.p_action.dim() == 4)
    return metrics::cic_factorised(pm.data(), pa.data(), n, m, t.p_action.size(2), t.p_action.size(3));
  return metrics::cic(pm.data(), pa.data(), n, m, t.p_action.size(2));
}

// A receiver whose action is the symbol at `position` (one-hot over V).
ReceiverProbs copy_symbol(int64_t position, int64_t V) {
  return [=](const torch::Tensor& symbols, const torch::Tensor&) {
    return torch::one_hot(symbols.select(1, position), V).to(torch::kFloat32);
  };
}

}  // namespace

TEST_CASE("cic probe enumerates every single-symbol message with the sender's softmax", "[cic_probe]") {
  const ChannelSpec ch{2, 1, false};
  // Three states: a uniform sender, p = (3/4, 1/4), and a nearly deterministic one.
  auto logits = torch::tensor({0.0f, 0.0f, std::log(3.0f), 0.0f, 0.0f, 30.0f}).view({3, 1, 2});
  auto gen = make_gen(1);
  CicTables t = cic_probe(logits, copy_symbol(0, 2), 1024, ch, gen);
  REQUIRE(t.p_message.sizes() == torch::IntArrayRef({3, 2}));
  REQUIRE(t.p_action.sizes() == torch::IntArrayRef({3, 2, 2}));
  REQUIRE(t.messages.defined());
  CHECK(torch::equal(t.messages, torch::tensor({0, 1}, torch::kInt64).view({2, 1})));
  CHECK(torch::allclose(t.p_message, torch::softmax(logits.squeeze(1), -1)));
  CHECK(torch::equal(t.p_action, torch::eye(2).unsqueeze(0).expand({3, 2, 2})));

  // A listener that copies the message: CIC(s) = H(sender at s).
  const double want = (1.0 + h2(0.25) + h2(1.0 / (1.0 + std::exp(30.0)))) / 3.0;
  CHECK(cic_of(t) == Approx(want).epsilon(1e-6));

  // A listener that ignores the message: CIC = 0.
  CicTables deaf = cic_probe(
      logits, [](const torch::Tensor& s, const torch::Tensor&) { return torch::full({s.size(0), 3}, 1.0f / 3); }, 1024,
      ch, gen);
  CHECK(deaf.p_action.sizes() == torch::IntArrayRef({3, 2, 3}));
  CHECK(cic_of(deaf) == 0.0);
}

TEST_CASE("cic probe passes each message with its state index and keeps a factorised action", "[cic_probe]") {
  const ChannelSpec ch{3, 2, false};
  auto logits = torch::randn({4, 2, 3}, make_gen(3));
  auto gen = make_gen(1);
  // Factor 0 is (state + first symbol) % 3, factor 1 the second symbol: [R, 2, 3].
  auto receiver = [](const torch::Tensor& s, const torch::Tensor& rows) {
    auto f0 = torch::one_hot((rows + s.select(1, 0)).remainder(3), 3);
    auto f1 = torch::one_hot(s.select(1, 1), 3);
    return torch::stack({f0, f1}, 1).to(torch::kFloat32);
  };
  CicTables t = cic_probe(logits, receiver, 9, ch, gen);  // 3^2 = 9 <= 9: enumerated
  REQUIRE(t.p_action.sizes() == torch::IntArrayRef({4, 9, 2, 3}));
  REQUIRE(t.messages.sizes() == torch::IntArrayRef({9, 2}));
  auto logp = torch::log_softmax(logits, -1);
  for (int64_t k = 0; k < 9; ++k) {
    const int64_t a = k / 3, b = k % 3;  // lexicographic order
    CHECK(t.messages[k][0].item<int64_t>() == a);
    CHECK(t.messages[k][1].item<int64_t>() == b);
    for (int64_t n = 0; n < 4; ++n) {
      CHECK(t.p_message[n][k].item<float>() ==
            Approx(std::exp(logp[n][0][a].item<float>() + logp[n][1][b].item<float>())).epsilon(1e-5));
      CHECK(t.p_action[n][k][0][(n + a) % 3].item<float>() == 1.0f);
      CHECK(t.p_action[n][k][1][b].item<float>() == 1.0f);
    }
  }
  CHECK(torch::allclose(t.p_message.sum(1), torch::ones({4})));
  // Factor 1 copies the second symbol: its CIC is H(position 1); factor 0 that of position 0.
  auto p = torch::softmax(logits, -1);
  auto h = -(p * torch::log2(p)).sum(-1);  // [4, 2]
  CHECK(cic_of(t) == Approx(h.mean().item<double>()).epsilon(1e-5));
}

TEST_CASE("cic probe with EOS: sequences after EOS count separately and CIC is unchanged", "[cic_probe]") {
  const ChannelSpec ch{3, 2, true};  // symbol 0 ends the message
  auto logits = torch::randn({5, 2, 3}, make_gen(7));
  auto gen = make_gen(1);
  // The listener reads the message as the channel delivers it (zero after EOS) and copies it
  // into one of 7 actions: (0) -> 0, (1,0) -> 1, (1,1) -> 2, ..., (2,2) -> 6.
  auto receiver = [&](const torch::Tensor& s, const torch::Tensor&) {
    auto oh = onehots_of(s, ch);  // [R, 2, 3]
    auto id = torch::where(s.select(1, 0) == 0, torch::zeros_like(s.select(1, 0)),
                           1 + (s.select(1, 0) - 1) * 3 + s.select(1, 1));
    CHECK(torch::equal(oh.select(2, 0).select(1, 0), (s.select(1, 0) == 0).to(torch::kFloat32)));
    return torch::one_hot(id, 7).to(torch::kFloat32);
  };
  CicTables t = cic_probe(logits, receiver, 1024, ch, gen);
  REQUIRE(t.messages.sizes() == torch::IntArrayRef({9, 2}));
  // Log form: -1 after the EOS.
  for (int64_t k = 0; k < 3; ++k) {
    CHECK(t.messages[k][0].item<int64_t>() == 0);
    CHECK(t.messages[k][1].item<int64_t>() == -1);
  }
  CHECK(t.messages[4][0].item<int64_t>() == 1);
  CHECK(t.messages[4][1].item<int64_t>() == 1);
  CHECK(torch::allclose(t.p_message.sum(1), torch::ones({5})));

  // The same CIC over the 7 distinct messages, with the EOS message's probability p(EOS first).
  auto p = torch::softmax(logits, -1);
  std::vector<float> pm, pa;
  for (int64_t n = 0; n < 5; ++n) {
    pm.push_back(p[n][0][0].item<float>());
    for (int64_t a = 1; a < 3; ++a)
      for (int64_t b = 0; b < 3; ++b) pm.push_back(p[n][0][a].item<float>() * p[n][1][b].item<float>());
    for (int64_t k = 0; k < 7; ++k)
      for (int64_t a = 0; a < 7; ++a) pa.push_back(a == k ? 1.0f : 0.0f);
  }
  CHECK(cic_of(t) == Approx(metrics::cic(pm.data(), pa.data(), 5, 7, 7)).epsilon(1e-5));
}

TEST_CASE("cic probe samples from the sender's policy when there are too many messages", "[cic_probe]") {
  const ChannelSpec ch{4, 3, false};  // 64 messages
  auto logits = torch::randn({3, 3, 4}, make_gen(11));
  auto receiver = copy_symbol(0, 4);
  auto g1 = make_gen(5), g2 = make_gen(5), g3 = make_gen(6);
  CicTables a = cic_probe(logits, receiver, 10, ch, g1);
  CicTables b = cic_probe(logits, receiver, 10, ch, g2);
  CicTables c = cic_probe(logits, receiver, 10, ch, g3);
  REQUIRE(a.p_message.sizes() == torch::IntArrayRef({3, 10}));
  REQUIRE(a.p_action.sizes() == torch::IntArrayRef({3, 10, 4}));
  CHECK_FALSE(a.messages.defined());  // each row has its own sample: no shared message set
  CHECK(torch::equal(a.p_message, torch::full({3, 10}, 0.1f)));
  CHECK(torch::equal(a.p_action, b.p_action));      // same generator seed, same sample
  CHECK_FALSE(torch::equal(a.p_action, c.p_action));  // another seed, another sample

  // A deterministic sender: every sampled message is its argmax, so CIC = 0 even for a
  // listener that copies the message.
  auto sure = torch::full({2, 3, 4}, -50.0f);
  sure.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 2}, 50.0f);
  CicTables d = cic_probe(sure, receiver, 10, ch, g1);
  CHECK(torch::equal(d.p_action.select(2, 2), torch::ones({2, 10})));
  CHECK(cic_of(d) == 0.0);

  // Frequencies follow the policy: 4000 draws of position 0 against softmax(logits[:, 0]).
  const ChannelSpec long_ch{4, 7, false};  // 16384 messages > 4000
  auto logits7 = torch::randn({2, 7, 4}, make_gen(12));
  CicTables e = cic_probe(logits7, receiver, 4000, long_ch, g1);
  auto freq = e.p_action.mean(1);  // [2, 4]
  CHECK(torch::allclose(freq, torch::softmax(logits7.select(1, 0), -1), 0.0, 0.03));
}

TEST_CASE("cic probe batches receiver calls and keeps rows aligned across batches", "[cic_probe]") {
  const ChannelSpec ch{1024, 4, false};  // L x V = 4096: 1024 messages per receiver call
  auto logits = torch::randn({3, 4, 1024}, make_gen(2));
  auto gen = make_gen(3);
  int calls = 0;
  auto receiver = [&](const torch::Tensor& s, const torch::Tensor& rows) {
    ++calls;
    CHECK(s.size(0) <= 1024);
    // Action: 2 * state + (first symbol is even), over 6 actions.
    return torch::one_hot(2 * rows + s.select(1, 0).remainder(2), 6).to(torch::kFloat32);
  };
  CicTables t = cic_probe(logits, receiver, 1000, ch, gen);  // sampled: 3 x 1000 messages
  CHECK(calls == 3);
  REQUIRE(t.p_action.sizes() == torch::IntArrayRef({3, 1000, 6}));
  for (int64_t n = 0; n < 3; ++n) {
    auto mass = t.p_action[n].sum(0);  // all of row n's messages land in actions 2n, 2n+1
    CHECK(mass[2 * n].item<float>() + mass[2 * n + 1].item<float>() == 1000.0f);
  }
}

TEST_CASE("cic probe options: when a probe is due - defaults and config", "[cic_probe]") {
  CicProbeOptions o;
  o.last_step = 300;
  CHECK_FALSE(o.due(100));
  CHECK(o.due(300));
  o.every = 200;
  CHECK(o.due(200));
  CHECK(o.due(300));
  CHECK_FALSE(o.due(100));
  o.every = -1;
  CHECK_FALSE(o.due(300));

  OptionSet set = cic_probe_options();
  REQUIRE(set.find("metrics.cic_every"));
  REQUIRE(set.find("metrics.cic_max_messages"));
  CHECK(set.find("metrics.cic_max_messages")->default_value == "1024");
  CHECK(set.find("metrics.cic_every")->default_value == "0");

  Config cfg(set.specs(), {{"metrics.cic_every", "50"}, {"metrics.cic_max_messages", "16"}}, "");
  CicProbeOptions from = CicProbeOptions::from(cfg);
  CHECK(from.every == 50);
  CHECK(from.max_messages == 16);
  CicProbeOptions absent = CicProbeOptions::from(Config{});  // an algorithm without the options
  CHECK(absent.every == 0);
  CHECK(absent.max_messages == 1024);
}

TEST_CASE("cic_block turns probe tables into the run file's CicBlock", "[cic_probe]") {
  CicTables t;
  t.p_message = torch::tensor({0.25f, 0.75f, 0.5f, 0.5f}).view({2, 2});
  t.p_action = torch::arange(24, torch::kFloat32).view({2, 2, 2, 3});
  t.messages = torch::tensor({0, -1, 1, 2}, torch::kInt64).view({2, 2});
  CicBlock b = cic_block(t);
  CHECK(b.messages == 2);
  CHECK(b.action_shape == std::vector<int64_t>{2, 3});
  CHECK(b.action_size() == 6);
  CHECK(b.p_message == std::vector<float>{0.25f, 0.75f, 0.5f, 0.5f});
  CHECK(b.p_action.size() == 24);
  CHECK(b.p_action[23] == 23.0f);
  CHECK(b.message_set == std::vector<int32_t>{0, -1, 1, 2});
  t.messages = torch::Tensor();
  CHECK(cic_block(t).message_set.empty());
}

TEST_CASE("cic probe with EOS in sampling mode: hand values, the receiver hears only what the channel delivers",
          "[cic_probe]") {
  // V = 3 (symbol 0 is EOS), L = 8: 3^8 = 6561 messages > 4000, so each state gets 4000 draws
  // from the sender's policy, each weighted 1/4000. The listener's action (3 of them, one-hot up
  // to e^-60) is the symbol it hears at position 1, or 0 when the message has ended there.
  const ChannelSpec ch{3, 8, true};
  const float big = 50.0f;
  auto logits = torch::zeros({3, 8, 3});  // uniform everywhere unless set below
  // State 0: EOS first, surely; what the sender draws after it (uniform) is never delivered.
  logits[0][0] = torch::tensor({big, -big, -big});
  // State 1: EOS first with probability 1/2, else symbol 1; position 1 uniform over EOS, 1, 2.
  logits[1][0] = torch::tensor({0.0f, 0.0f, -big});
  // State 2: surely symbol 2 then symbol 1.
  logits[2][0] = torch::tensor({-big, -big, big});
  logits[2][1] = torch::tensor({-big, big, -big});
  auto listener = [](const torch::Tensor& onehots, const torch::Tensor&) {  // [R, 8, 3] -> [R, 3]
    auto heard = onehots.select(1, 1);                                     // zero when the message ended before
    auto ended = 1.0f - heard.narrow(1, 1, 2).sum(1, true);                // heard nothing or EOS
    return 30.0f * (2.0f * torch::cat({ended, heard.narrow(1, 1, 2)}, 1) - 1.0f);
  };
  SignalBatch set;  // no candidates: the listener's action is its own
  // p(action | state 1) = (1/2 + 1/2 * 1/3, 1/6, 1/6): CIC(s1) = H(2/3, 1/6, 1/6); CIC(s0) =
  // CIC(s2) = 0 (one delivered message each). Reading the raw symbols after EOS instead would give
  // CIC(s0) = log2 3 and CIC(s1) = log2 3.
  const double h1 = (2.0 / 3) * std::log2(1.5) + (2.0 / 6) * std::log2(6.0);  // 1.2516 bits
  auto check = [&](const CicTables& t) {
    REQUIRE(t.p_message.sizes() == torch::IntArrayRef({3, 4000}));
    REQUIRE(t.p_action.sizes() == torch::IntArrayRef({3, 4000, 3}));
    CHECK_FALSE(t.messages.defined());  // sampled: no shared message set
    CHECK(torch::equal(t.p_message, torch::full({3, 4000}, 1.0f / 4000)));
    // States 0 and 2: every draw is heard as the same message.
    CHECK(torch::allclose(t.p_action[0], torch::tensor({1.0f, 0.0f, 0.0f}).expand({4000, 3}), 0.0, 1e-6));
    CHECK(torch::allclose(t.p_action[2], torch::tensor({0.0f, 1.0f, 0.0f}).expand({4000, 3}), 0.0, 1e-6));
    auto pm = floats(t.p_message), pa = floats(t.p_action);
    CHECK(metrics::cic(pm.data(), pa.data(), 1, 4000, 3) == Approx(0.0).margin(1e-6));                // state 0
    CHECK(metrics::cic(pm.data() + 8000, pa.data() + 24000, 1, 4000, 3) == Approx(0.0).margin(1e-6));  // state 2
    // State 1: the draws' frequencies and the CIC estimate (4000 draws: within a few 0.01).
    auto freq = t.p_action[1].mean(0);
    CHECK(freq[0].item<double>() == Approx(2.0 / 3).margin(0.03));
    CHECK(freq[1].item<double>() == Approx(1.0 / 6).margin(0.03));
    CHECK(freq[2].item<double>() == Approx(1.0 / 6).margin(0.03));
    CHECK(metrics::cic(pm.data() + 4000, pa.data() + 12000, 1, 4000, 3) == Approx(h1).margin(0.04));
    CHECK(cic_of(t) == Approx(h1 / 3).margin(0.015));
  };
  auto gen = make_gen(4);
  SECTION("one pair") { check(probe_signal_pair(logits, listener, set, 3, ch, 4000, gen)); }
  SECTION("a population: each member's tables, the second member's listener deaf") {
    auto members = [&](const torch::Tensor& onehots, const torch::Tensor& c) {  // [2, R, 8, 3] -> [2, R, 3]
      auto heard = listener(onehots[0], c);
      return torch::stack({heard, torch::zeros_like(heard)});
    };
    auto t = probe_signal_members(torch::stack({logits, logits}), members, set, 3, ch, 4000, gen);
    REQUIRE(t.size() == 2);
    check(t[0]);
    CHECK(cic_of(t[1]) == 0.0);
  }
  // Same seed, same tables.
  auto g1 = make_gen(9), g2 = make_gen(9);
  CHECK(torch::equal(probe_signal_pair(logits, listener, set, 3, ch, 4000, g1).p_action,
                     probe_signal_pair(logits, listener, set, 3, ch, 4000, g2).p_action));
}
