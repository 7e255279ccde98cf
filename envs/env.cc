#include "envs/env.h"

#include <torch/nn/functional/loss.h>

#include <algorithm>
#include <numeric>

#include "core/errors.h"

namespace emcomm {

const char* split_name(Split s) {
  switch (s) {
    case Split::Train: return "train";
    case Split::Val: return "val";
    case Split::Test: return "test";
  }
  return "?";
}

torch::Tensor SignalingGame::human_messages(const SignalBatch&) const {
  throw UserError("env '" + name() + "' has no human language for supervised learning");
}

torch::Tensor discrimination_loss(const torch::Tensor& scores, const torch::Tensor& target) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(scores, target, F::CrossEntropyFuncOptions().reduction(torch::kNone));
}

torch::Tensor argmax_action(const torch::Tensor& receiver_output) { return receiver_output.argmax(-1); }

torch::Tensor discrimination_correct(const torch::Tensor& scores, const torch::Tensor& target) {
  return (argmax_action(scores) == target).to(torch::kFloat32);
}

std::vector<int64_t> sample_positions(int64_t n, int64_t batch, Rng& rng) {
  std::vector<int64_t> positions(batch);
  for (auto& k : positions) k = int64_t(rng.below(uint64_t(n)));
  return positions;
}

std::vector<int64_t> eval_positions(int64_t n, int64_t size) {
  if (size <= 0 || size > n) size = n;
  std::vector<int64_t> positions(size);
  for (int64_t k = 0; k < size; ++k) positions[k] = k * n / size;
  return positions;
}

std::vector<int64_t> slice_positions(Split split, int64_t n, int64_t first, int64_t count) {
  if (first < 0 || count < 0 || first + count > n)
    throw UserError("requested objects " + std::to_string(first) + ".." + std::to_string(first + count - 1) +
                    " of the " + split_name(split) + " split, which has " + std::to_string(n));
  std::vector<int64_t> positions(count);
  std::iota(positions.begin(), positions.end(), first);
  return positions;
}

void draw_distinct(int64_t n, int64_t exclude, int64_t count, Rng& rng, std::vector<int64_t>& scratch, int64_t* out) {
  EMCOMM_CHECK(count <= n - 1, "cannot draw " + std::to_string(count) + " distinct indices out of " + std::to_string(n - 1));
  if ((count + 1) * 4 <= n) {
    for (int64_t c = 0; c < count; ++c) {
      int64_t i;
      do i = int64_t(rng.below(uint64_t(n)));
      while (i == exclude || std::find(out, out + c, i) != out + c);
      out[c] = i;
    }
    return;
  }
  scratch.resize(n);
  std::iota(scratch.begin(), scratch.end(), int64_t(0));
  std::swap(scratch[exclude], scratch[n - 1]);
  for (int64_t c = 0; c < count; ++c) {
    std::swap(scratch[c], scratch[c + int64_t(rng.below(uint64_t(n - 1 - c)))]);
    out[c] = scratch[c];
  }
}

SignalBatch PositionedGame::sample(Split split, int64_t batch, Rng& rng) const {
  return make_batch(sample_positions(split_size(split), batch, rng), split, rng);
}

SignalBatch PositionedGame::sample_from(Split split, int64_t first, int64_t batch, Rng& rng) const {
  const int64_t n = split_size(split);
  if (first < 0 || first >= n)
    throw UserError("cannot draw from objects " + std::to_string(first) + ".. of a split of " + std::to_string(n) +
                    " objects");
  auto positions = sample_positions(n - first, batch, rng);
  for (auto& p : positions) p += first;
  return make_batch(positions, split, rng);
}

SignalBatch PositionedGame::sample_within(Split split, int64_t first, int64_t count, int64_t batch,
                                          Rng& rng) const {
  auto range = slice_positions(split, split_size(split), first, count);
  const int64_t k = std::min(batch, count);
  for (int64_t i = 0; i < k; ++i)  // partial Fisher-Yates: the first k are a uniform draw without replacement
    std::swap(range[size_t(i)], range[size_t(i + int64_t(rng.below(uint64_t(count - i))))]);
  range.resize(size_t(k));
  return make_batch(range, split, rng);
}

SignalBatch PositionedGame::eval_set(Split split, int64_t size, Rng& rng) const {
  return make_batch(eval_positions(split_size(split), size), split, rng);
}

SignalBatch PositionedGame::slice(Split split, int64_t first, int64_t count, Rng& rng) const {
  return make_batch(slice_positions(split, split_size(split), first, count), split, rng);
}

SignalBatch SignalingGame::sample_from(Split split, int64_t first, int64_t batch, Rng& rng) const {
  if (first != 0) throw UserError("env '" + name() + "' cannot draw from part of a split");
  return sample(split, batch, rng);
}

SignalBatch SignalingGame::sample_within(Split, int64_t, int64_t, int64_t, Rng&) const {
  throw UserError("env '" + name() + "' cannot draw a batch from part of a split");
}

const char* env_kind_name(EnvKind k) { return k == EnvKind::Signaling ? "signaling" : "markov"; }

const char* observations_name(Observations o) {
  switch (o) {
    case Observations::Vector: return "vector";
    case Observations::Image: return "image";
    case Observations::ImageOrVector: return "image|vector";
  }
  return "?";
}

}  // namespace emcomm
