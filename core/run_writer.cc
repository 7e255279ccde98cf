// RunWriter: creates a run file, or reopens one to continue its run, and appends to it.
//
// Every row dataset is chunked, shuffled + gzip-compressed, has an unlimited first
// dimension, is created on its first append and extended by each append. The writer keeps
// its DataSet handles open, so an append is one extend plus one hyperslab write per column,
// and it never holds more than the current batch in memory. The interaction columns are the
// rows of interaction_fields() (core/run_schema.h).
#include <H5Cpp.h>
#include <hdf5.h>

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>

#include <unistd.h>

#include "core/errors.h"
#include "core/run_file.h"
#include "core/run_h5.h"
#include "core/run_schema.h"

namespace emcomm {
namespace {

// A split's cic/ group, created by the first batch that carries a probe.
struct CicLog {
  int64_t messages = 0;
  std::vector<int64_t> action_shape;
  std::vector<int32_t> message_set;  // as written to cic/messages (empty: none)
  Column p_message, p_action;
};

struct SplitLog {
  SplitLayout layout;
  std::map<std::string, Column> columns;
  std::optional<CicLog> cic;
};

// The cic/ group's datasets for probes like `c`, already `prior_rows` long (unwritten: NaN),
// and cic/messages when the probe has one message set for all rows.
CicLog create_cic(const H5::Group& g, const CicBlock& c, int msg_len, hsize_t prior_rows) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto& F32 = H5::PredType::IEEE_F32LE;
  CicLog log;
  log.messages = c.messages;
  log.action_shape = c.action_shape;
  log.message_set = c.message_set;
  const hsize_t m = static_cast<hsize_t>(c.messages);
  std::vector<hsize_t> action_tail{m};
  for (int64_t d : c.action_shape) action_tail.push_back(static_cast<hsize_t>(d));
  log.p_message = create_column(g, "p_message", F32, {m}, chunk_rows_for(4, {m}), nan);
  log.p_action = create_column(g, "p_action", F32, action_tail, chunk_rows_for(4, action_tail), nan);
  append_rows(log.p_message, nullptr, H5::PredType::NATIVE_FLOAT, prior_rows);
  append_rows(log.p_action, nullptr, H5::PredType::NATIVE_FLOAT, prior_rows);
  if (!c.message_set.empty()) {
    const std::vector<hsize_t> tail{static_cast<hsize_t>(msg_len)};
    Column messages = create_column(g, "messages", H5::PredType::STD_I32LE, tail, chunk_rows_for(4, tail));
    append_rows(messages, c.message_set.data(), H5::PredType::NATIVE_INT32, m);
  }
  return log;
}

}  // namespace

struct RunWriter::Impl {
  std::string path;
  std::unique_ptr<H5::H5File> file;
  std::map<std::string, Series> series;  // key: "scalars/<link>" or "metrics/<split>/<link>"
  std::map<std::string, SplitLog> splits;

  [[noreturn]] void rethrow(const std::string& doing, const H5::Exception& e) const {
    throw std::runtime_error("HDF5 run file '" + path + "': " + doing + " failed: " + h5_detail(e));
  }

  // `key` is the series' group path below the root, e.g. "scalars/sp_acc:train".
  void append_series(const std::string& key, int64_t step, double value) {
    auto it = series.find(key);
    if (it == series.end()) it = series.emplace(key, create_series(file->createGroup("/" + key))).first;
    append_point(it->second, step, value);
  }

  void close() {
    series.clear();
    splits.clear();
    if (file) file->close();
    file.reset();
  }
};

