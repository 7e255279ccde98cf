// Object encoders: one object (a vector [D] or an RGB image [3, H, W]) -> a hidden vector.
// * Beholder (REFERENCE.md, referential game): Linear(D -> hidden), for feature vectors and
//   symbolic one-hots.
// * Cnn: for images; conv3x3(3 -> c) -> ReLU -> maxpool 2 -> conv3x3(c -> 2c) -> ReLU ->
//   maxpool 2 -> Linear(2c * (H/4) * (W/4) -> hidden).
// Inputs may carry any leading dimensions: [..., shape...] -> [..., hidden].
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <vector>

namespace emcomm {

class EncoderImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& objects) = 0;
};

class BeholderImpl : public EncoderImpl {
 public:
  BeholderImpl(int64_t input_dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& objects) override;

 private:
  torch::nn::Linear lin_{nullptr};
};

class CnnEncoderImpl : public EncoderImpl {
 public:
  CnnEncoderImpl(int64_t height, int64_t width, int64_t channels, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& objects) override;

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear out_{nullptr};
};

// The encoder for objects of `shape` ({D} or {3, H, W}); throws UserError for other shapes.
std::shared_ptr<EncoderImpl> make_encoder(const std::vector<int64_t>& shape, int64_t hidden, int64_t cnn_channels);

}  // namespace emcomm
