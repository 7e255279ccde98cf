// The feature stand-in of `emcomm make-dataset --features=D` (docs/dataset-format.md): every
// scene's pixels through one fixed random network, so the image game can be played on
// feature vectors shaped like the reference's 2048-d ResNet features when no real features
// are at hand. The network is not trained: it carries the scenes' information, not a
// pretrained network's semantics.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "core/errors.h"
#include "core/rng.h"
#include "envs/referential/dataset.h"

namespace emcomm {

void scene_features(Dataset& ds, int64_t dim, uint64_t seed) {
  if (!ds.pixels()) throw UserError("scene features need a dataset of images");
  if (dim < 1) throw UserError("--features=" + std::to_string(dim) + ": expected a feature size of at least 1");
  torch::NoGradGuard no_grad;
  const int64_t in = ds.height * ds.width * 3, hidden = 512;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(Rng(seed).derive("features").seed());
  // He-scaled Gaussian weights: x in [-0.5, 0.5] -> ReLU(W1 x) [512] -> ReLU(W2 h) [dim].
  auto w1 = torch::randn({in, hidden}, gen, torch::kFloat32) * std::sqrt(2.0 / double(in));
  auto w2 = torch::randn({hidden, dim}, gen, torch::kFloat32) * std::sqrt(2.0 / double(hidden));
  std::vector<float> out(size_t(ds.rows * dim));
  const int64_t chunk = 1024;
  for (int64_t r = 0; r < ds.rows; r += chunk) {
    const int64_t n = std::min(chunk, ds.rows - r);
    auto px = torch::from_blob(ds.images.data() + r * in, {n, in}, torch::kUInt8).to(torch::kFloat32) / 255.0 - 0.5;
    auto f = torch::relu(torch::relu(px.matmul(w1)).matmul(w2)).contiguous();
    std::copy(f.data_ptr<float>(), f.data_ptr<float>() + n * dim, out.begin() + r * dim);
  }
  ds.features = std::move(out);
  ds.feature_dim = dim;
  ds.images.clear();
  ds.images.shrink_to_fit();
  ds.height = ds.width = 0;
}

}  // namespace emcomm
