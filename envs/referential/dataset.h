// Referential-game datasets in memory and in HDF5 files (docs/dataset-format.md).
// A dataset holds N objects, each an RGB image (uint8 [H, W, 3]) or a feature vector
// (float32 [D]), optionally a caption (vocabulary ids, -1 after the last word) and a concept
// vector (int32 [A]), and the split each row belongs to (0 train, 1 val, 2 test).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "envs/referential/caption.h"
#include "envs/referential/scene.h"

namespace emcomm {

inline constexpr int kDatasetFormatVersion = 1;
inline constexpr const char* kDatasetFormat = "emcomm.dataset";

struct Dataset {
  int64_t rows = 0;
  // Pixels: images [N, height, width, 3]; features: features [N, feature_dim]. Exactly one.
  int64_t height = 0, width = 0, feature_dim = 0;
  std::vector<uint8_t> images;
  std::vector<float> features;
  // Captions (optional; empty vocab = none): captions [N, caption_length], -1 padded.
  int64_t caption_length = 0;
  std::vector<int32_t> captions;
  std::vector<std::string> vocab;
  std::vector<uint8_t> split;  // [N]: 0 train, 1 val, 2 test
  // Concepts (optional; attributes = 0 = none): concepts [N, attributes].
  int64_t attributes = 0;
  std::vector<int32_t> concepts;
  std::vector<std::string> attribute_names;  // empty or one per attribute

  bool pixels() const { return height > 0; }
  bool has_captions() const { return !vocab.empty(); }
  bool has_concepts() const { return attributes > 0; }
  int64_t object_size() const { return pixels() ? height * width * 3 : feature_dim; }
  // Throws UserError "<source>: <dataset> <problem>" for the first inconsistency: sizes, split
  // values, an empty split, the special tokens, caption ids outside the vocabulary or a -1
  // followed by a word, an empty caption, non-finite features.
  void validate(const std::string& source) const;
};

// Reads and validates a dataset file; every problem is a UserError naming the file, the
// dataset inside it and what is wrong.
Dataset read_dataset(const std::string& path);
// Writes `ds` to `path` (replacing it); gzip-compressed, chunked by rows.
void write_dataset(const std::string& path, const Dataset& ds);

// What a synthetic dataset is made of.
struct SynthOptions {
  SceneOptions scene;
  CaptionOptions caption;
  int64_t size = 10000;  // rows
  double val_fraction = 0.1, test_fraction = 0.1;
  // Throws UserError naming the option (prefix + name) when the options cannot work.
  void validate(const std::string& prefix = "env.") const;
  // Rows of train, val, test: val and test are the fractions rounded down (at least 1 each).
  void split_sizes(int64_t out[3]) const;
};

// Renders a synthetic dataset (opt must have passed validate()): rows are i.i.d. random scenes, row i drawn from
// seed.derive("scene/i") (so a smaller dataset is a prefix of a larger one with the same seed);
// the first rows are train, then val, then test (fractions rounded down, at least one row each).
Dataset synthesize(const SynthOptions& opt, uint64_t seed);

// Replaces the images of `ds` by `dim`-d feature vectors from one fixed random network (pixels
// in [-0.5, 0.5] -> ReLU(Linear(3HW -> 512)) -> ReLU(Linear(512 -> dim)), Gaussian He-scaled
// weights drawn from `seed`): the stand-in for 2048-d image features of `make-dataset --features`.
void scene_features(Dataset& ds, int64_t dim, uint64_t seed);

}  // namespace emcomm
