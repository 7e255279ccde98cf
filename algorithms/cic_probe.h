// The CIC probe: the counterfactual tables behind causal influence of communication
// (docs/metrics.md, DESIGN.md section 6 `cic/`). At each logged state s the probe imposes
// counterfactual messages c on the receiver and records the sender's probability p(c|s) and the
// receiver's action distribution p(a|do(c), s):
// * every one of the V^L symbol sequences when V^L <= max_messages: the same set for every row,
//   p_message[n, k] = prod_l softmax(logits[n, l])[c_k,l];
// * otherwise max_messages sequences drawn from the sender's policy for each row, each weighted
//   1/M (the sample's empirical measure, a Monte-Carlo estimate of the sender's distribution).
// The speaker is non-autoregressive: its policy is independent per position, logits [N, L, V].
// Nothing here is specific to one game: the receiver is a callback.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "agents/channel.h"
#include "core/config.h"
#include "core/run_file.h"

namespace emcomm {

// metrics.cic_every and metrics.cic_max_messages (merge into an algorithm's option set).
OptionSet cic_probe_options();

// When and how large a probe is.
struct CicProbeOptions {
  int64_t every = 0;            // metrics.cic_every: > 0 also probe when step % every == 0; -1 never probe
  int64_t max_messages = 1024;  // metrics.cic_max_messages
  int64_t rows = 32;            // metrics.cic_rows: rows probed per split (0: every logged row)
  int64_t probed_rows(int64_t logged) const { return rows == 0 ? logged : std::min(rows, logged); }
  int64_t last_step = 0;        // train.steps: the run's last evaluation is probed unless every = -1
  bool due(int64_t step) const {
    if (every < 0) return false;
    return (every > 0 && step % every == 0) || step == last_step;
  }
  // Reads the options; those the config does not declare (an algorithm without the CIC
  // options) keep their defaults.
  static CicProbeOptions from(const Config& cfg);
};

struct CicTables {
  torch::Tensor p_message;  // [N, M] float32: p(c_k | s_n)
  torch::Tensor p_action;   // [N, M, K] or [N, M, A, V] float32: p(a | do(c_k), s_n)
  torch::Tensor messages;   // [M, L] int64, -1 after EOS: the shared message set; undefined when sampled
};

// The receiver's action probabilities when message `symbols` [R, L] (int64, raw channel
// symbols: anything may follow an EOS; onehots_of() ignores it) is imposed at the state of row
// `rows` [R] (int64 index into the probed states). Returns [R, K] (one action: a distribution
// over K actions or candidates) or [R, A, V] (factorised: one distribution per factor).
using ReceiverProbs = std::function<torch::Tensor(const torch::Tensor& symbols, const torch::Tensor& rows)>;

// Probes N states. `sender_logits` [N, L, V] are the sender's logits at each state; `gen` draws
// the sampled messages (unused when enumerating). The receiver is called on a few large batches
// of messages (no gradients are taken).
CicTables cic_probe(const torch::Tensor& sender_logits, const ReceiverProbs& receiver_probs, int64_t max_messages,
                    const ChannelSpec& channel, at::Generator& gen);

// The same probe for G members at once (a population): `sender_logits` [G, N, L, V] are member
// g's logits at the same N states; `receiver_probs(symbols [G, R, L], rows [R])` returns
// [G, R, K] or [G, R, A, V], member g's receiver hearing symbols[g] at state rows (the same
// states for every member). One table per member; the sampled messages are drawn for all
// members at once (G = 1 draws exactly what cic_probe draws).
using MemberReceiverProbs = std::function<torch::Tensor(const torch::Tensor& symbols, const torch::Tensor& rows)>;
std::vector<CicTables> cic_probe_members(const torch::Tensor& sender_logits, const MemberReceiverProbs& receiver_probs,
                                         int64_t max_messages, const ChannelSpec& channel, at::Generator& gen);

// The tables as the run file's CicBlock, for InteractionBatch::cic. With rows > the probed
// states, the block covers `rows` logged rows and those past the probed ones are NaN.
CicBlock cic_block(const CicTables& tables, int64_t rows = -1);

}  // namespace emcomm
