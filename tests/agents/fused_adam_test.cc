// FusedAdam (agents/fused_adam.h) is torch::optim::Adam computed in one pass: the same
// trajectory up to float rounding, the same state and checkpoint format, and parameters without
// a gradient left alone.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <sstream>
#include <type_traits>

#include "agents/fused_adam.h"

using namespace emcomm;

namespace {

struct Problem {
  std::vector<torch::Tensor> params;
  explicit Problem(uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    params = {torch::randn({7, 5}, gen).requires_grad_(), torch::randn({300001}, gen).requires_grad_(),
              torch::randn({3}, gen).requires_grad_()};
  }
  // A loss with a different gradient at every step; the third parameter gets none when `skip`.
  void backward(int64_t t, bool skip) {
    auto l = (params[0] * params[0] * double(t)).sum() + (params[1].sin() * double(t % 3 + 1)).sum();
    if (!skip) l = l + params[2].pow(3).sum();
    l.backward();
  }
};

template <class Opt>
std::vector<torch::Tensor> run(torch::optim::AdamOptions o, int64_t steps, int threads = 1) {
  Problem pr(3);
  Opt opt(pr.params, o);
  if constexpr (std::is_same_v<Opt, FusedAdam>) opt.set_threads(threads);
  for (int64_t t = 1; t <= steps; ++t) {
    opt.zero_grad();
    pr.backward(t, t % 4 == 0);
    opt.step();
  }
  std::vector<torch::Tensor> v;
  for (auto& p : pr.params) v.push_back(p.detach().clone());
  return v;
}

}  // namespace

TEST_CASE("FusedAdam follows torch::optim::Adam's trajectory up to float rounding", "[agents][adam]") {
  for (double wd : {0.0, 0.01}) {
    auto o = torch::optim::AdamOptions(0.01).weight_decay(wd);
    auto a = run<torch::optim::Adam>(o, 25), b = run<FusedAdam>(o, 25);
    Problem start(3);
    for (size_t i = 0; i < a.size(); ++i) {
      INFO("param " << i << " weight_decay " << wd);
      CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
      CHECK_FALSE(torch::equal(b[i], start.params[i]));  // it moved
    }
  }
}

TEST_CASE("FusedAdam on threads of its own: the same parameters bit for bit", "[agents][adam]") {
  // The 300001-element parameter is split in two (three asked for: at least 2^17 per thread).
  auto o = torch::optim::AdamOptions(0.01).weight_decay(0.01);
  auto a = run<FusedAdam>(o, 7, 1), b = run<FusedAdam>(o, 7, 2), c = run<FusedAdam>(o, 7, 3);
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(torch::equal(a[i], b[i]));
    CHECK(torch::equal(a[i], c[i]));
  }
}

TEST_CASE("FusedAdam keeps torch::optim::Adam's state: either can continue the other's checkpoint",
          "[agents][adam]") {
  const auto o = torch::optim::AdamOptions(0.02);
  Problem pr(5), ref(5);
  FusedAdam fused(pr.params, o);
  torch::optim::Adam plain(ref.params, o);
  for (int64_t t = 1; t <= 6; ++t) {
    fused.zero_grad();
    pr.backward(t, false);
    fused.step();
    plain.zero_grad();
    ref.backward(t, false);
    plain.step();
  }
  REQUIRE(fused.state().size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(torch::allclose(pr.params[i], ref.params[i], 1e-5, 1e-6));
  // Save the fused state, load it into a plain Adam over a copy of the parameters, and step both.
  std::stringstream buf;
  {
    torch::serialize::OutputArchive ar;
    fused.save(ar);
    ar.save_to(buf);
  }
  std::vector<torch::Tensor> copy;
  for (auto& p : pr.params) copy.push_back(p.detach().clone().requires_grad_());
  torch::optim::Adam loaded(copy, o);
  {
    torch::serialize::InputArchive ar;
    ar.load_from(buf);
    loaded.load(ar);
  }
  for (const auto& [key, st] : loaded.state())
    CHECK(static_cast<const torch::optim::AdamParamState&>(*st).step() == 6);
  Problem c(5);
  c.params = copy;
  fused.zero_grad();
  pr.backward(7, false);
  fused.step();
  loaded.zero_grad();
  c.backward(7, false);
  loaded.step();
  // The loaded state was found under the parameters' keys, not made anew (a fresh state would
  // give a first step of size lr for every weight, far from the fused 7th step).
  CHECK(loaded.state().size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(torch::allclose(pr.params[i], copy[i], 1e-5, 1e-6));
}

TEST_CASE("FusedAdam leaves parameters without a gradient untouched", "[agents][adam]") {
  Problem pr(9);
  FusedAdam opt(pr.params, torch::optim::AdamOptions(0.1));
  auto before = pr.params[2].detach().clone();
  opt.zero_grad();
  pr.backward(4, /*skip=*/true);
  pr.params[2].mutable_grad() = torch::Tensor();
  opt.step();
  CHECK(torch::equal(pr.params[2], before));
  CHECK(opt.state().size() == 2);
}

TEST_CASE("FusedAdam bumps the version of every parameter it updates, as an in-place op would",
          "[agents][adam]") {
  // Caches keyed on versions (the population's collapsed weights) must see the update.
  Problem pr(2);
  FusedAdam opt(pr.params, torch::optim::AdamOptions(0.1));
  std::vector<int64_t> before;
  for (auto& p : pr.params) before.push_back(p._version());
  opt.zero_grad();
  pr.backward(1, /*skip=*/true);
  pr.params[2].mutable_grad() = torch::Tensor();
  opt.step();
  CHECK(pr.params[0]._version() > before[0]);
  CHECK(pr.params[1]._version() > before[1]);
  CHECK(pr.params[2]._version() == before[2]);
}
