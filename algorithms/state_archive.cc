#include "algorithms/state_archive.h"

#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

namespace emcomm::state {
namespace {

c10::IValue read_value(In& ar, const std::string& key) {
  c10::IValue v;
  if (!ar.try_read(key, v)) throw std::runtime_error("checkpoint has no entry '" + key + "'");
  return v;
}

In read_sub(In& ar, const std::string& key) {
  In sub;
  if (!ar.try_read(key, sub)) throw std::runtime_error("checkpoint has no entry '" + key + "'");
  return sub;
}

}  // namespace

void put(Out& ar, const std::string& key, int64_t value) { ar.write(key, c10::IValue(value)); }
void put(Out& ar, const std::string& key, double value) { ar.write(key, c10::IValue(value)); }

void put(Out& ar, const std::string& key, Rng& rng) {
  std::ostringstream s;
  s << rng.engine();
  ar.write(key, c10::IValue(s.str()));
}

void put(Out& ar, const std::string& key, at::Generator& gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  ar.write(key, gen.get_state());
}

void put(Out& ar, const std::string& key, const torch::nn::Module& module) {
  Out sub;
  module.save(sub);
  ar.write(key, sub);
}

void put(Out& ar, const std::string& key, const torch::optim::Optimizer& opt) {
  Out sub;
  opt.save(sub);
  ar.write(key, sub);
}

void put(Out& ar, const std::string& key, const Metrics& metrics) {
  Out sub;
  for (const auto& [name, value] : metrics) sub.write(name, c10::IValue(value));
  ar.write(key, sub);
}

void put(Out& ar, const std::string& key, const std::vector<torch::Tensor>& tensors) {
  Out sub;
  put(sub, "count", int64_t(tensors.size()));
  for (size_t i = 0; i < tensors.size(); ++i) sub.write(std::to_string(i), tensors[i]);
  ar.write(key, sub);
}

int64_t get_int(In& ar, const std::string& key) {
  c10::IValue v = read_value(ar, key);
  if (!v.isInt()) throw std::runtime_error("checkpoint entry '" + key + "' is not an integer");
  return v.toInt();
}

double get_double(In& ar, const std::string& key) {
  c10::IValue v = read_value(ar, key);
  if (!v.isDouble()) throw std::runtime_error("checkpoint entry '" + key + "' is not a number");
  return v.toDouble();
}

void get(In& ar, const std::string& key, Rng& rng) {
  c10::IValue v = read_value(ar, key);
  if (!v.isString()) throw std::runtime_error("checkpoint entry '" + key + "' is not a generator state");
  std::istringstream s(v.toStringRef());
  s >> rng.engine();
  if (!s) throw std::runtime_error("checkpoint entry '" + key + "' is not a generator state");
}

void get(In& ar, const std::string& key, at::Generator& gen) {
  torch::Tensor t;
  if (!ar.try_read(key, t)) throw std::runtime_error("checkpoint has no entry '" + key + "'");
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(t);
}

void get(In& ar, const std::string& key, torch::nn::Module& module) {
  In sub = read_sub(ar, key);
  module.load(sub);
}

void get(In& ar, const std::string& key, torch::optim::Optimizer& opt) {
  In sub = read_sub(ar, key);
  opt.load(sub);
}

Metrics get_metrics(In& ar, const std::string& key) {
  In sub = read_sub(ar, key);
  Metrics m;
  for (const auto& name : sub.keys()) {  // keys() may list bookkeeping attributes too
    c10::IValue v;
    if (sub.try_read(name, v) && v.isDouble()) m[name] = v.toDouble();
  }
  return m;
}

std::vector<torch::Tensor> get_tensors(In& ar, const std::string& key) {
  In sub = read_sub(ar, key);
  std::vector<torch::Tensor> out(static_cast<size_t>(get_int(sub, "count")));
  for (size_t i = 0; i < out.size(); ++i)
    if (!sub.try_read(std::to_string(i), out[i]))
      throw std::runtime_error("checkpoint entry '" + key + "' lacks tensor " + std::to_string(i));
  return out;
}

void SignalPairState::save(Out& ar) const {
  put(ar, "speaker", speaker);
  put(ar, "listener", listener);
  put(ar, "speaker_opt", speaker_opt);
  put(ar, "listener_opt", listener_opt);
  put(ar, "data_rng", data_rng);
  put(ar, "channel_gen", channel_gen);
  put(ar, "baseline", baseline);
  put(ar, "baseline_n", baseline_n);
}

void SignalPairState::load(In& ar) const {
  get(ar, "speaker", speaker);
  get(ar, "listener", listener);
  get(ar, "speaker_opt", speaker_opt);
  get(ar, "listener_opt", listener_opt);
  get(ar, "data_rng", data_rng);
  get(ar, "channel_gen", channel_gen);
  baseline = get_double(ar, "baseline");
  baseline_n = get_int(ar, "baseline_n");
}

std::string SignalPairState::nonfinite() const {
  const std::string bad = first_nonfinite(speaker, "speaker");
  return bad.empty() ? first_nonfinite(listener, "listener") : bad;
}

std::string first_nonfinite(const torch::nn::Module& module, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  for (const auto& p : module.named_parameters())
    if (!torch::isfinite(p.value()).all().item<bool>()) return prefix + "." + p.key();
  return "";
}

}  // namespace emcomm::state
