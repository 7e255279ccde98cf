// The environment interfaces (DESIGN.md section 3) and the env registry.
// A SignalingGame is one-shot: a speaker sees an input, sends a message, a listener acts.
// Everything is batched: one call handles B episodes, tensors have leading dimension B.
#pragma once

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "core/rng.h"

namespace emcomm {

enum class Split { Train, Val, Test };
const char* split_name(Split s);
inline constexpr Split kAllSplits[] = {Split::Train, Split::Val, Split::Test};

class Env {
 public:
  virtual ~Env() = default;
  virtual std::string name() const = 0;
};

struct SignalBatch {
  torch::Tensor sender_input;    // [B, Ds] float
  torch::Tensor receiver_input;  // [B, C, Dr] float (candidates), or undefined
  torch::Tensor target;          // [B, A] int64 (reconstruction) or [B] int64 (candidate index)
  torch::Tensor concept;         // [B, A] int64: the sender's symbolic input, for metrics
  torch::Tensor object_ids;      // [B] int64: which stored object each target is (envs whose human
                                 // language is per object, e.g. captions), or undefined
  int64_t size() const { return sender_input.size(0); }
};

// What the listener must produce: A softmaxes over V values (reconstruction), or a score per
// candidate among C (discrimination), each candidate a vector of candidate_dim.
struct ReceiverSpec {
  enum class Kind { Reconstruct, Discriminate } kind = Kind::Reconstruct;
  int64_t attributes = 0, values = 0;  // Reconstruct
  int64_t candidates = 0, candidate_dim = 0;  // Discriminate
};

class SignalingGame : public Env {
 public:
  virtual int64_t sender_input_dim() const = 0;
  // The shape of one object as the agents see it: {D} for vectors (the default), {3, H, W} for
  // RGB images as floats in [0, 1]. sender_input is [B, shape...]; in discrimination games
  // receiver_input is [B, C, shape...] and sender_input_dim() is the product of the shape.
  virtual std::vector<int64_t> object_shape() const { return {sender_input_dim()}; }
  virtual ReceiverSpec receiver_spec() const = 0;
  virtual int64_t split_size(Split split) const = 0;
  // B episodes drawn uniformly (with replacement) from the split.
  virtual SignalBatch sample(Split split, int64_t batch, Rng& rng) const = 0;
  // B episodes drawn uniformly from the objects first..split_size-1 of the split (S2P's
  // self-play without the seed set). This default serves first = 0 only.
  virtual SignalBatch sample_from(Split split, int64_t first, int64_t batch, Rng& rng) const;
  // min(batch, count) distinct objects drawn uniformly without replacement from the objects
  // first..first+count-1 of the split, in draw order (S2P's supervised batches drawn from the
  // seed set, as the reference's get_s2p_batch does). This default refuses.
  virtual SignalBatch sample_within(Split split, int64_t first, int64_t count, int64_t batch, Rng& rng) const;
  // A fixed evaluation set: `size` objects spread evenly over the split (0 = all of it);
  // rng only draws distractors.
  virtual SignalBatch eval_set(Split split, int64_t size, Rng& rng) const = 0;
  // Per-episode differentiable loss [B] of the receiver's output (logits).
  virtual torch::Tensor loss(const torch::Tensor& receiver_output, const SignalBatch& batch) const = 0;
  // The receiver's greedy action: [B, A] (reconstruction) or [B] (discrimination), int64.
  virtual torch::Tensor receiver_action(const torch::Tensor& receiver_output) const = 0;
  // 1.0 where the episode is solved (all attributes right / target picked), else 0.0; [B].
  virtual torch::Tensor correct(const torch::Tensor& receiver_output, const SignalBatch& batch) const = 0;
  // Objects first .. first+count-1 of a split, in split order (the seed set and human probes
  // of S2P are the first objects of a split); rng only draws distractors.
  virtual SignalBatch slice(Split split, int64_t first, int64_t count, Rng& rng) const = 0;

