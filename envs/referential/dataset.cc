#include "envs/referential/dataset.h"

#include <algorithm>
#include <cmath>

#include "core/errors.h"

namespace emcomm {

void Dataset::validate(const std::string& source) const {
  auto fail = [&](const std::string& what, const std::string& problem) {
    throw UserError(source + ": " + what + " " + problem);
  };
  const std::string N = std::to_string(rows);
  if (rows < 1) fail("images/features", "has no rows");
  if (pixels() == (feature_dim > 0)) fail("images/features", "must be exactly one of images [N,H,W,3] or features [N,D]");
  if (pixels() && (width < 1 || images.size() != size_t(rows * height * width * 3)))
    fail("images", "has " + std::to_string(images.size()) + " values, expected N*H*W*3");
  if (!pixels() && features.size() != size_t(rows * feature_dim))
    fail("features", "has " + std::to_string(features.size()) + " values, expected N*D");
  for (size_t i = 0; i < features.size(); ++i)
    if (!std::isfinite(features[i]))
      fail("features", "row " + std::to_string(i / feature_dim) + " holds a non-finite value");
  if (split.size() != size_t(rows)) fail("split", "has " + std::to_string(split.size()) + " rows, expected N = " + N);
  int64_t count[3] = {0, 0, 0};
  for (int64_t i = 0; i < rows; ++i) {
    if (split[i] > 2) fail("split", "row " + std::to_string(i) + " is " + std::to_string(split[i]) + "; allowed: 0 train, 1 val, 2 test");
    ++count[split[i]];
  }
  const char* names[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; ++s)
    if (count[s] == 0) fail("split", std::string("has no ") + names[s] + " rows (value " + std::to_string(s) + "); every split needs at least one");
  if (has_captions()) {
    if (vocab.size() <= size_t(kFirstWord)) fail("vocab", "has no words after the special tokens <pad> <unk> <bos> <eos>");
    for (int t = 0; t < kFirstWord; ++t)
      if (vocab[t] != kSpecialTokens[t])
        fail("vocab", "entry " + std::to_string(t) + " is '" + vocab[t] + "', expected '" + kSpecialTokens[t] +
                          "' (the first four entries are <pad> <unk> <bos> <eos>)");
    if (caption_length < 1 || captions.size() != size_t(rows * caption_length))
      fail("captions", "has " + std::to_string(captions.size()) + " values, expected N*L with L >= 1");
    const int32_t V = int32_t(vocab.size());
    for (int64_t i = 0; i < rows; ++i) {
      const int32_t* c = &captions[i * caption_length];
      if (c[0] == -1) fail("captions", "row " + std::to_string(i) + " is empty (every caption needs a word)");
      bool ended = false;
      for (int64_t j = 0; j < caption_length; ++j) {
        const std::string where = "row " + std::to_string(i) + " position " + std::to_string(j);
        if (c[j] == -1) ended = true;
        else if (ended) fail("captions", where + " holds a word after the -1 padding");
        else if (c[j] == kPad || c[j] == kBos || c[j] == kEos)
          fail("captions", where + " holds " + kSpecialTokens[c[j]] + " (id " + std::to_string(c[j]) +
                               "): <pad> <bos> <eos> never appear inside a caption (the game adds its own framing)");
        else if (c[j] < kUnk || c[j] >= V)
          fail("captions", where + " holds id " + std::to_string(c[j]) + ", outside the vocabulary's words: allowed 1 (<unk>) and 4.." +
                               std::to_string(V - 1) + ", -1 after the last word");
      }
    }
  } else if (!captions.empty()) {
    fail("captions", "are present without a vocab");
  }
  if (has_concepts()) {
    if (concepts.size() != size_t(rows * attributes))
      fail("concepts", "has " + std::to_string(concepts.size()) + " values, expected N*A");
    if (!attribute_names.empty() && attribute_names.size() != size_t(attributes))
      fail("concepts", "has " + std::to_string(attribute_names.size()) + " attribute names for " + std::to_string(attributes) + " columns");
    for (size_t i = 0; i < concepts.size(); ++i)
      if (concepts[i] < 0) fail("concepts", "row " + std::to_string(i / attributes) + " holds a negative value");
  }
}

void SynthOptions::validate(const std::string& prefix) const {
  scene.validate(prefix);
  if (!(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1))
    throw UserError(prefix + "val_fraction + " + prefix + "test_fraction must be below 1 (both >= 0)");
  int64_t n[3];
  split_sizes(n);
  if (n[0] < 1)
    throw UserError(prefix + "size=" + std::to_string(size) + " leaves no train row after " + std::to_string(n[1]) + " val and " +
                    std::to_string(n[2]) + " test rows (every split needs one); raise " + prefix + "size or lower " + prefix +
                    "val_fraction/" + prefix + "test_fraction");
}

void SynthOptions::split_sizes(int64_t out[3]) const {
  out[1] = std::max<int64_t>(1, int64_t(size * val_fraction));
  out[2] = std::max<int64_t>(1, int64_t(size * test_fraction));
  out[0] = size - out[1] - out[2];
}

Dataset synthesize(const SynthOptions& opt, uint64_t seed) {
  const Rng root(seed);
  const int64_t N = opt.size, S = opt.scene.image_size;
  CaptionGrammar grammar(opt.scene.grid, opt.scene.objects, opt.caption);
  Dataset ds;
  ds.rows = N;
  ds.height = ds.width = S;
  ds.images.resize(N * S * S * 3);
  ds.vocab = grammar.vocab();
  ds.caption_length = grammar.max_length();
  ds.captions.assign(N * ds.caption_length, -1);
  ds.attributes = opt.scene.attributes();
  ds.attribute_names = concept_names(opt.scene.objects);
  ds.concepts.resize(N * ds.attributes);
  ds.split.resize(N);
  int64_t n_split[3];
  opt.split_sizes(n_split);
  const int64_t n_train = n_split[0], n_val = n_split[1];
  for (int64_t i = 0; i < N; ++i) {
    Rng rng = root.derive("scene/" + std::to_string(i));
    const Scene scene = random_scene(opt.scene, rng);
    render_scene(scene, opt.scene, rng, &ds.images[i * S * S * 3]);
    const auto concept = scene_concept(scene);
    std::copy(concept.begin(), concept.end(), &ds.concepts[i * ds.attributes]);
    const auto caption = grammar.caption(scene, rng);
    std::copy(caption.begin(), caption.end(), &ds.captions[i * ds.caption_length]);
    ds.split[i] = i < n_train ? 0 : i < n_train + n_val ? 1 : 2;
  }
  ds.validate("synthetic dataset");
  return ds;
}

}  // namespace emcomm
