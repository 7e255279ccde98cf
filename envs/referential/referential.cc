#include "envs/referential/referential.h"

#include <torch/torch.h>

#include <string_view>
#include <unordered_map>

#include "core/errors.h"

namespace emcomm {
namespace {

// Synthetic-scene options: they cannot be combined with env.dataset.
const char* const kSynthOptions[] = {"env.size",     "env.image_size",     "env.objects",        "env.grid",
                                     "env.noise",    "env.jitter",         "env.synonyms",       "env.word_order",
                                     "env.optional_words", "env.val_fraction", "env.test_fraction", "env.data_seed"};

}  // namespace

OptionSet ReferentialGame::option_set() {
  OptionSet s;
  s.add_string("env.dataset", "", "HDF5 dataset file (docs/dataset-format.md); empty: synthetic scenes rendered in memory")
      .add_int("env.distractors", 9, "distractors per episode (candidates = distractors + 1)", 1, 1000)
      .add_int("env.size", 10000, "synthetic scenes (rows of the dataset)", 3, 10000000)
      .add_int("env.image_size", 32, "synthetic image height = width in pixels", 16, 512)
      .add_int("env.objects", 1, "objects per synthetic scene (distinct grid cells)", 1, 9)
      .add_int("env.grid", 2, "positions: a grid x grid layout (2: 4 positions, 3: 9)", 2, 3)
      .add_float("env.noise", 0.05, "uniform pixel noise amplitude, fraction of 255", 0.0, 1.0)
      .add_float("env.jitter", 0.5, "position jitter, fraction of the free room in the cell", 0.0, 1.0)
      .add_bool("env.synonyms", true, "captions: attribute words may be replaced by a synonym")
      .add_bool("env.word_order", true, "captions: adjective and phrase order varies")
      .add_bool("env.optional_words", true, "captions: the articles a/the may be left out")
      .add_float("env.val_fraction", 0.1, "synthetic rows in the val split", 0.0, 0.9)
      .add_float("env.test_fraction", 0.1, "synthetic rows in the test split", 0.0, 0.9)
      .add_int("env.data_seed", 1, "seed of the synthetic scenes (the same for every run.seed)", 0);
  return s;
}

ReferentialGame::Options ReferentialGame::Options::from(const Config& cfg) {
  Options o;
  o.dataset = cfg.get_string("env.dataset");
  o.distractors = cfg.get_int("env.distractors");
  if (!o.dataset.empty())
    for (const char* name : kSynthOptions)
      if (cfg.is_set(name))
        throw UserError(std::string(name) + " describes synthetic scenes and cannot be combined with env.dataset='" +
                        o.dataset + "'; remove one of them");
  SceneOptions& sc = o.synth.scene;
  o.synth.size = cfg.get_int("env.size");
  sc.image_size = cfg.get_int("env.image_size");
  sc.objects = cfg.get_int("env.objects");
  sc.grid = cfg.get_int("env.grid");
  sc.noise = cfg.get_float("env.noise");
  sc.jitter = cfg.get_float("env.jitter");
  o.synth.caption.synonyms = cfg.get_bool("env.synonyms");
  o.synth.caption.word_order = cfg.get_bool("env.word_order");
  o.synth.caption.optional_words = cfg.get_bool("env.optional_words");
  o.synth.val_fraction = cfg.get_float("env.val_fraction");
  o.synth.test_fraction = cfg.get_float("env.test_fraction");
  o.data_seed = uint64_t(cfg.get_int("env.data_seed"));
  if (o.dataset.empty()) o.synth.validate("env.");
  return o;
}

ReferentialGame::ReferentialGame(const Options& opt) : distractors_(opt.distractors) {
  if (opt.dataset.empty()) {
    data_ = synthesize(opt.synth, opt.data_seed);
    init("the synthetic dataset (env.size=" + std::to_string(opt.synth.size) + ")");
  } else {
    data_ = read_dataset(opt.dataset);
    init("dataset '" + opt.dataset + "'");
  }
}

ReferentialGame::ReferentialGame(Dataset data, int64_t distractors, const std::string& source)
    : data_(std::move(data)), distractors_(distractors) {
  data_.validate(source);
  init(source);
}

void ReferentialGame::init(const std::string& source) {
  const int64_t N = data_.rows;
  if (data_.pixels()) {
    auto hwc = torch::from_blob(data_.images.data(), {N, data_.height, data_.width, 3}, torch::kUInt8);
    objects_ = hwc.permute({0, 3, 1, 2}).contiguous();
  } else {
    objects_ = torch::from_blob(data_.features.data(), {N, data_.feature_dim}, torch::kFloat32);  // no copy
  }
  if (data_.has_concepts())
    concepts_ = torch::from_blob(data_.concepts.data(), {N, data_.attributes}, torch::kInt32).to(torch::kInt64);
  if (data_.has_captions()) {
    // Vocabulary id -> word id: <unk> (1) -> 0, word v >= 4 -> v - 3; -1 stays.
    auto ids = torch::from_blob(data_.captions.data(), {N, data_.caption_length}, torch::kInt32).to(torch::kInt64);
    human_ = torch::where(ids == kUnk, torch::zeros_like(ids), torch::where(ids >= kFirstWord, ids - (kFirstWord - 1), ids));
  }
  // Identity of each row: its concept when there are concepts, else its pixels / features.
  const char* base;
  size_t width;
  if (data_.has_concepts()) {
    base = reinterpret_cast<const char*>(data_.concepts.data());
    width = data_.attributes * sizeof(int32_t);
  } else if (data_.pixels()) {
    base = reinterpret_cast<const char*>(data_.images.data());
    width = data_.object_size();
  } else {
    base = reinterpret_cast<const char*>(data_.features.data());
    width = data_.object_size() * sizeof(float);
  }
  class_of_.assign(N, -1);
  for (int s = 0; s < 3; ++s) {
    std::unordered_map<std::string_view, int64_t> seen;
    for (int64_t i = 0; i < N; ++i) {
      if (data_.split[i] != s) continue;
      rows_[s].push_back(i);
      auto [it, fresh] = seen.emplace(std::string_view(base + i * width, width), int64_t(classes_[s].size()));
      if (fresh) classes_[s].emplace_back();
      classes_[s][it->second].push_back(i);
      class_of_[i] = it->second;
    }
  }
  const std::string kind = data_.has_concepts() ? "distinct concepts" : data_.pixels() ? "distinct images" : "distinct feature vectors";
  for (Split s : kAllSplits)
    if (distinct_objects(s) < distractors_ + 1)
      throw UserError("env.distractors=" + std::to_string(distractors_) + " needs " + std::to_string(distractors_ + 1) + " " +
                      kind + " per episode, but the " + split_name(s) + " split of " + source + " has " +
                      std::to_string(distinct_objects(s)) + "; lower env.distractors");
}

std::vector<int64_t> ReferentialGame::object_shape() const {
  if (data_.pixels()) return {3, data_.height, data_.width};
  return {data_.feature_dim};
}

ReceiverSpec ReferentialGame::receiver_spec() const {
  ReceiverSpec r;
  r.kind = ReceiverSpec::Kind::Discriminate;
  r.candidates = distractors_ + 1;
  r.candidate_dim = data_.object_size();
  return r;
}

int64_t ReferentialGame::human_vocab_size() const {
  return data_.has_captions() ? int64_t(data_.vocab.size()) - (kFirstWord - 1) : 0;
}

SignalBatch ReferentialGame::make_batch(const std::vector<int64_t>& positions, Split split, Rng& rng) const {
  const int64_t B = int64_t(positions.size()), C = distractors_ + 1;
  std::vector<int64_t> targets(B);
  for (int64_t r = 0; r < B; ++r) targets[r] = row_at(split, positions[r]);
  const auto& classes = classes_[int(split)];
  const int64_t K = int64_t(classes.size());
  std::vector<int64_t> cand(B * C), slot(B), picked(C - 1), scratch;
  for (int64_t r = 0; r < B; ++r) {
    int64_t* row = &cand[r * C];
    row[0] = targets[r];
    draw_distinct(K, class_of_[targets[r]], C - 1, rng, scratch, picked.data());
    for (int64_t c = 1; c < C; ++c) {
      const auto& members = classes[picked[c - 1]];
      row[c] = members[members.size() == 1 ? 0 : rng.below(members.size())];
    }
    slot[r] = int64_t(rng.below(uint64_t(C)));
    std::swap(row[0], row[slot[r]]);
  }
  auto as_input = [this](const torch::Tensor& t) {
    return data_.pixels() ? t.to(torch::kFloat32).div_(255.0f) : t;
  };
  SignalBatch b;
  b.object_ids = torch::tensor(targets, torch::kInt64);
  b.sender_input = as_input(objects_.index_select(0, b.object_ids));
  std::vector<int64_t> shape = objects_.sizes().vec();
  shape[0] = C;
  shape.insert(shape.begin(), B);
  b.receiver_input = as_input(objects_.index_select(0, torch::tensor(cand, torch::kInt64))).view(shape);
  b.target = torch::tensor(slot, torch::kInt64);
  if (concepts_.defined()) b.concept = concepts_.index_select(0, b.object_ids);
  return b;
}

torch::Tensor ReferentialGame::loss(const torch::Tensor& out, const SignalBatch& batch) const {
  return discrimination_loss(out, batch.target);
}

torch::Tensor ReferentialGame::receiver_action(const torch::Tensor& out) const { return argmax_action(out); }

torch::Tensor ReferentialGame::correct(const torch::Tensor& out, const SignalBatch& batch) const {
  return discrimination_correct(out, batch.target);
}

torch::Tensor ReferentialGame::human_messages(const SignalBatch& batch) const {
  if (!human_.defined()) return SignalingGame::human_messages(batch);  // throws: no captions
  EMCOMM_CHECK(batch.object_ids.defined(), "referential human_messages needs the batch's object_ids");
  return human_.index_select(0, batch.object_ids);
}

std::string ReferentialGame::human_text(const torch::Tensor& word_ids) const {
  auto w = word_ids.to(torch::kInt64).contiguous().view({-1});
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t v = w[i].item<int64_t>();
    if (v < 0) break;
    ids.push_back(int32_t(v == 0 ? kUnk : v + (kFirstWord - 1)));
  }
  return caption_text(data_.vocab, ids.data(), int64_t(ids.size()));
}

static const bool kRegistered = EnvRegistry::add(
    {"referential", "referential image game: target + distractors, synthetic scenes or an HDF5 dataset",
     // The run's env rng is not needed: the data come from env.data_seed (or the file) and the
     // distractors from the rng the trainer passes to sample().
     ReferentialGame::option_set(), [](const Config& cfg, Rng) -> std::shared_ptr<Env> {
       return std::make_shared<ReferentialGame>(ReferentialGame::Options::from(cfg));
     },
     EnvKind::Signaling, Observations::ImageOrVector, /*human_language=*/true,
     {"--env.size=60", "--env.distractors=2", "--env.image_size=16", "--agents.arch=gru", "--agents.eos=true",
      "--agents.vocab_size=41", "--agents.max_len=9", "--agents.hidden=16", "--agents.embed=8",
      "--agents.cnn_channels=4", "--agents.relaxation=st_gumbel"}});

}  // namespace emcomm
