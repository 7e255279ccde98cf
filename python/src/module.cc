// The emcomm Python extension (emcomm._emcomm); the package python/emcomm wraps it.
#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <stdexcept>

#include "common.h"
#include "core/errors.h"
#include "experiments/commands.h"

namespace emcomm::py {

namespace {

// Keeps a tensor alive for the numpy array that views it.
pyb::capsule owner(const torch::Tensor& t) {
  auto* held = new torch::Tensor(t);
  return pyb::capsule(held, [](void* p) { delete static_cast<torch::Tensor*>(p); });
}

template <class T>
pyb::array view(const torch::Tensor& t) {
  std::vector<pyb::ssize_t> shape(t.sizes().begin(), t.sizes().end()), strides;
  for (auto s : t.strides()) strides.push_back(pyb::ssize_t(s * sizeof(T)));
  return pyb::array_t<T>(shape, strides, t.data_ptr<T>(), owner(t));
}

}  // namespace

pyb::array to_numpy(const torch::Tensor& tensor) {
  if (!tensor.defined()) throw std::logic_error("to_numpy: undefined tensor");
  const torch::Tensor t = tensor.contiguous();
  switch (t.scalar_type()) {
    case torch::kFloat32: return view<float>(t);
    case torch::kFloat64: return view<double>(t);
    case torch::kInt64: return view<int64_t>(t);
    case torch::kInt32: return view<int32_t>(t);
    case torch::kUInt8: return view<uint8_t>(t);
    case torch::kBool: {
      std::vector<pyb::ssize_t> shape(t.sizes().begin(), t.sizes().end());
      pyb::array a(pyb::dtype("bool"), shape, {}, t.data_ptr<bool>(), owner(t));
      return a;
    }
    default: throw std::logic_error(std::string("to_numpy: unsupported dtype ") + c10::toString(t.scalar_type()));
  }
}

namespace {

// The array as `T` (cast from any numeric dtype when `cast`), C-contiguous.
template <class T>
pyb::array_t<T, pyb::array::c_style | pyb::array::forcecast> as_array(const pyb::handle& obj, const std::string& what) {
  auto np = pyb::module_::import("numpy");
  pyb::object arr = np.attr("asarray")(obj);
  const std::string kind = pyb::str(arr.attr("dtype").attr("kind"));
  if (kind != "b" && kind != "i" && kind != "u" && kind != "f")
    throw UserError(what + " must be a numeric array, got dtype " + std::string(pyb::str(arr.attr("dtype"))));
  return pyb::array_t<T, pyb::array::c_style | pyb::array::forcecast>::ensure(arr);
}

}  // namespace

torch::Tensor to_tensor(const pyb::handle& obj, torch::ScalarType dtype, const std::string& what) {
  if (dtype == torch::kInt64) {
    auto np = pyb::module_::import("numpy");
    pyb::object arr = np.attr("asarray")(obj);
    const std::string kind = pyb::str(arr.attr("dtype").attr("kind"));
    if (kind != "b" && kind != "i" && kind != "u")
      throw UserError(what + " must hold integers, got dtype " + std::string(pyb::str(arr.attr("dtype"))));
    auto a = as_array<int64_t>(arr, what);
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    return torch::from_blob(const_cast<int64_t*>(a.data()), shape, torch::kInt64).clone();
  }
  if (dtype == torch::kFloat32) {
    auto a = as_array<float>(obj, what);
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    return torch::from_blob(const_cast<float*>(a.data()), shape, torch::kFloat32).clone();
  }
  throw std::logic_error("to_tensor: unsupported dtype");
}

IntArray int_array(const pyb::handle& obj, const std::string& what) {
  auto np = pyb::module_::import("numpy");
  pyb::object arr = np.attr("asarray")(obj);
  const std::string kind = pyb::str(arr.attr("dtype").attr("kind"));
  if (kind != "b" && kind != "i" && kind != "u")
    throw UserError(what + " must hold integers, got dtype " + std::string(pyb::str(arr.attr("dtype"))));
  auto a = as_array<int64_t>(arr, what);
  IntArray out;
  out.shape.assign(a.shape(), a.shape() + a.ndim());
  out.data.reserve(size_t(a.size()));
  for (pyb::ssize_t i = 0; i < a.size(); ++i) {
    const int64_t v = a.data()[i];
    if (v < INT32_MIN || v > INT32_MAX) throw UserError(what + " holds " + std::to_string(v) + ", outside int32");
    out.data.push_back(int32_t(v));
  }
  return out;
}

std::vector<int64_t> int64_vector(const pyb::handle& obj, const std::string& what) {
  auto np = pyb::module_::import("numpy");
  pyb::object arr = np.attr("asarray")(obj);
  const std::string kind = pyb::str(arr.attr("dtype").attr("kind"));
  if (kind != "b" && kind != "i" && kind != "u")
    throw UserError(what + " must hold integers, got dtype " + std::string(pyb::str(arr.attr("dtype"))));
  auto a = as_array<int64_t>(arr, what);
  if (a.ndim() != 1) throw UserError(what + " must be 1-D, got " + std::to_string(a.ndim()) + " dimensions");
  return std::vector<int64_t>(a.data(), a.data() + a.size());
}

namespace {

std::string value_text(const std::string& name, const pyb::handle& v) {
  if (pyb::isinstance<pyb::bool_>(v)) return v.cast<bool>() ? "true" : "false";
  if (pyb::isinstance<pyb::int_>(v)) return std::to_string(v.cast<long long>());
  if (pyb::isinstance<pyb::float_>(v)) return pyb::str(pyb::repr(v));
  if (pyb::isinstance<pyb::str>(v)) return v.cast<std::string>();
  if (pyb::hasattr(v, "__fspath__")) return pyb::str(v.attr("__fspath__")());
  // numpy scalars
  if (pyb::hasattr(v, "item") && pyb::hasattr(v, "dtype") && pyb::len(v.attr("shape")) == 0)
    return value_text(name, v.attr("item")());
  if (pyb::isinstance<pyb::list>(v) || pyb::isinstance<pyb::tuple>(v)) {
    std::string s;
    for (auto item : v) s += (s.empty() ? "" : ",") + value_text(name, item);
    return s;
  }
  throw pyb::type_error("option " + name + ": a bool, int, float, str or a list of them is needed, got " +
                        std::string(pyb::str(v.get_type().attr("__name__"))));
}

}  // namespace

std::string override_arg(const std::string& key, const pyb::handle& value, const std::string& default_section) {
  std::string name = key;
  if (auto p = name.find("__"); p != std::string::npos) name.replace(p, 2, ".");
  if (name.find('.') == std::string::npos) name = default_section + "." + name;
  return "--" + name + "=" + value_text(name, value);
}

void register_exceptions(pyb::module_& m) {
  pyb::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UserError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::invalid_argument& e) {  // the metrics refuse inconsistent inputs
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const c10::Error& e) {
      const std::string text = report_exception(e, debug_requested()).text;
      PyErr_SetString(PyExc_RuntimeError, text.substr(0, text.find_last_not_of('\n') + 1).c_str());
    } catch (const std::logic_error& e) {
      const std::string text = report_exception(e, debug_requested()).text;
      PyErr_SetString(PyExc_RuntimeError, text.substr(0, text.find_last_not_of('\n') + 1).c_str());
    }
  });
}

}  // namespace emcomm::py

PYBIND11_MODULE(_emcomm, m) {
  m.doc() = "emcomm's C++ core: envs, run files, metrics, training (docs/python.md)";
  emcomm::py::register_exceptions(m);
  emcomm::py::bind_envs(m);
  emcomm::py::bind_runs(m);
  emcomm::py::bind_metrics(m);
  emcomm::py::bind_train(m);
}
