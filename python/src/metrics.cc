// emcomm.metrics: the C++ functions `emcomm analyze` calls (metrics/metrics.h), on numpy arrays.
#include <cmath>

#include "common.h"
#include "core/errors.h"
#include "metrics/metrics.h"

namespace emcomm::py {

namespace {

using metrics::IntTable;

// A [N] or [N, D] integer array as a table (a [N] array is one column).
struct Table {
  IntArray a;
  IntTable view() const {
    const int64_t rows = a.shape.empty() ? 0 : a.shape[0];
    const int64_t cols = a.shape.size() >= 2 ? a.shape[1] : 1;
    return IntTable{a.data.data(), rows, cols};
  }
};

Table table(const pyb::handle& obj, const std::string& what, bool matrix_only = false) {
  Table t{int_array(obj, what)};
  if (t.a.shape.size() > 2 || t.a.shape.empty() || (matrix_only && t.a.shape.size() != 2))
    throw UserError(what + " must be " + (matrix_only ? "a 2-D array [N, L]" : "a 1-D [N] or 2-D [N, D] array") +
                    ", got " + std::to_string(t.a.shape.size()) + " dimensions");
  return t;
}

// message [N, L] and length [N]; length None: the entries >= 0 of each row (the run file's
// messages hold -1 only after their end).
struct Messages {
  Table m;
  std::vector<int32_t> length;
};

Messages messages(const pyb::handle& message, const pyb::handle& length) {
  Messages out{table(message, "message", true), {}};
  const IntTable v = out.m.view();
  if (length.is_none()) {
    for (int64_t i = 0; i < v.rows; ++i) {
      int32_t n = 0;
      for (int64_t j = 0; j < v.cols; ++j) n += v.at(i, j) >= 0;
      out.length.push_back(n);
    }
  } else {
    IntArray l = int_array(length, "length");
    if (l.shape.size() != 1) throw UserError("length must be a 1-D array [N]");
    out.length = l.data;
  }
  if (int64_t(out.length.size()) != v.rows)
    throw UserError("length has " + std::to_string(out.length.size()) + " entries for " + std::to_string(v.rows) +
                    " messages");
  return out;
}

std::vector<int64_t> message_ids(const pyb::handle& message, const pyb::handle& length) {
  const Messages m = messages(message, length);
  return metrics::messages_as_symbols(m.m.view(), m.length);
}

std::vector<int64_t> row_ids(const pyb::handle& x, const std::string& what) {
  const Table t = table(x, what);
  return metrics::rows_as_symbols(t.view());
}

// 1-D symbol ids as given, or a 2-D array's rows as symbols.
std::vector<int64_t> ids(const pyb::handle& x, const std::string& what) {
  IntArray a = int_array(x, what);
  if (a.shape.size() == 1) return std::vector<int64_t>(a.data.begin(), a.data.end());
  return row_ids(x, what);
}

std::vector<float> floats(const pyb::handle& obj, const std::string& what, std::vector<int64_t>& shape) {
  auto a = pyb::array_t<float, pyb::array::c_style | pyb::array::forcecast>::ensure(obj);
  if (!a) throw UserError(what + " must be a float array");
  shape.assign(a.shape(), a.shape() + a.ndim());
  return std::vector<float>(a.data(), a.data() + a.size());
}

}  // namespace

void bind_metrics(pyb::module_& m) {
  auto mm = m.def_submodule("metrics", "The metrics `emcomm analyze` computes (docs/metrics.md)");
  mm.def("messages_as_symbols", &message_ids, pyb::arg("message"), pyb::arg("length") = pyb::none(),
         "One id per message [N, L] (the first length[i] symbols), lexicographic order of the distinct messages.");
  mm.def("rows_as_symbols", [](const pyb::object& x) { return row_ids(x, "table"); }, pyb::arg("table"),
         "One id per row of a [N] or [N, D] integer field (an action, target or concept).");
  mm.def("entropy", [](const pyb::object& message, const pyb::object& length) {
    IntArray a = int_array(message, "message");
    if (a.shape.size() == 1 && length.is_none()) return metrics::entropy(std::vector<int64_t>(a.data.begin(), a.data.end()));
    return metrics::entropy(message_ids(message, length));
  }, pyb::arg("message"), pyb::arg("length") = pyb::none(),
     "Entropy in bits of messages [N, L] (with length [N]), or of symbol ids [N].");
  mm.def("mutual_information", [](const pyb::object& x, const pyb::object& y) {
    return metrics::mutual_information(ids(x, "x"), ids(y, "y"));
  }, pyb::arg("x"), pyb::arg("y"), "I(X;Y) in bits; x, y: ids [N] or rows [N, D] (each row one symbol).");
  mm.def("speaker_consistency", [](const pyb::object& message, const pyb::object& length, const pyb::object& action) {
    return metrics::mutual_information(message_ids(message, length), row_ids(action, "sender_action"));
  }, pyb::arg("message"), pyb::arg("length"), pyb::arg("sender_action"), "SC = I(message; sender's action).");
  mm.def("instantaneous_coordination", [](const pyb::object& message, const pyb::object& length, const pyb::object& action) {
    return metrics::mutual_information(message_ids(message, length), row_ids(action, "receiver_action"));
  }, pyb::arg("message"), pyb::arg("length"), pyb::arg("receiver_action"), "IC = I(message; receiver's action).");
  mm.def("context_independence", [](const pyb::object& meaning, const pyb::object& message, const pyb::object& length) {
    return metrics::context_independence(row_ids(meaning, "meaning"), message_ids(message, length));
  }, pyb::arg("meaning"), pyb::arg("message"), pyb::arg("length") = pyb::none(),
     "CI (Bogin et al. 2018) of messages w.r.t. meanings [N] or [N, D] (a concept or an action).");
  mm.def("cic", [](const pyb::object& p_message, const pyb::object& p_action) {
    std::vector<int64_t> sm, sa;
    const std::vector<float> pm = floats(p_message, "p_message", sm), pa = floats(p_action, "p_action", sa);
    if (sm.size() != 2) throw UserError("p_message must be [n, m]");
    const int64_t n = sm[0], M = sm[1];
    if ((sa.size() != 3 && sa.size() != 4) || sa[0] != n || sa[1] != M)
      throw UserError("p_action must be [n, m, k] or [n, m, a, v] with n = " + std::to_string(n) + ", m = " +
                      std::to_string(M));
    if (sa.size() == 4) return metrics::cic_factorised(pm.data(), pa.data(), n, M, sa[2], sa[3]);
    return metrics::cic(pm.data(), pa.data(), n, M, sa[2]);
  }, pyb::arg("p_message"), pyb::arg("p_action"),
     "Mean one-step CIC in bits from probe tables p_message [n, m] and p_action [n, m, k] (or [n, m, a, v]: "
     "factorised, the mean over the a factors). Rows must all be probed (drop NaN rows first).");
  mm.def("topsim", [](const pyb::object& concept, const pyb::object& message, const pyb::object& length,
                      int64_t max_rows, uint64_t seed) {
    const Table c = table(concept, "concept");
    const Messages msg = messages(message, length);
    return metrics::topographic_similarity(c.view(), msg.m.view(), msg.length, max_rows, seed);
  }, pyb::arg("concept"), pyb::arg("message"), pyb::arg("length") = pyb::none(), pyb::arg("max_rows") = 1000,
     pyb::arg("seed") = 1, "Topographic similarity (Spearman; Hamming on concepts, normalised Levenshtein on "
     "messages); `emcomm analyze` uses max_rows=1000, seed=1.");
  mm.def("posdis", [](const pyb::object& message, const pyb::object& concept) {
    const Table msg = table(message, "message", true), c = table(concept, "concept");
    return metrics::posdis(msg.view(), c.view());
  }, pyb::arg("message"), pyb::arg("concept"), "Positional disentanglement (Chaabouni et al. 2020).");
  mm.def("bosdis", [](const pyb::object& message, const pyb::object& concept) {
    const Table msg = table(message, "message", true), c = table(concept, "concept");
    return metrics::bosdis(msg.view(), c.view());
  }, pyb::arg("message"), pyb::arg("concept"), "Bag-of-symbols disentanglement (Chaabouni et al. 2020).");
  mm.def("mean_length", [](const pyb::object& length) { return metrics::mean_length(int_array(length, "length").data); },
         pyb::arg("length"));
  mm.def("symbols_used", [](const pyb::object& message) { return metrics::symbols_used(int_array(message, "message").data); },
         pyb::arg("message"));
  mm.def("accuracy", [](const pyb::object& reward) {
    std::vector<int64_t> s;
    return metrics::accuracy(floats(reward, "reward", s));
  }, pyb::arg("reward"), "Fraction of rows with reward > 0.");
  mm.def("target_accuracy", [](const pyb::object& receiver_action, const pyb::object& target) {
    const Table a = table(receiver_action, "receiver_action"), t = table(target, "target");
    if (a.a.shape != t.a.shape) throw UserError("receiver_action and target must have the same shape");
    const double v = metrics::target_accuracy(a.a.data, t.a.data, int(a.view().cols));
    return v < 0 ? pyb::object(pyb::none()) : pyb::object(pyb::float_(v));
  }, pyb::arg("receiver_action"), pyb::arg("target"),
     "Fraction of rows (with a target, no -1) whose receiver action equals the target in every column; None without one.");
}

}  // namespace emcomm::py
