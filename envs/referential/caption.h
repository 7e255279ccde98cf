// Captions of synthetic scenes from a small grammar, e.g. "a small red circle at the top left",
// several objects joined by "and" in position order. Each kind of variation can be switched on:
//   synonyms       each attribute word may be replaced by its synonym (little, crimson, disc...)
//   word_order     size/colour order and noun-phrase/position-phrase order vary
//                  ("at the top left a red small circle")
//   optional_words the articles "a" and "the" may be left out
// so the human language is not one-to-one with the concepts. The vocabulary starts with the
// four special tokens PAD, UNK, BOS, EOS (ids 0..3), then the words the enabled variations can
// produce. parse() inverts caption() for every variation; with all of them off the caption of
// a concept is unique.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "envs/referential/scene.h"

namespace emcomm {

// Special tokens shared by every caption vocabulary (docs/dataset-format.md).
inline constexpr int32_t kPad = 0, kUnk = 1, kBos = 2, kEos = 3, kFirstWord = 4;
extern const char* const kSpecialTokens[kFirstWord];  // "<pad>", "<unk>", "<bos>", "<eos>"

struct CaptionOptions {
  bool synonyms = false, word_order = false, optional_words = false;
};

class CaptionGrammar {
 public:
  CaptionGrammar(int64_t grid, int64_t objects, CaptionOptions opt);

  const std::vector<std::string>& vocab() const { return vocab_; }
  // The longest caption in words: 8 per object plus one "and" between objects.
  int64_t max_length() const { return 9 * objects_ - 1; }
  // Vocabulary ids of a caption; rng draws the variations (nothing when they are off).
  std::vector<int32_t> caption(const Scene& scene, Rng& rng) const;
  std::vector<std::string> words(const Scene& scene, Rng& rng) const;
  // The scene a caption describes, or nothing when it is not a caption of this grammar.
  std::optional<Scene> parse(const std::vector<std::string>& words) const;
  int32_t id_of(const std::string& word) const;  // kUnk when unknown

 private:
  int64_t grid_, objects_;
  CaptionOptions opt_;
  std::vector<std::string> vocab_;
};

// The words of vocabulary ids (an id outside the vocabulary prints as "<id N>"); stops at -1.
std::string caption_text(const std::vector<std::string>& vocab, const int32_t* ids, int64_t length);

}  // namespace emcomm