RunWriter::RunWriter(const std::string& path, const std::map<std::string, std::string>& config,
                     const std::string& ini, const std::string& emcomm_version)
    : impl_(std::make_unique<Impl>()) {
  H5::Exception::dontPrint();
  impl_->path = path;
  for (const auto& [key, value] : config)
    EMCOMM_CHECK(!key.empty() && key != ".", "config option name '" + key + "' is not usable");
  try {
    impl_->file = std::make_unique<H5::H5File>(path, H5F_ACC_TRUNC);
    H5::H5File& file = *impl_->file;
    const H5::Group root = file.openGroup("/");
    const H5::StrType str = utf8_string_type();
    const H5::DataSpace scalar(H5S_SCALAR);
    auto put_string = [&](const H5::H5Object& obj, const std::string& name,
                          const std::string& value) {
      obj.createAttribute(name, str, scalar).write(str, value);
    };
    put_string(root, "format", kRunFormat);
    const int64_t version = kRunSchemaVersion;
    root.createAttribute("schema_version", H5::PredType::STD_I64LE, scalar)
        .write(H5::PredType::NATIVE_INT64, &version);
    put_string(root, "emcomm_version", emcomm_version);
    put_string(root, "created_utc", utc_now_iso8601());

    const H5::Group cfg = file.createGroup("/config");
    for (const auto& [key, value] : config) put_string(cfg, key, value);
    cfg.createDataSet("ini", str, scalar).write(ini, str);

    for (const char* group : {"/scalars", "/interactions", "/metrics", "/matrices"}) file.createGroup(group);
  } catch (const H5::Exception& e) {
    impl_->rethrow("creating the file", e);
  }
  flush();  // readable from the start, even if the process dies before the first evaluation
}

RunWriter::~RunWriter() {
  if (!impl_) return;
  try {
    impl_->close();
  } catch (...) {
    // A destructor must not throw; the last flush() is what is guaranteed on disk.
  }
}

const std::string& RunWriter::path() const { return impl_->path; }

void RunWriter::append_scalar(const std::string& name, int64_t step, double value) {
  EMCOMM_CHECK(name.find(':') == std::string::npos,
               "scalar name '" + name + "' contains ':', which is reserved for '/' in link names");
  const std::string link = scalar_link_name(name);
  check_link_name("scalar name", link);
  try {
    impl_->append_series("scalars/" + link, step, value);
  } catch (const H5::Exception& e) {
    impl_->rethrow("appending scalar '" + name + "'", e);
  }
}

void RunWriter::append_metric(const std::string& split, const std::string& name, int64_t step,
                              double value) {
  check_link_name("metrics split", split);
  EMCOMM_CHECK(name.find(':') == std::string::npos,
               "metric name '" + name + "' contains ':', which is reserved for '/' in link names");
  const std::string link = scalar_link_name(name);
  check_link_name("metric name", link);
  try {
    const std::string group = "/metrics/" + split;
    if (!impl_->file->nameExists(group)) impl_->file->createGroup(group);
    impl_->append_series("metrics/" + split + "/" + link, step, value);
  } catch (const H5::Exception& e) {
    impl_->rethrow("appending metric '" + split + "/" + name + "'", e);
  }
}

void RunWriter::append_matrix(const std::string& name, int64_t step, int64_t rows, int64_t cols,
                              const std::vector<float>& values) {
  EMCOMM_CHECK(name.find(':') == std::string::npos,
               "matrix name '" + name + "' contains ':', which is reserved for '/' in link names");
  EMCOMM_CHECK(rows > 0 && cols > 0 && values.size() == size_t(rows * cols),
               "matrix '" + name + "': " + std::to_string(values.size()) + " values for a [" + std::to_string(rows) +
                   ", " + std::to_string(cols) + "] matrix");
  const std::string link = scalar_link_name(name);
  check_link_name("matrix name", link);
  try {
    const std::string key = "matrices/" + link;
    auto it = impl_->series.find(key);
    if (it == impl_->series.end())
      it = impl_->series.emplace(key, create_matrix_series(impl_->file->createGroup("/" + key), hsize_t(rows),
                                                           hsize_t(cols))).first;
    Series& s = it->second;
    EMCOMM_CHECK(s.value.tail == (std::vector<hsize_t>{hsize_t(rows), hsize_t(cols)}),
                 "matrix '" + name + "' was started with another shape than [" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "]");
    append_rows(s.step, &step, H5::PredType::NATIVE_INT64, 1);
    append_rows(s.value, values.data(), H5::PredType::NATIVE_FLOAT, 1);
  } catch (const H5::Exception& e) {
    impl_->rethrow("appending matrix '" + name + "'", e);
  }
}

