#include "agents/encoders.h"

#include <torch/torch.h>

#include "core/errors.h"

namespace emcomm {

BeholderImpl::BeholderImpl(int64_t input_dim, int64_t hidden) {
  lin_ = register_module("lin", torch::nn::Linear(input_dim, hidden));
}

torch::Tensor BeholderImpl::forward(const torch::Tensor& objects) { return lin_(objects); }

CnnEncoderImpl::CnnEncoderImpl(int64_t height, int64_t width, int64_t channels, int64_t hidden) {
  if (height < 4 || width < 4)
    throw UserError("the CNN encoder needs images of at least 4 x 4 pixels (have " + std::to_string(height) + " x " +
                    std::to_string(width) + ")");
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, channels, 3).padding(1)));
  conv2_ = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 2 * channels, 3).padding(1)));
  out_ = register_module("out", torch::nn::Linear(2 * channels * (height / 4) * (width / 4), hidden));
}

torch::Tensor CnnEncoderImpl::forward(const torch::Tensor& objects) {
  EMCOMM_CHECK(objects.dim() >= 4, "CNN encoder input must be [..., 3, H, W]");
  auto lead = objects.sizes().vec();
  lead.resize(lead.size() - 3);
  auto x = objects.reshape({-1, objects.size(-3), objects.size(-2), objects.size(-1)});
  x = torch::max_pool2d(torch::relu(conv1_(x)), 2);
  x = torch::max_pool2d(torch::relu(conv2_(x)), 2);
  lead.push_back(-1);
  return out_(x.flatten(1)).view(lead);
}

std::shared_ptr<EncoderImpl> make_encoder(const std::vector<int64_t>& shape, int64_t hidden, int64_t cnn_channels) {
  if (shape.size() == 1) return std::make_shared<BeholderImpl>(shape[0], hidden);
  if (shape.size() == 3 && shape[0] == 3) return std::make_shared<CnnEncoderImpl>(shape[1], shape[2], cnn_channels, hidden);
  std::string s;
  for (auto d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
  throw UserError("objects of shape [" + s + "] have no encoder: expected a vector [D] or an RGB image [3, H, W]");
}

}  // namespace emcomm
