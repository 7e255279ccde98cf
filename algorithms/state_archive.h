// Checkpoint archives (docs/reliability.md): the helpers every algorithm's save_state and
// load_state use to put modules, optimizers, random generators and counters into a
// torch::serialize archive under a key, and read them back.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "core/rng.h"

namespace emcomm::state {

using Out = torch::serialize::OutputArchive;
using In = torch::serialize::InputArchive;

void put(Out& ar, const std::string& key, int64_t value);
void put(Out& ar, const std::string& key, double value);
void put(Out& ar, const std::string& key, Rng& rng);              // the engine's state
void put(Out& ar, const std::string& key, at::Generator& gen);    // at::Generator::get_state()
void put(Out& ar, const std::string& key, const torch::nn::Module& module);
void put(Out& ar, const std::string& key, const torch::optim::Optimizer& opt);
void put(Out& ar, const std::string& key, const Metrics& metrics);
void put(Out& ar, const std::string& key, const std::vector<torch::Tensor>& tensors);

// Each get throws std::runtime_error naming the key when it is missing or of another kind.
int64_t get_int(In& ar, const std::string& key);
double get_double(In& ar, const std::string& key);
void get(In& ar, const std::string& key, Rng& rng);
void get(In& ar, const std::string& key, at::Generator& gen);
void get(In& ar, const std::string& key, torch::nn::Module& module);
void get(In& ar, const std::string& key, torch::optim::Optimizer& opt);
Metrics get_metrics(In& ar, const std::string& key);
std::vector<torch::Tensor> get_tensors(In& ar, const std::string& key);

// What every speaker-listener trainer (selfplay, s2p) keeps: both agents, their optimisers,
// the data generator, the channel's generator and the REINFORCE baseline.
struct SignalPairState {
  torch::nn::Module &speaker, &listener;
  torch::optim::Optimizer &speaker_opt, &listener_opt;
  Rng& data_rng;
  at::Generator& channel_gen;
  double& baseline;
  int64_t& baseline_n;
  void save(Out& ar) const;
  void load(In& ar) const;
  // first_nonfinite() of the speaker, then of the listener.
  std::string nonfinite() const;
};

// "<prefix>.<parameter name>" of the first parameter of `module` holding a NaN or an
// infinity, or "" when every parameter is finite.
std::string first_nonfinite(const torch::nn::Module& module, const std::string& prefix);

}  // namespace emcomm::state
