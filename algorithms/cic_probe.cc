#include "algorithms/cic_probe.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "core/errors.h"

namespace emcomm {
namespace {

// Receiver calls take at most about this many message one-hot elements (R x L x V) at once.
constexpr int64_t kChunkElements = int64_t(1) << 22;

}  // namespace

OptionSet cic_probe_options() {
  OptionSet s;
  s.add_int("metrics.cic_every", 0,
            "also log CIC probe tables (cic/) at evaluations whose step is a multiple of this; the last "
            "evaluation (train.steps) always has them (0: only there, -1: never)",
            -1, int64_t(1) << 40)
      .add_int("metrics.cic_max_messages", 1024,
               "CIC probe: every message when there are at most this many, else this many drawn from the "
               "sender's policy per state",
               1, 65536)
      .add_int("metrics.cic_rows", 32,
               "CIC probe: the first this many logged rows of each split get tables, the others NaN "
               "(0: every logged row); a reference Lewis probe is 240 KB per row",
               0, 1000000);
  return s;
}

CicProbeOptions CicProbeOptions::from(const Config& cfg) {
  CicProbeOptions o;
  if (cfg.has("metrics.cic_every")) o.every = cfg.get_int("metrics.cic_every");
  if (cfg.has("metrics.cic_max_messages")) o.max_messages = cfg.get_int("metrics.cic_max_messages");
  if (cfg.has("metrics.cic_rows")) o.rows = cfg.get_int("metrics.cic_rows");
  if (cfg.has("train.steps")) o.last_step = cfg.get_int("train.steps");
  return o;
}

CicTables cic_probe(const torch::Tensor& sender_logits, const ReceiverProbs& receiver_probs, int64_t max_messages,
                    const ChannelSpec& channel, at::Generator& gen) {
  EMCOMM_CHECK(sender_logits.dim() == 3, "cic_probe: sender logits must be [N, max_len, vocab_size]");
  auto one = [&](const torch::Tensor& symbols, const torch::Tensor& rows) {
    return receiver_probs(symbols.squeeze(0), rows).unsqueeze(0);
  };
  return cic_probe_members(sender_logits.unsqueeze(0), one, max_messages, channel, gen).front();
}

std::vector<CicTables> cic_probe_members(const torch::Tensor& sender_logits, const MemberReceiverProbs& receiver_probs,
                                         int64_t max_messages, const ChannelSpec& channel, at::Generator& gen) {
  const int64_t L = channel.max_len, V = channel.vocab_size;
  EMCOMM_CHECK(sender_logits.dim() == 4 && sender_logits.size(2) == L && sender_logits.size(3) == V,
               "cic_probe: sender logits must be [members, N, max_len, vocab_size]");
  EMCOMM_CHECK(max_messages >= 1, "cic_probe: max_messages must be positive");
  torch::NoGradGuard no_grad;
  const int64_t G = sender_logits.size(0), N = sender_logits.size(1);
  auto logp = torch::log_softmax(sender_logits.detach().to(torch::kFloat32), -1);  // [G, N, L, V]

  // V^L, or 0 when it exceeds max_messages.
  int64_t all = 1;
  for (int64_t l = 0; l < L && all > 0; ++l) all = all <= max_messages / V ? all * V : 0;

  std::vector<CicTables> t(G);
  int64_t M = 0;
  std::function<torch::Tensor(int64_t, int64_t)> symbols;  // [G, n, L]: rows [first, first + n) of the N*M probes
  if (all > 0) {
    M = all;
    // Message k spells k in base V, position 0 most significant: lexicographic order.
    auto k = torch::arange(M, torch::kInt64);
    std::vector<torch::Tensor> cols;
    int64_t place = M;
    for (int64_t l = 0; l < L; ++l) {
      place /= V;
      cols.push_back(torch::div(k, place, "floor").remainder(V));
    }
    auto msgs = torch::stack(cols, 1);  // [M, L]
    auto lp = torch::zeros({G, N, M}, torch::kFloat32);
    for (int64_t l = 0; l < L; ++l) lp += logp.select(2, l).index_select(2, msgs.select(1, l));
    auto pm = lp.exp();
    auto logged = symbols_for_log(msgs, channel);
    for (int64_t g = 0; g < G; ++g) {
      t[g].p_message = pm[g];
      t[g].messages = logged;
    }
    symbols = [msgs, M, G](int64_t first, int64_t n) {
      auto m = msgs.index_select(0, torch::arange(first, first + n, torch::kInt64).remainder(M));
      return m.unsqueeze(0).expand({G, n, m.size(1)});
    };
  } else {
    M = max_messages;
    auto draws = torch::multinomial(logp.exp().reshape({G * N * L, V}), M, /*replacement=*/true, gen);  // [G*N*L, M]
    auto sampled = draws.view({G, N, L, M}).permute({0, 1, 3, 2}).reshape({G, N * M, L});
    for (int64_t g = 0; g < G; ++g) t[g].p_message = torch::full({N, M}, 1.0 / double(M), torch::kFloat32);
    symbols = [sampled](int64_t first, int64_t n) { return sampled.narrow(1, first, n); };
  }

  const int64_t R = N * M;
  const int64_t chunk = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(1, G * L * V));
  torch::Tensor out;  // [G, R, ...]
  for (int64_t first = 0; first < R; first += chunk) {
    const int64_t n = std::min(chunk, R - first);
    auto rows = torch::div(torch::arange(first, first + n, torch::kInt64), M, "floor");
    auto p = receiver_probs(symbols(first, n), rows);
    EMCOMM_CHECK((p.dim() == 3 || p.dim() == 4) && p.size(0) == G && p.size(1) == n,
                 "cic_probe: the receiver must return [G, R, K] or [G, R, A, V] probabilities for R messages");
    if (!out.defined()) {
      auto shape = p.sizes().vec();
      shape[1] = R;
      out = torch::empty(shape, torch::kFloat32);
    }
    out.narrow(1, first, n).copy_(p);
  }
  for (int64_t g = 0; g < G; ++g) {
    std::vector<int64_t> shape{N, M};
    if (out.defined()) {
      shape.insert(shape.end(), out.sizes().begin() + 2, out.sizes().end());
      t[g].p_action = out[g].view(shape);
    } else {  // N = 0: the receiver was never called
      t[g].p_action = torch::empty({0, M, 0}, torch::kFloat32);
    }
  }
  return t;
}

CicBlock cic_block(const CicTables& tables, int64_t rows) {
  CicBlock b;
  const int64_t probed = tables.p_message.size(0);
  EMCOMM_CHECK(rows < 0 || rows >= probed, "cic_block: fewer rows than probed states");
  b.messages = tables.p_message.size(1);
  b.action_shape.assign(tables.p_action.sizes().begin() + 2, tables.p_action.sizes().end());
  auto floats = [](const torch::Tensor& x) {
    auto c = x.to(torch::kFloat32).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  b.p_message = floats(tables.p_message);
  b.p_action = floats(tables.p_action);
  if (rows > probed) {  // rows logged without a probe: NaN (gzip stores them almost for free)
    b.p_message.resize(rows * b.messages, std::numeric_limits<float>::quiet_NaN());
    b.p_action.resize(rows * b.messages * b.action_size(), std::numeric_limits<float>::quiet_NaN());
  }
  if (tables.messages.defined()) {
    auto m = tables.messages.to(torch::kInt32).contiguous();
    b.message_set.assign(m.data_ptr<int32_t>(), m.data_ptr<int32_t>() + m.numel());
  }
  return b;
}

}  // namespace emcomm
