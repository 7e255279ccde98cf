// The referential image game (REFERENCE.md §Referential image game). The speaker sees a target
// object (an RGB image, or a feature vector); the listener gets the target and env.distractors
// other objects of the same split in random order and must point at the target.
// Objects come from an HDF5 dataset file (env.dataset, docs/dataset-format.md) or, when none is
// given, from synthetic scenes rendered in memory from the env.* options (envs/referential/
// scene.h), each with a caption from a small grammar (caption.h).
// Distractors are always distinct from the target and from each other: distinct concepts when
// the dataset has concepts (synthetic scenes do), else distinct images / feature vectors.
// Batch: sender_input [B, 3, H, W] floats in [0, 1] (or [B, D]); receiver_input [B, C, ...];
// target [B] = the target's slot, uniform over the C = distractors + 1 slots; concept [B, A];
// object_ids [B] = dataset rows. Human language: the captions, as word ids 0..hv-1 where
// word id 0 is <unk> and word id w > 0 is vocabulary entry w + 3 (PAD, BOS, EOS never occur).
#pragma once

#include <string>
#include <vector>

#include "envs/env.h"
#include "envs/referential/dataset.h"

namespace emcomm {

class ReferentialGame : public PositionedGame {
 public:
  struct Options {
    std::string dataset;  // "" = synthetic
    int64_t distractors = 9;
    SynthOptions synth;
    uint64_t data_seed = 1;
    static Options from(const Config& cfg);
  };
  static OptionSet option_set();

  // Loads env.dataset or renders the synthetic scenes.
  explicit ReferentialGame(const Options& opt);
  // A game over a dataset already in memory; `source` names it in error messages.
  ReferentialGame(Dataset data, int64_t distractors, const std::string& source);
  ReferentialGame(const ReferentialGame&) = delete;  // objects_ may view data_'s buffer
  ReferentialGame& operator=(const ReferentialGame&) = delete;

  std::string name() const override { return "referential"; }
  int64_t sender_input_dim() const override { return data_.object_size(); }
  std::vector<int64_t> object_shape() const override;
  ReceiverSpec receiver_spec() const override;
  int64_t split_size(Split split) const override { return int64_t(rows_[int(split)].size()); }
  torch::Tensor loss(const torch::Tensor& out, const SignalBatch& batch) const override;
  torch::Tensor receiver_action(const torch::Tensor& out) const override;
  torch::Tensor correct(const torch::Tensor& out, const SignalBatch& batch) const override;
  bool has_human_language() const override { return data_.has_captions(); }
  int64_t human_vocab_size() const override;
  int64_t human_length() const override { return data_.has_captions() ? data_.caption_length : 0; }
  torch::Tensor human_messages(const SignalBatch& batch) const override;

  // The words of a human message (word ids as in human_messages; stops at -1).
  std::string human_text(const torch::Tensor& word_ids) const;
  const Dataset& dataset() const { return data_; }
  int64_t distractors() const { return distractors_; }
  // The dataset row of position i of a split (rows of a split keep their file order).
  int64_t row_at(Split split, int64_t i) const { return rows_[int(split)][i]; }
  // Distinct objects of a split (distinct concepts, or distinct images / features).
  int64_t distinct_objects(Split split) const { return int64_t(classes_[int(split)].size()); }

 private:
  void init(const std::string& source);
  // positions: indices within the split (0 <= k < split_size).
  SignalBatch make_batch(const std::vector<int64_t>& positions, Split split, Rng& rng) const override;

  Dataset data_;
  int64_t distractors_;
  torch::Tensor objects_;   // uint8 [N, 3, H, W] (a copy), or float [N, D] viewing data_.features
  torch::Tensor concepts_;  // int64 [N, A] or undefined
  torch::Tensor human_;     // int64 [N, L] word ids, -1 padded, or undefined
  std::vector<int64_t> rows_[3];
  // classes_[s][k]: the rows of split s showing distinct object k; class_of_[row] = k.
  std::vector<std::vector<int64_t>> classes_[3];
  std::vector<int64_t> class_of_;
};

}  // namespace emcomm
