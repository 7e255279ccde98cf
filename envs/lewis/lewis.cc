#include "envs/lewis/lewis.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>

#include "core/errors.h"

namespace emcomm {
namespace {

constexpr int64_t kMaxShuffledObjects = int64_t(1) << 26;  // 512 MiB of ids

std::vector<int64_t> seeded_permutation(int64_t n, Rng& rng) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng.below(uint64_t(i) + 1)]);
  return p;
}

int split_index(Split s) { return static_cast<int>(s); }

}  // namespace

HumanLanguage::HumanLanguage(int64_t attributes, int64_t values, Rng rng)
    : attributes_(attributes), values_(values) {
  word_ = seeded_permutation(attributes * values, rng);
  position_ = seeded_permutation(attributes, rng);
  word_table_ = torch::tensor(word_, torch::kInt64);
  std::vector<int64_t> at(attributes);
  for (int64_t i = 0; i < attributes; ++i) at[position_[i]] = i;
  attribute_at_ = torch::tensor(at, torch::kInt64);
}

torch::Tensor HumanLanguage::encode(const torch::Tensor& concept) const {
  EMCOMM_CHECK(concept.dim() == 2 && concept.size(1) == attributes_, "concept must be [B, A]");
  auto offsets = torch::arange(attributes_, torch::kInt64) * values_;
  auto words = word_table_.index({(concept + offsets).flatten()}).view_as(concept);
  return words.index_select(1, attribute_at_);  // column j holds the word of attribute_at[j]
}

OptionSet LewisGame::option_set() {
  OptionSet s;
  s.add_int("env.attributes", 6, "attributes per object (A)", 1, 64)
      .add_int("env.values", 10, "values per attribute (V)", 2, 1000)
      .add_choice("env.mode", "reconstruction", {"reconstruction", "discrimination"},
                  "listener task: output every attribute, or pick the target among candidates")
      .add_int("env.distractors", 9, "distractors per episode in discrimination mode", 1, 1000)
      .add_choice("env.split", "random", {"random", "paper"},
                  "random: seeded shuffle then 80/10/10; paper: product order 80/10/10 (held-out values)");
  return s;
}

LewisGame::Options LewisGame::Options::from(const Config& cfg) {
  Options o;
  o.attributes = cfg.get_int("env.attributes");
  o.values = cfg.get_int("env.values");
  o.distractors = cfg.get_int("env.distractors");
  o.mode = cfg.get_string("env.mode") == "discrimination" ? Mode::Discriminate : Mode::Reconstruct;
  o.split = cfg.get_string("env.split") == "paper" ? SplitKind::Paper : SplitKind::Random;
  return o;
}

LewisGame::LewisGame(const Options& opt, Rng rng)
    : opt_(opt), language_(opt.attributes, opt.values, rng.derive("language")) {
  // V^A objects, refused when it does not fit in 62 bits.
  num_objects_ = 1;
  for (int64_t i = 0; i < opt.attributes; ++i) {
    if (num_objects_ > (int64_t(1) << 62) / opt.values)
      throw UserError("env.attributes=" + std::to_string(opt.attributes) + " with env.values=" +
                      std::to_string(opt.values) + " gives more than 2^62 objects; lower either");
    num_objects_ *= opt.values;
  }
  int64_t n_train = num_objects_ * 8 / 10, n_val = num_objects_ / 10;
  begin_[0] = 0, end_[0] = n_train;
  begin_[1] = n_train, end_[1] = n_train + n_val;
  begin_[2] = n_train + n_val, end_[2] = num_objects_;
  for (Split s : kAllSplits)
    if (split_size(s) < 1)
      throw UserError("env.attributes and env.values give " + std::to_string(num_objects_) +
                      " objects, too few for a non-empty " + split_name(s) +
                      " split (need at least 10 objects)");
  if (opt.split == SplitKind::Random) {
    if (num_objects_ > kMaxShuffledObjects)
      throw UserError("env.split=random shuffles all " + std::to_string(num_objects_) +
                      " objects, more than the limit of " + std::to_string(kMaxShuffledObjects) +
                      "; use env.split=paper or fewer attributes/values");
    Rng split_rng = rng.derive("split");
    order_ = seeded_permutation(num_objects_, split_rng);
  }
  if (opt.mode == Mode::Discriminate)
    for (Split s : kAllSplits)
      if (split_size(s) < opt.distractors + 1)
        throw UserError("env.distractors=" + std::to_string(opt.distractors) + " needs " +
                        std::to_string(opt.distractors + 1) + " distinct objects per episode, but the " +
                        split_name(s) + " split has " + std::to_string(split_size(s)));
}

