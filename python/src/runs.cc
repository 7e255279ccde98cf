// emcomm.open_run: a run file (docs/hdf5-format.md) read through the C++ RunReader, which checks
// the layout (a corrupt file raises ValueError with the reader's message).
#include <cstdio>
#include <memory>

#include "common.h"
#include "core/errors.h"
#include "core/run_file.h"
#include "experiments/commands.h"

namespace emcomm::py {

namespace {

pyb::dict series_dict(const ScalarSeries& s) {
  pyb::dict d;
  d["step"] = vec_array(s.step);
  d["value"] = vec_array(s.value);
  return d;
}

// An [N] field when width is 0, else [N, width].
pyb::array field(const std::vector<int32_t>& v, int64_t rows, int64_t width) {
  if (width <= 0) return vec_array(v, {rows});
  return vec_array(v, {rows, width});
}

pyb::dict cic_dict(const CicBlock& c, int64_t rows) {
  pyb::dict d;
  d["messages"] = c.messages;
  d["action_shape"] = c.action_shape;
  d["p_message"] = vec_array(c.p_message, {rows, c.messages});
  std::vector<int64_t> shape = {rows, c.messages};
  shape.insert(shape.end(), c.action_shape.begin(), c.action_shape.end());
  d["p_action"] = vec_array(c.p_action, shape);
  if (!c.message_set.empty())
    d["message_set"] = vec_array(c.message_set, {c.messages, int64_t(c.message_set.size()) / c.messages});
  else
    d["message_set"] = pyb::none();
  return d;
}

pyb::dict batch_dict(const InteractionBatch& b) {
  pyb::dict d;
  const int64_t n = b.rows;
  d["rows"] = n;
  d["step"] = vec_array(b.step);
  d["episode"] = vec_array(b.episode);
  d["t"] = vec_array(b.t);
  d["sender"] = vec_array(b.sender);
  d["receiver"] = vec_array(b.receiver);
  d["message"] = vec_array(b.message, {n, int64_t(b.msg_len)});
  d["length"] = vec_array(b.length);
  if (b.concept_width > 0) d["concept"] = vec_array(b.concept, {n, int64_t(b.concept_width)});
  if (!b.sender_action.empty()) d["sender_action"] = field(b.sender_action, n, b.sender_action_width);
  if (!b.receiver_action.empty()) d["receiver_action"] = field(b.receiver_action, n, b.receiver_action_width);
  if (!b.target.empty()) d["target"] = field(b.target, n, b.target_width);
  d["reward"] = vec_array(b.reward);
  return d;
}

struct PyRun {
  std::string path;
  std::unique_ptr<RunReader> reader;

  const RunReader& r() const {
    if (!reader) throw UserError("run file '" + path + "' is closed");
    return *reader;
  }

