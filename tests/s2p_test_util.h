// Helpers of the S2P tests: a Lewis game with an S2P trainer built from one resolved config,
// and parameter snapshots to compare trained agents.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "algorithms/s2p.h"
#include "core/config.h"
#include "envs/lewis/lewis.h"

namespace emcomm::test {

struct S2PSetup {
  std::shared_ptr<LewisGame> game;
  std::unique_ptr<S2P> algo;
  explicit S2PSetup(const Config& cfg)
      : game(std::make_shared<LewisGame>(LewisGame::Options::from(cfg), Rng(1).derive("env"))),
        algo(std::make_unique<S2P>(S2P::Options::from(cfg), game, Rng(1).derive("algorithm"))) {}
};

inline std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

inline bool same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace emcomm::test
