#include "envs/referential/caption.h"

#include <algorithm>

namespace emcomm {

const char* const kSpecialTokens[kFirstWord] = {"<pad>", "<unk>", "<bos>", "<eos>"};

namespace {

const char* const kShapeSynonyms[kShapes] = {"disc", "box", "wedge", "rhombus", "plus"};
const char* const kColourSynonyms[kColours] = {"crimson", "emerald", "azure", "golden", "purple", "turquoise"};
const char* const kSizeSynonyms[kSizes] = {"little", "midsize", "big", "giant"};
// Position words and their synonyms; left and right have none.
struct PositionWord {
  const char* word;
  const char* synonym;
};
constexpr PositionWord kTop{"top", "upper"}, kBottom{"bottom", "lower"}, kLeft{"left", nullptr},
    kRight{"right", nullptr}, kCenter{"center", "middle"};

// Index of `w` in names or synonyms, or -1.
int lookup(const std::string& w, const char* const* names, const char* const* synonyms, int n) {
  for (int i = 0; i < n; ++i)
    if (w == names[i] || w == synonyms[i]) return i;
  return -1;
}

bool is(const std::string& w, const PositionWord& p) { return w == p.word || (p.synonym && w == p.synonym); }

}  // namespace

CaptionGrammar::CaptionGrammar(int64_t grid, int64_t objects, CaptionOptions opt)
    : grid_(grid), objects_(objects), opt_(opt) {
  vocab_.assign(kSpecialTokens, kSpecialTokens + kFirstWord);
  for (const char* w : {"a", "the", "at"}) vocab_.push_back(w);
  if (objects > 1) vocab_.push_back("and");
  std::vector<PositionWord> pos = {kTop, kBottom, kLeft, kRight};
  if (grid == 3) pos.push_back(kCenter);
  auto add_all = [&](bool synonyms) {
    for (int i = 0; i < kShapes; ++i) vocab_.push_back(synonyms ? kShapeSynonyms[i] : kShapeNames[i]);
    for (int i = 0; i < kColours; ++i) vocab_.push_back(synonyms ? kColourSynonyms[i] : kColourNames[i]);
    for (int i = 0; i < kSizes; ++i) vocab_.push_back(synonyms ? kSizeSynonyms[i] : kSizeNames[i]);
    for (const auto& p : pos)
      if (!synonyms) vocab_.push_back(p.word);
      else if (p.synonym) vocab_.push_back(p.synonym);
  };
  add_all(false);
  if (opt.synonyms) add_all(true);
}

int32_t CaptionGrammar::id_of(const std::string& word) const {
  auto it = std::find(vocab_.begin(), vocab_.end(), word);
  return it == vocab_.end() ? kUnk : int32_t(it - vocab_.begin());
}

std::vector<std::string> CaptionGrammar::words(const Scene& scene, Rng& rng) const {
  auto coin = [&rng](bool enabled) { return enabled && rng.below(2) == 1; };
  auto pick = [&](const char* word, const char* synonym) {
    return std::string(synonym && coin(opt_.synonyms) ? synonym : word);
  };
  std::vector<std::string> out;
  for (size_t k = 0; k < scene.size(); ++k) {
    const SceneObject& o = scene[k];
    if (k > 0) out.push_back("and");
    std::vector<std::string> noun, where;
    if (!coin(opt_.optional_words)) noun.push_back("a");
    std::string size = pick(kSizeNames[o.size], kSizeSynonyms[o.size]);
    std::string colour = pick(kColourNames[o.colour], kColourSynonyms[o.colour]);
    if (coin(opt_.word_order)) std::swap(size, colour);
    noun.insert(noun.end(), {size, colour, pick(kShapeNames[o.shape], kShapeSynonyms[o.shape])});
    where.push_back("at");
    if (!coin(opt_.optional_words)) where.push_back("the");
    const int row = o.position / int(grid_), col = o.position % int(grid_);
    const bool mid_row = grid_ == 3 && row == 1, mid_col = grid_ == 3 && col == 1;
    if (mid_row && mid_col) where.push_back(pick(kCenter.word, kCenter.synonym));
    if (!mid_row) where.push_back(row == 0 ? pick(kTop.word, kTop.synonym) : pick(kBottom.word, kBottom.synonym));
    if (!mid_col) where.push_back(col == 0 ? kLeft.word : kRight.word);
    if (coin(opt_.word_order)) std::swap(noun, where);
    out.insert(out.end(), noun.begin(), noun.end());
    out.insert(out.end(), where.begin(), where.end());
  }
  return out;
}

std::vector<int32_t> CaptionGrammar::caption(const Scene& scene, Rng& rng) const {
  std::vector<int32_t> ids;
  for (const auto& w : words(scene, rng)) ids.push_back(id_of(w));
  return ids;
}

std::optional<Scene> CaptionGrammar::parse(const std::vector<std::string>& words) const {
  Scene scene;
  std::vector<std::vector<std::string>> segments(1);
  for (const auto& w : words)
    if (w == "and") segments.emplace_back();
    else segments.back().push_back(w);
  for (const auto& seg : segments) {
    int shape = -1, colour = -1, size = -1, row = -1, col = -1;
    bool center = false;
    auto set = [](int& slot, int v) {
      if (slot >= 0) return false;  // the attribute is named twice
      slot = v;
      return true;
    };
    for (const auto& w : seg) {
      if (w == "a" || w == "the" || w == "at") continue;
      int v;
      bool ok;
      if ((v = lookup(w, kShapeNames, kShapeSynonyms, kShapes)) >= 0) ok = set(shape, v);
      else if ((v = lookup(w, kColourNames, kColourSynonyms, kColours)) >= 0) ok = set(colour, v);
      else if ((v = lookup(w, kSizeNames, kSizeSynonyms, kSizes)) >= 0) ok = set(size, v);
      else if (is(w, kTop)) ok = set(row, 0);
      else if (is(w, kBottom)) ok = set(row, int(grid_) - 1);
      else if (is(w, kLeft)) ok = set(col, 0);
      else if (is(w, kRight)) ok = set(col, int(grid_) - 1);
      else if (grid_ == 3 && is(w, kCenter) && !center) ok = center = true;
      else return std::nullopt;
      if (!ok) return std::nullopt;
    }
    if (shape < 0 || colour < 0 || size < 0) return std::nullopt;
    if (center) {
      if (row >= 0 || col >= 0) return std::nullopt;
      row = col = 1;
    } else if (grid_ == 3 && (row >= 0 || col >= 0)) {
      if (row < 0) row = 1;
      if (col < 0) col = 1;
    }
    if (row < 0 || col < 0) return std::nullopt;
    scene.push_back({shape, colour, size, row * int(grid_) + col});
  }
  if (int64_t(scene.size()) != objects_) return std::nullopt;
  for (size_t k = 1; k < scene.size(); ++k)
    if (scene[k].position <= scene[k - 1].position) return std::nullopt;  // captions list objects in position order
  return scene;
}

std::string caption_text(const std::vector<std::string>& vocab, const int32_t* ids, int64_t length) {
  std::string out;
  for (int64_t i = 0; i < length && ids[i] != -1; ++i) {
    if (!out.empty()) out += ' ';
    out += ids[i] >= 0 && size_t(ids[i]) < vocab.size() ? vocab[ids[i]] : "<id " + std::to_string(ids[i]) + ">";
  }
  return out;
}

}  // namespace emcomm