ReceiverSpec LewisGame::receiver_spec() const {
  ReceiverSpec r;
  if (opt_.mode == Mode::Reconstruct) {
    r.kind = ReceiverSpec::Kind::Reconstruct;
    r.attributes = opt_.attributes;
    r.values = opt_.values;
  } else {
    r.kind = ReceiverSpec::Kind::Discriminate;
    r.candidates = opt_.distractors + 1;
    r.candidate_dim = opt_.attributes * opt_.values;
  }
  return r;
}

int64_t LewisGame::split_size(Split split) const {
  return end_[split_index(split)] - begin_[split_index(split)];
}

int64_t LewisGame::object_at(Split split, int64_t i) const {
  int64_t k = begin_[split_index(split)] + i;
  return order_.empty() ? k : order_[k];
}

torch::Tensor LewisGame::decode(const std::vector<int64_t>& ids) const {
  const int64_t A = opt_.attributes, V = opt_.values;
  auto out = torch::empty({int64_t(ids.size()), A}, torch::kInt64);
  int64_t* p = out.data_ptr<int64_t>();
  for (size_t r = 0; r < ids.size(); ++r) {
    int64_t id = ids[r];
    for (int64_t a = A - 1; a >= 0; --a) {
      p[r * A + a] = id % V;
      id /= V;
    }
  }
  return out;
}

SignalBatch LewisGame::make_batch(const std::vector<int64_t>& positions, Split split, Rng& rng) const {
  const int64_t B = positions.size(), A = opt_.attributes, V = opt_.values;
  std::vector<int64_t> targets(B);
  for (int64_t r = 0; r < B; ++r) targets[r] = object_at(split, positions[r]);
  SignalBatch b;
  b.concept = decode(targets);
  b.sender_input = torch::one_hot(b.concept, V).view({B, A * V}).to(torch::kFloat32);
  if (opt_.mode == Mode::Reconstruct) {
    b.target = b.concept;
    return b;
  }
  // Discrimination: C distinct objects from the split, the target at a random slot.
  const int64_t C = opt_.distractors + 1, n = split_size(split);
  std::vector<int64_t> cand(B * C), slot(B), picked(C - 1), scratch;
  for (int64_t r = 0; r < B; ++r) {
    int64_t* row = &cand[r * C];
    row[0] = targets[r];
    draw_distinct(n, positions[r], C - 1, rng, scratch, picked.data());
    for (int64_t c = 1; c < C; ++c) row[c] = object_at(split, picked[c - 1]);
    slot[r] = rng.below(C);
    std::swap(row[0], row[slot[r]]);
  }
  b.receiver_input = torch::one_hot(decode(cand), V).view({B, C, A * V}).to(torch::kFloat32);
  b.target = torch::tensor(slot, torch::kInt64);
  return b;
}

torch::Tensor LewisGame::loss(const torch::Tensor& out, const SignalBatch& batch) const {
  namespace F = torch::nn::functional;
  const int64_t B = batch.size();
  if (opt_.mode == Mode::Reconstruct) {
    auto ce = F::cross_entropy(out.reshape({B * opt_.attributes, opt_.values}), batch.target.reshape({-1}),
                               F::CrossEntropyFuncOptions().reduction(torch::kNone));
    return ce.view({B, opt_.attributes}).sum(1);
  }
  return discrimination_loss(out, batch.target);
}

torch::Tensor LewisGame::receiver_action(const torch::Tensor& out) const { return argmax_action(out); }

torch::Tensor LewisGame::correct(const torch::Tensor& out, const SignalBatch& batch) const {
  auto hit = receiver_action(out) == batch.target;
  if (opt_.mode == Mode::Reconstruct) hit = hit.all(1);
  return hit.to(torch::kFloat32);
}

static const bool kRegistered = EnvRegistry::add(
    {"lewis", "Lewis signaling / object reconstruction game (A attributes x V values)",
     LewisGame::option_set(), [](const Config& cfg, Rng rng) -> std::shared_ptr<Env> {
       return std::make_shared<LewisGame>(LewisGame::Options::from(cfg), rng);
     },
     EnvKind::Signaling, Observations::Vector, /*human_language=*/true});

}  // namespace emcomm