  // The "human" language for supervised learning, when the game has one: a message of
  // human_length() words over 0..human_vocab_size()-1 for each episode's sender input.
  // Variable-length human messages (captions) are padded with -1 after their last word.
  virtual bool has_human_language() const { return false; }
  virtual int64_t human_vocab_size() const { return 0; }
  virtual int64_t human_length() const { return 0; }
  virtual torch::Tensor human_messages(const SignalBatch& batch) const;  // [B, human_length] int64
};

// Shared by the discrimination games (target = the candidate index [B]):
// per-episode cross-entropy of the candidate scores [B, C], greedy pick, 1.0 where it is right.
torch::Tensor discrimination_loss(const torch::Tensor& scores, const torch::Tensor& target);
torch::Tensor argmax_action(const torch::Tensor& receiver_output);
torch::Tensor discrimination_correct(const torch::Tensor& scores, const torch::Tensor& target);

// The positions within a split of n objects that the SignalingGame calls cover (see above):
// sample: `batch` uniform draws; eval_set: `size` positions spread evenly (0 or > n: all);
// slice: first .. first+count-1, a UserError naming the split when out of range.
std::vector<int64_t> sample_positions(int64_t n, int64_t batch, Rng& rng);
std::vector<int64_t> eval_positions(int64_t n, int64_t size);
std::vector<int64_t> slice_positions(Split split, int64_t n, int64_t first, int64_t count);

// A signaling game whose objects are positions 0..split_size-1 of each split: sample, eval_set
// and slice choose positions with the helpers above, make_batch turns them into a batch.
class PositionedGame : public SignalingGame {
 public:
  SignalBatch sample(Split split, int64_t batch, Rng& rng) const override;
  SignalBatch sample_from(Split split, int64_t first, int64_t batch, Rng& rng) const override;
  SignalBatch sample_within(Split split, int64_t first, int64_t count, int64_t batch, Rng& rng) const override;
  SignalBatch eval_set(Split split, int64_t size, Rng& rng) const override;
  SignalBatch slice(Split split, int64_t first, int64_t count, Rng& rng) const override;

 protected:
  // The batch of the objects at `positions` of `split`; rng draws distractors.
  virtual SignalBatch make_batch(const std::vector<int64_t>& positions, Split split, Rng& rng) const = 0;
};

// Writes `count` distinct indices of [0, n), none equal to `exclude`, to out[0..count): by
// rejection when n is much larger than count, else by a partial Fisher-Yates over `scratch`.
// Needs count <= n - 1.
void draw_distinct(int64_t n, int64_t exclude, int64_t count, Rng& rng, std::vector<int64_t>& scratch, int64_t* out);

// What an env entry declares about the envs it builds, so an algorithm that cannot train them
// is refused before anything is built (algorithms/pairs.h) and `emcomm list` can print the pairs.
enum class EnvKind { Signaling, Markov };
enum class Observations {
  Vector,      // flat float vectors
  Image,       // RGB images [3, H, W]
  ImageOrVector  // images, or vectors when the data say so (e.g. a features dataset)
};
const char* env_kind_name(EnvKind k);
const char* observations_name(Observations o);

struct EnvEntry {
  std::string name;
  std::string description;
  OptionSet options;
  // Builds the env from the resolved config; rng is the env's own generator.
  std::function<std::shared_ptr<Env>(const Config&, Rng)> make;
  EnvKind kind = EnvKind::Signaling;
  Observations observations = Observations::Vector;
  // Signaling games: has a human language (for some configs or data; the built game's
  // has_human_language() is checked too, e.g. a dataset without captions).
  bool human_language = false;
  // Overrides ("--key=value") that make this env small (and, for agents' options, fit it) for a
  // run of a few seconds in the conformance suite; options a run does not have are left out.
  std::vector<std::string> small_run = {};
};
using EnvRegistry = Registry<EnvEntry>;

}  // namespace emcomm
