// The Lewis signaling / object reconstruction game (S2P, REFERENCE.md).
// Objects have A attributes with V values each (V^A objects, enumerated in product order:
// attribute 0 is the most significant digit). The speaker sees the concatenated one-hots
// [A*V]; in `reconstruction` mode the listener outputs one softmax over V per attribute and
// an episode is correct when every attribute is right; in `discrimination` mode it picks
// the target among 1 + env.distractors distinct candidates from the same split.
// Splits: `paper` = first 80 % / next 10 % / last 10 % in product order (the reference
// code's held-out-value split), `random` = the same proportions after a seeded shuffle.
// Options: env.attributes, env.values, env.mode, env.distractors, env.split.
#pragma once

#include <vector>

#include "envs/env.h"

namespace emcomm {

// The compositional "human" language: a seeded bijection from the A*V (attribute, value)
// pairs to A*V words, and a seeded permutation of the A word positions. The message of an
// object has exactly A symbols: position position_of(i) holds word_of(i, value_i).
class HumanLanguage {
 public:
  HumanLanguage(int64_t attributes, int64_t values, Rng rng);
  int64_t word_of(int64_t attribute, int64_t value) const { return word_[attribute * values_ + value]; }
  int64_t position_of(int64_t attribute) const { return position_[attribute]; }
  int64_t vocab_size() const { return attributes_ * values_; }
  int64_t length() const { return attributes_; }
  // concept [B, A] int64 -> message [B, A] int64, batched.
  torch::Tensor encode(const torch::Tensor& concept) const;

 private:
  int64_t attributes_, values_;
  std::vector<int64_t> word_, position_;
  torch::Tensor word_table_, attribute_at_;  // word_ as a tensor; inverse of position_
};

class LewisGame : public PositionedGame {
 public:
  enum class Mode { Reconstruct, Discriminate };
  enum class SplitKind { Paper, Random };
  struct Options {
    int64_t attributes = 6, values = 10, distractors = 9;
    Mode mode = Mode::Reconstruct;
    SplitKind split = SplitKind::Random;
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();

  LewisGame(const Options& opt, Rng rng);

  std::string name() const override { return "lewis"; }
  int64_t sender_input_dim() const override { return opt_.attributes * opt_.values; }
  ReceiverSpec receiver_spec() const override;
  int64_t split_size(Split split) const override;
  torch::Tensor loss(const torch::Tensor& out, const SignalBatch& batch) const override;
  torch::Tensor receiver_action(const torch::Tensor& out) const override;
  torch::Tensor correct(const torch::Tensor& out, const SignalBatch& batch) const override;
  bool has_human_language() const override { return true; }
  int64_t human_vocab_size() const override { return language_.vocab_size(); }
  int64_t human_length() const override { return language_.length(); }
  torch::Tensor human_messages(const SignalBatch& batch) const override { return language_.encode(batch.concept); }

  const HumanLanguage& language() const { return language_; }
  const Options& options() const { return opt_; }
  int64_t num_objects() const { return num_objects_; }
  // The object id at position i of a split (0 <= i < split_size).
  int64_t object_at(Split split, int64_t i) const;
  // Attribute values of object ids: [n] -> [n, A] int64.
  torch::Tensor decode(const std::vector<int64_t>& ids) const;

 private:
  // positions: indices within the split (0 <= k < split_size).
  SignalBatch make_batch(const std::vector<int64_t>& positions, Split split, Rng& rng) const override;

  Options opt_;
  int64_t num_objects_;
  int64_t begin_[3], end_[3];        // split ranges over the (possibly shuffled) order
  std::vector<int64_t> order_;       // random split: the shuffled object ids; paper: empty
  HumanLanguage language_;
};

}  // namespace emcomm