void RunWriter::append_interactions(const std::string& split, const InteractionBatch& batch) {
  check_link_name("interactions split", split);
  check_batch(split, batch);
  if (batch.rows == 0) return;
  const SplitLayout layout = layout_of(batch);
  try {
    auto it = impl_->splits.find(split);
    if (it == impl_->splits.end()) {
      impl_->file->createGroup("/interactions/" + split);
      SplitLog log;
      log.layout = layout;
      it = impl_->splits.emplace(split, std::move(log)).first;
    }
    SplitLog& log = it->second;
    std::optional<H5::Group> group;  // opened only when a column is created
    EMCOMM_CHECK(log.layout == layout, "interactions '" + split + "' was started with " +
                                           describe(log.layout) + "; this batch has " +
                                           describe(layout));
    if (batch.cic && log.cic) {
      const CicBlock& c = *batch.cic;
      EMCOMM_CHECK(c.messages == log.cic->messages && c.action_shape == log.cic->action_shape,
                   "interactions '" + split + "': cic tables were started with M=" +
                       std::to_string(log.cic->messages) + ", action shape " +
                       describe_shape(log.cic->action_shape) + "; this batch has M=" +
                       std::to_string(c.messages) + ", " + describe_shape(c.action_shape));
      EMCOMM_CHECK(c.message_set == log.cic->message_set,
                   "interactions '" + split + "': cic message set differs from the one written");
    }
    const hsize_t prior_rows = log.columns.empty() ? 0 : log.columns.at("step").rows;
    const hsize_t rows = static_cast<hsize_t>(batch.rows);
    const auto& fields = interaction_fields();
    for (size_t i = 0; i < fields.size(); ++i) {
      const InteractionField& f = fields[i];
      const int width = layout.widths[i];
      if (width < 0) continue;  // absent in this split
      auto col = log.columns.find(f.name);
      if (col == log.columns.end()) {
        if (!group) group.emplace(impl_->file->openGroup("/interactions/" + split));
        const auto tail = width_tail(width);
        const Column created =
            create_column(*group, f.name, file_type(f.dtype()), tail, chunk_rows_for(dtype_bytes(f.dtype()), tail));
        col = log.columns.emplace(f.name, created).first;
      }
      append_rows(col->second, field_data(batch, f), memory_type(f.dtype()), rows);
    }
    if (batch.cic && !log.cic)
      log.cic = create_cic(impl_->file->createGroup("/interactions/" + split + "/cic"), *batch.cic,
                           batch.msg_len, prior_rows);
    if (log.cic) {  // rows without a probe stay unwritten: NaN
      const auto& F = H5::PredType::NATIVE_FLOAT;
      append_rows(log.cic->p_message, batch.cic ? batch.cic->p_message.data() : nullptr, F, rows);
      append_rows(log.cic->p_action, batch.cic ? batch.cic->p_action.data() : nullptr, F, rows);
    }
  } catch (const H5::Exception& e) {
    impl_->rethrow("appending interactions to split '" + split + "'", e);
  }
}

void RunWriter::flush() {
  try {
    impl_->file->flush(H5F_SCOPE_GLOBAL);
  } catch (const H5::Exception& e) {
    impl_->rethrow("flushing", e);
  }
  // HDF5 hands its buffers to the OS; fsync makes them survive a power loss too.
  void* handle = nullptr;
  if (H5Fget_vfd_handle(impl_->file->getId(), H5P_DEFAULT, &handle) >= 0 && handle)
    if (::fsync(*static_cast<int*>(handle)) != 0)
      throw std::runtime_error("HDF5 run file '" + impl_->path + "': fsync failed");
}

// ---------------------------------------------------------------------------------------
// Continuing a run (emcomm train --resume)

namespace {

// How many leading entries of a step dataset are <= `keep` (steps are appended in order).
hsize_t rows_through(const H5::DataSet& step, int64_t keep) {
  std::vector<int64_t> steps;
  read_rows(step, 0, dims_of(step)[0], H5::PredType::NATIVE_INT64, steps);
  return static_cast<hsize_t>(std::find_if(steps.begin(), steps.end(), [&](int64_t s) { return s > keep; }) -
                              steps.begin());
}

Series reopen_series(const H5::Group& g, int64_t keep) {
  const hsize_t rows = rows_through(g.openDataSet("step"), keep);
  return {reopen_column(g, "step", rows), reopen_column(g, "value", rows)};
}

SplitLog reopen_split(const H5::Group& g, int64_t keep) {
  SplitLog log;
  const hsize_t rows = rows_through(g.openDataSet("step"), keep);
  for (const auto& name : children(g))
    if (g.childObjType(name) == H5O_TYPE_DATASET) log.columns.emplace(name, reopen_column(g, name, rows));
  for (const auto& f : interaction_fields()) {  // the layout the file has: -1 absent, 0 [N], D [N, D]
    const auto col = log.columns.find(f.name);
    const int width = col == log.columns.end() ? -1
                      : col->second.tail.empty() ? 0
                                                 : static_cast<int>(col->second.tail[0]);
    log.layout.widths.push_back(width);
  }
  if (has_group(g, "cic")) {
    const H5::Group cg = g.openGroup("cic");
    CicLog cic;
    cic.p_message = reopen_column(cg, "p_message", rows);
    cic.p_action = reopen_column(cg, "p_action", rows);
    cic.messages = static_cast<int64_t>(cic.p_message.tail.at(0));
    cic.action_shape.assign(cic.p_action.tail.begin() + 1, cic.p_action.tail.end());
    if (has_dataset(cg, "messages")) {
      const H5::DataSet m = cg.openDataSet("messages");
      read_rows(m, 0, dims_of(m)[0], H5::PredType::NATIVE_INT32, cic.message_set);
    }
    log.cic = std::move(cic);
  }
  return log;
}

}  // namespace

