// The message channel: the one place that defines message conventions (DESIGN.md section 4).
//
// A message is an integer tensor [B, max_len] over symbols 0..vocab_size-1.
// * Fixed length (agents.eos=false, the default): every symbol counts; length = max_len.
// * EOS (agents.eos=true): symbol 0 is EOS and is counted in vocab_size; max_len counts every
//   emitted symbol including EOS; length = index of the first EOS + 1, or max_len if there
//   is none. Symbols after the first EOS are ignored by the listener (their one-hots are
//   zeroed) and are stored as -1 in logs. An EOS at position 0 gives length 1, a message
//   with no content.
//
// Relaxations used in training: soft Gumbel-softmax (temperature tau), straight-through hard
// Gumbel-softmax, REINFORCE (sampled symbols, log-probabilities and entropies for a
// baseline-corrected policy gradient). Greedy (argmax) at evaluation.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <string>

namespace emcomm {

struct ChannelSpec {
  int64_t vocab_size = 60;
  int64_t max_len = 6;
  bool eos = false;
};

enum class Relaxation { Gumbel, StGumbel, Reinforce, Greedy };
Relaxation parse_relaxation(const std::string& name);  // gumbel|st_gumbel|reinforce|greedy

// Integer-message rules.
torch::Tensor message_lengths(const torch::Tensor& symbols, const ChannelSpec& spec);  // [B] int64
// [B, L] float: 1 at positions < length, 0 after.
torch::Tensor alive_mask(const torch::Tensor& symbols, const ChannelSpec& spec);
// Symbols with -1 after the end of each message (the logging form).
torch::Tensor symbols_for_log(const torch::Tensor& symbols, const ChannelSpec& spec);

struct ChannelOutput {
  torch::Tensor symbols;   // [B, L] int64: the discrete message (argmax of the sample)
  torch::Tensor onehots;   // [B, L, V] float: what the listener reads, zero after EOS
  torch::Tensor length;    // [B] int64
  torch::Tensor log_prob;  // [B]: sum of log-probabilities of the kept symbols (Reinforce)
  torch::Tensor entropy;   // [B]: mean per-position entropy over kept positions (Reinforce)
};

// One relaxed draw per position of logits [..., V], without the EOS rule: the discrete symbols
// [...] and what the listener would read [..., V] (soft, straight-through or hard one-hots).
struct SymbolSample {
  torch::Tensor symbols, y;
};
SymbolSample sample_symbols(const torch::Tensor& logits, Relaxation relax, double tau, at::Generator& gen);
// The Gumbel draw of sample_symbols() (relax Gumbel or StGumbel) from uniform noise in [0, 1)
// shaped like logits, drawn beforehand: sample_symbols draws it with uniform_(0, 1, gen).
SymbolSample gumbel_symbols(const torch::Tensor& logits, Relaxation relax, double tau, const torch::Tensor& uniform);

// Applies the message rules (lengths, EOS masking, REINFORCE log-probabilities and entropies)
// to the positions drawn by sample_symbols(): logits [B, L, V], sample.symbols [B, L]. An
// autoregressive speaker draws position by position, stacks, then calls this once.
ChannelOutput finish_message(const torch::Tensor& logits, const SymbolSample& sample, Relaxation relax,
                             const ChannelSpec& spec);

// Turns speaker logits [B, L, V] into a message: finish_message(sample_symbols(logits)). `gen` drives the Gumbel noise / sampling
// (ignored by Greedy).
ChannelOutput emit(const torch::Tensor& logits, Relaxation relax, double tau, const ChannelSpec& spec,
                   at::Generator& gen);

// One-hot listener input from an integer message [B, L] (zero after EOS).
torch::Tensor onehots_of(const torch::Tensor& symbols, const ChannelSpec& spec);

}  // namespace emcomm