  // The rows [first, first + count) of the split's block at `step` ("latest", an int, or
  // none = every row).
  std::pair<int64_t, int64_t> rows_of(const std::string& split, const pyb::object& step) const {
    if (step.is_none()) return {0, r().interaction_rows(split)};
    const std::vector<StepRows> blocks = r().step_rows(split);
    if (pyb::isinstance<pyb::str>(step)) {
      if (step.cast<std::string>() != "latest")
        throw UserError("step must be 'latest', a step number or None (every row), got '" + step.cast<std::string>() + "'");
      if (blocks.empty()) return {0, 0};
      return {blocks.back().first, blocks.back().count};
    }
    const int64_t want = step.cast<int64_t>();
    std::string have;
    for (const auto& b : blocks) {
      if (b.step == want) return {b.first, b.count};
      have += (have.empty() ? "" : ", ") + std::to_string(b.step);
    }
    throw UserError("run file '" + path + "' has no rows at step " + std::to_string(want) + " in split '" + split +
                    "'; its steps there are: " + (have.empty() ? "(none)" : have));
  }
};

}  // namespace

void bind_runs(pyb::module_& m) {
  pyb::class_<PyRun, std::shared_ptr<PyRun>>(m, "Run")
      .def_property_readonly("path", [](const PyRun& p) { return p.path; })
      .def_property_readonly("schema_version", [](const PyRun& p) { return p.r().schema_version(); })
      .def("attribute", [](const PyRun& p, const std::string& n) { return p.r().attribute(n); }, pyb::arg("name"),
           "A root string attribute (format, emcomm_version, created_utc).")
      .def_property_readonly("config", [](const PyRun& p) { return p.r().config(); },
                             "The resolved options, 'section.key' -> value text.")
      .def_property_readonly("config_ini", [](const PyRun& p) { return p.r().config_ini(); })
      .def("scalar_names", [](const PyRun& p) { return p.r().scalar_names(); })
      .def("scalar", [](const PyRun& p, const std::string& n) { return series_dict(p.r().scalar(n)); }, pyb::arg("name"),
           "One training curve: {'step': int64 [T], 'value': float64 [T]}.")
      .def("matrix_names", [](const PyRun& p) { return p.r().matrix_names(); })
      .def("matrix", [](const PyRun& p, const std::string& n) {
        const MatrixSeries s = p.r().matrix(n);
        pyb::dict d;
        d["step"] = vec_array(s.step);
        d["value"] = vec_array(s.value, {int64_t(s.step.size()), s.rows, s.cols});
        return d;
      }, pyb::arg("name"), "A matrix series: {'step': [T], 'value': float32 [T, rows, cols]}.")
      .def("splits", [](const PyRun& p) { return p.r().splits(); })
      .def("interaction_rows", [](const PyRun& p, const std::string& s) { return p.r().interaction_rows(s); },
           pyb::arg("split"))
      .def("step_rows", [](const PyRun& p, const std::string& s) {
        pyb::list out;
        for (const auto& b : p.r().step_rows(s)) out.append(pyb::make_tuple(b.step, b.first, b.count));
        return out;
      }, pyb::arg("split"), "The split's rows grouped by step: [(step, first, count), ...].")
      .def("interactions", [](const PyRun& p, const std::string& split, const pyb::object& step, int64_t first,
                              int64_t count) {
        int64_t f = first, c = count;
        if (!step.is_none()) std::tie(f, c) = p.rows_of(split, step);
        return batch_dict(p.r().interactions(split, f, c));
      }, pyb::arg("split"), pyb::arg("step") = pyb::none(), pyb::arg("first") = 0, pyb::arg("count") = -1,
         "Interaction rows of a split as numpy arrays: every row, the rows of one step (step=N or 'latest'), "
         "or rows [first, first+count).")
      .def("cic", [](const PyRun& p, const std::string& split, const pyb::object& step, int64_t first,
                     int64_t count) -> pyb::object {
        int64_t f = first, c = count;
        if (!step.is_none()) std::tie(f, c) = p.rows_of(split, step);
        const auto block = p.r().cic(split, f, c);
        if (!block) return pyb::none();
        const int64_t rows = block->messages ? int64_t(block->p_message.size()) / block->messages : 0;
        return cic_dict(*block, rows);
      }, pyb::arg("split"), pyb::arg("step") = pyb::none(), pyb::arg("first") = 0, pyb::arg("count") = -1,
         "The CIC tables of the same rows, or None when the split has none (NaN p_message: no probe).")
      .def("metric_splits", [](const PyRun& p) { return p.r().metric_splits(); })
      .def("metric_names", [](const PyRun& p, const std::string& s) { return p.r().metric_names(s); }, pyb::arg("split"))
      .def("metric", [](const PyRun& p, const std::string& split, const std::string& n) {
        return series_dict(p.r().metric(split, n));
      }, pyb::arg("split"), pyb::arg("name"))
      .def("validate", [](const PyRun& p) { return p.r().validate(); },
           "The schema check: one line per problem (empty: the file conforms).")
      .def("close", [](PyRun& p) { p.reader.reset(); })
      .def("__enter__", [](std::shared_ptr<PyRun> p) { return p; })
      .def("__exit__", [](PyRun& p, const pyb::args&) { p.reader.reset(); });

  m.def("_export_elcc", [](const pyb::object& run, const pyb::object& out_dir, const std::string& split,
                           const std::string& step, bool overwrite) {
    auto fspath = pyb::module_::import("os").attr("fspath");
    ElccRequest r;
    r.run = pyb::str(fspath(run));
    r.out_dir = pyb::str(fspath(out_dir));
    r.split = split;
    r.step = step;
    r.overwrite = overwrite;
    const ElccResult res = export_elcc(r);
    return pyb::make_tuple(res.lines, res.corpus, res.metadata);
  }, pyb::arg("run"), pyb::arg("out_dir"), pyb::arg("split"), pyb::arg("step"), pyb::arg("overwrite"),
     "emcomm export --format elcc (experiments/export_command.cc): (lines, corpus path, metadata path).");
  m.def("_export_command", [](const std::vector<std::string>& args) {
    const int code = export_command(args);
    std::fflush(stdout);
    return code;
  }, pyb::arg("args"), "Runs `emcomm export ARGS...` in this process; returns its exit code.");

  m.def("_open_run", [](const pyb::object& path) {
    auto p = std::make_shared<PyRun>();
    p->path = pyb::str(pyb::module_::import("os").attr("fspath")(path));
    p->reader = std::make_unique<RunReader>(p->path);
    return p;
  }, pyb::arg("path"));
}

}  // namespace emcomm::py