RunWriter::RunWriter(const std::string& path, int64_t keep_through_step, const std::vector<std::string>& drop_prefixes)
    : impl_(std::make_unique<Impl>()) {
  H5::Exception::dontPrint();
  impl_->path = path;
  {
    const RunReader reader(path);  // UserError when missing, not HDF5 or not a run file
    const auto problems = reader.validate();
    if (!problems.empty())
      throw UserError("run file '" + path + "' cannot be continued, it does not conform to schema_version " +
                      std::to_string(kRunSchemaVersion) + ": " + join(problems));
  }
  FileErrors err{path, "written"};
  impl_->file = std::make_unique<H5::H5File>();
  open_run_file(*impl_->file, err, H5F_ACC_RDWR);
  err.guarded("its datasets, to continue them", [&] {
    H5::H5File& file = *impl_->file;
    auto dropped = [&](const std::string& name) {
      for (const auto& p : drop_prefixes)
        if (name.rfind(p, 0) == 0) return true;
      return false;
    };
    for (const char* group : {"/scalars", "/metrics", "/interactions"}) {
      const H5::Group g = file.openGroup(group);
      for (const auto& name : child_groups(g))
        if (dropped(std::string(group) == "/scalars" ? scalar_logical_name(name) : name)) g.unlink(name);
    }
    const H5::Group scalars = file.openGroup("/scalars");
    for (const auto& name : child_groups(scalars))
      impl_->series.emplace("scalars/" + name, reopen_series(scalars.openGroup(name), keep_through_step));
    const H5::Group metrics = file.openGroup("/metrics");
    for (const auto& split : child_groups(metrics)) {
      const H5::Group sg = metrics.openGroup(split);
      for (const auto& name : child_groups(sg))
        impl_->series.emplace("metrics/" + split + "/" + name, reopen_series(sg.openGroup(name), keep_through_step));
    }
    if (!has_group(file.openGroup("/"), "matrices")) file.createGroup("/matrices");  // written by another tool
    const H5::Group matrices = file.openGroup("/matrices");
    for (const auto& name : child_groups(matrices))
      impl_->series.emplace("matrices/" + name, reopen_series(matrices.openGroup(name), keep_through_step));
    const H5::Group inter = file.openGroup("/interactions");
    for (const auto& split : child_groups(inter)) {
      const H5::Group sg = inter.openGroup(split);
      if (has_dataset(sg, "step")) impl_->splits.emplace(split, reopen_split(sg, keep_through_step));
    }
    file.flush(H5F_SCOPE_GLOBAL);
    return 0;
  });
}

void RunWriter::update_config(const std::map<std::string, std::string>& config, const std::string& ini) {
  try {
    const H5::Group cfg = impl_->file->openGroup("/config");
    const H5::StrType str = utf8_string_type();
    const H5::DataSpace scalar(H5S_SCALAR);
    for (const auto& [key, value] : config) {
      if (cfg.attrExists(key)) cfg.removeAttr(key);
      cfg.createAttribute(key, str, scalar).write(str, value);
    }
    cfg.unlink("ini");
    cfg.createDataSet("ini", str, scalar).write(ini, str);
  } catch (const H5::Exception& e) {
    impl_->rethrow("rewriting /config", e);
  }
}

}  // namespace emcomm
