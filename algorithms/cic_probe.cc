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
  const int64_t L = channel.max_len, V = channel.vocab_size;
  EMCOMM_CHECK(sender_logits.dim() == 3 && sender_logits.size(1) == L && sender_logits.size(2) == V,
               "cic_probe: sender logits must be [N, max_len, vocab_size]");
  EMCOMM_CHECK(max_messages >= 1, "cic_probe: max_messages must be positive");
  torch::NoGradGuard no_grad;
  const int64_t N = sender_logits.size(0);
  auto logp = torch::log_softmax(sender_logits.detach().to(torch::kFloat32), -1);  // [N, L, V]

  // V^L, or 0 when it exceeds max_messages.
  int64_t all = 1;
  for (int64_t l = 0; l < L && all > 0; ++l) all = all <= max_messages / V ? all * V : 0;

  CicTables t;
  int64_t M = 0;
  std::function<torch::Tensor(int64_t, int64_t)> symbols;  // rows [first, first + n) of the N*M probes
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
    auto lp = torch::zeros({N, M}, torch::kFloat32);
    for (int64_t l = 0; l < L; ++l) lp += logp.select(1, l).index_select(1, msgs.select(1, l));
    t.p_message = lp.exp();
    t.messages = symbols_for_log(msgs, channel);
    symbols = [msgs, M](int64_t first, int64_t n) {
      return msgs.index_select(0, torch::arange(first, first + n, torch::kInt64).remainder(M));
    };
  } else {
    M = max_messages;
    auto draws = torch::multinomial(logp.exp().reshape({N * L, V}), M, /*replacement=*/true, gen);  // [N*L, M]
    auto sampled = draws.view({N, L, M}).permute({0, 2, 1}).reshape({N * M, L});
    t.p_message = torch::full({N, M}, 1.0 / double(M), torch::kFloat32);
    symbols = [sampled](int64_t first, int64_t n) { return sampled.narrow(0, first, n); };
  }

  const int64_t R = N * M;
  const int64_t chunk = std::max<int64_t>(1, kChunkElements / std::max<int64_t>(1, L * V));
  torch::Tensor out;  // [R, ...]
  for (int64_t first = 0; first < R; first += chunk) {
    const int64_t n = std::min(chunk, R - first);
    auto rows = torch::div(torch::arange(first, first + n, torch::kInt64), M, "floor");
    auto p = receiver_probs(symbols(first, n), rows);
    EMCOMM_CHECK((p.dim() == 2 || p.dim() == 3) && p.size(0) == n,
                 "cic_probe: the receiver must return [R, K] or [R, A, V] probabilities for R messages");
    if (!out.defined()) {
      auto shape = p.sizes().vec();
      shape[0] = R;
      out = torch::empty(shape, torch::kFloat32);
    }
    out.narrow(0, first, n).copy_(p);
  }
  std::vector<int64_t> shape{N, M};
  if (out.defined()) {
    shape.insert(shape.end(), out.sizes().begin() + 1, out.sizes().end());
    t.p_action = out.view(shape);
  } else {  // N = 0: the receiver was never called
    t.p_action = torch::empty({0, M, 0}, torch::kFloat32);
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
