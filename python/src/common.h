// Shared by the binding sources (docs/python.md): numpy <-> tensor/vector conversion, option
// text from Python values, and the Python exceptions C++ errors become.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace emcomm {
class Config;
class MarkovGame;
class Rng;
}  // namespace emcomm

namespace emcomm::py {

namespace pyb = pybind11;

// A numpy array viewing the tensor's memory (made contiguous first); the array keeps the
// tensor alive. Supported dtypes: float32/64, int32/64, bool, uint8.
pyb::array to_numpy(const torch::Tensor& t);

// A tensor of `dtype` holding a copy of the array's values (any numeric numpy array or
// nested list is accepted and cast); `what` names the argument in the error message.
torch::Tensor to_tensor(const pyb::handle& obj, torch::ScalarType dtype, const std::string& what);

// 1-D / 2-D numpy arrays from vectors (copies; the run file's data are owned vectors).
template <class T>
pyb::array_t<T> vec_array(const std::vector<T>& v, std::vector<int64_t> shape = {}) {
  if (shape.empty()) shape = {int64_t(v.size())};
  std::vector<pyb::ssize_t> s(shape.begin(), shape.end());
  pyb::array_t<T> a(s);
  if (!v.empty()) std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// The values of an integer array argument as int32 / int64 (checked: integers only), with its
// shape. `what` names the argument in the error message.
struct IntArray {
  std::vector<int32_t> data;
  std::vector<int64_t> shape;
};
IntArray int_array(const pyb::handle& obj, const std::string& what);
std::vector<int64_t> int64_vector(const pyb::handle& obj, const std::string& what);

// "--section.key=value" from a Python keyword (key "section.key", "section__key", or a bare
// key prefixed with `default_section`) and value (bool -> true/false, int, float, str, or a
// list/tuple of them joined by commas). TypeError naming the option for anything else.
std::string override_arg(const std::string& key, const pyb::handle& value, const std::string& default_section);

// Registers the exception translation: emcomm::UserError -> ValueError with its message (the
// CLI's "emcomm: error: ..." text without the prefix); a LibTorch error -> RuntimeError with
// its message without the backtrace; a failed internal check -> RuntimeError "internal error".
void register_exceptions(pyb::module_& m);

// A MarkovEnv (emcomm.MarkovEnv) over an already built game of the run configured by `cfg` (the
// adapter a reinforce run plays a signaling game through); `rng` draws the seeds of calls made
// without one.
pyb::object markov_env(const Config& cfg, std::shared_ptr<MarkovGame> game, const Rng& rng);

void bind_envs(pyb::module_& m);
void bind_runs(pyb::module_& m);
void bind_metrics(pyb::module_& m);
void bind_train(pyb::module_& m);

}  // namespace emcomm::py
