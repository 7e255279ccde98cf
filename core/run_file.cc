// The HDF5 run file, schema_version 2 (docs/hdf5-format.md is the user-facing contract).
//
// Every row dataset is chunked, shuffled + gzip-compressed, has an unlimited first
// dimension, is created on its first append and extended by each append. The writer keeps
// its DataSet handles open, so an append is one extend plus one hyperslab write per column,
// and it never holds more than the current batch in memory.
#include "core/run_file.h"

#include <H5Cpp.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <unistd.h>

#include "core/errors.h"
#include "core/h5_util.h"

namespace emcomm {
namespace {

constexpr const char* kFormat = "emcomm.run";
constexpr hsize_t kChunkBytes = 32 * 1024;  // target chunk size of interaction datasets
constexpr hsize_t kSeriesChunkRows = 1024;  // scalars and metrics: short, slowly growing
constexpr unsigned kDeflateLevel = 4;
constexpr hsize_t kBlockRows = 1 << 16;  // validate() and step_rows() read rows in blocks

// ---------------------------------------------------------------------------------------
// Small HDF5 helpers shared by the writer and the reader.

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool deflate_available() {
  static const bool available = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
  return available;
}

// Direct children of `g` (link names, in name order).
std::vector<std::string> children(const H5::Group& g) {
  std::vector<std::string> names;
  const hsize_t n = g.getNumObjs();
  names.reserve(n);
  for (hsize_t i = 0; i < n; ++i) names.push_back(g.getObjnameByIdx(i));
  return names;
}

bool has_group(const H5::Group& g, const std::string& name) {
  return has_child(g, name, H5O_TYPE_GROUP);
}

std::vector<std::string> child_groups(const H5::Group& g) {
  std::vector<std::string> names;
  for (const auto& name : children(g))
    if (g.childObjType(name) == H5O_TYPE_GROUP) names.push_back(name);
  return names;
}

// Reads rows [first, first + count) of `ds` (any rank >= 1, every trailing dimension whole)
// into `out`, converted to `mem_type`.
template <class T>
void read_rows(const H5::DataSet& ds, hsize_t first, hsize_t count, const H5::PredType& mem_type,
               std::vector<T>& out) {
  const auto dims = dims_of(ds);
  std::vector<hsize_t> start(dims.size(), 0), n = dims;
  start[0] = first;
  n[0] = count;
  hsize_t elems = 1;
  for (hsize_t d : n) elems *= d;
  out.resize(static_cast<size_t>(elems));
  if (out.empty()) return;
  H5::DataSpace file_space = ds.getSpace();
  file_space.selectHyperslab(H5S_SELECT_SET, n.data(), start.data());
  const H5::DataSpace mem_space(static_cast<int>(n.size()), n.data());
  ds.read(out.data(), mem_type, mem_space, file_space);
}

// Attributes and datasets take their read() arguments in different orders.
void read_raw(const H5::Attribute& a, const H5::DataType& t, void* out) { a.read(t, out); }
void read_raw(const H5::DataSet& d, const H5::DataType& t, void* out) { d.read(out, t); }
void read_str(const H5::Attribute& a, const H5::DataType& t, std::string& out) { a.read(t, out); }
void read_str(const H5::DataSet& d, const H5::DataType& t, std::string& out) { d.read(out, t); }

// A string from an attribute or dataset holding a string (variable or fixed length, any
// character set) or a single number.
template <class Obj>
std::string read_text(const Obj& obj, const H5::DataSpace& space) {
  if (space.getSimpleExtentNpoints() != 1)
    throw std::invalid_argument("holds " + std::to_string(space.getSimpleExtentNpoints()) +
                                " values, not one");
  switch (obj.getTypeClass()) {
    case H5T_STRING: {
      std::string value;
      read_str(obj, obj.getStrType(), value);  // stored type as memory type: no cset conversion
      while (!value.empty() && value.back() == '\0') value.pop_back();
      return value;
    }
    case H5T_INTEGER: {
      int64_t v = 0;
      read_raw(obj, H5::PredType::NATIVE_INT64, &v);
      return std::to_string(v);
    }
    case H5T_FLOAT: {
      double v = 0;
      read_raw(obj, H5::PredType::NATIVE_DOUBLE, &v);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      return buf;
    }
    default:
      throw std::invalid_argument("is neither a string nor a number");
  }
}

std::string read_attr_text(const H5::Attribute& a) { return read_text(a, a.getSpace()); }

// ---------------------------------------------------------------------------------------
// Writer side: one extendable column.

struct Column {
  H5::DataSet ds;
  std::vector<hsize_t> tail;  // dims after the first: {} for [N], {D} for [N, D], {M, K}, ...
  hsize_t rows = 0;
};

hsize_t elems_of(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  return n;
}

// The tail of a [N] (width 0) or [N, width] field.
std::vector<hsize_t> width_tail(int width) {
  return width ? std::vector<hsize_t>{static_cast<hsize_t>(width)} : std::vector<hsize_t>{};
}

hsize_t chunk_rows_for(size_t elem_bytes, const std::vector<hsize_t>& tail) {
  return std::max<hsize_t>(1, kChunkBytes / (elem_bytes * std::max<hsize_t>(1, elems_of(tail))));
}

// An empty [0, tail...] dataset, extendable along the first dimension. `fill` (float
// datasets only) is what unwritten elements read back as.
Column create_column(const H5::Group& g, const std::string& name, const H5::PredType& file_type,
                     const std::vector<hsize_t>& tail, hsize_t chunk_rows,
                     std::optional<float> fill = std::nullopt) {
  const int rank = 1 + static_cast<int>(tail.size());
  std::vector<hsize_t> dims{0}, max_dims{H5S_UNLIMITED}, chunk{chunk_rows};
  for (hsize_t d : tail) {
    dims.push_back(d);
    max_dims.push_back(d);
    chunk.push_back(d);
  }
  H5::DataSpace space(rank, dims.data(), max_dims.data());
  H5::DSetCreatPropList plist;
  plist.setChunk(rank, chunk.data());
  if (fill) plist.setFillValue(H5::PredType::NATIVE_FLOAT, &*fill);
  if (deflate_available()) {
    plist.setShuffle();
    plist.setDeflate(kDeflateLevel);
  }
  Column column;
  column.ds = g.createDataSet(name, file_type, space, plist);
  column.tail = tail;
  return column;
}

// Extends the column by `rows` rows and writes them from `data`; a null `data` leaves the
// new rows unwritten (they read back as the fill value and take no space on disk).
void append_rows(Column& c, const void* data, const H5::PredType& mem_type, hsize_t rows) {
  if (rows == 0) return;
  const int rank = 1 + static_cast<int>(c.tail.size());
  std::vector<hsize_t> new_dims{c.rows + rows}, start{c.rows}, count{rows};
  for (hsize_t d : c.tail) {
    new_dims.push_back(d);
    start.push_back(0);
    count.push_back(d);
  }
  c.ds.extend(new_dims.data());
  if (data) {
    H5::DataSpace file_space = c.ds.getSpace();
    file_space.selectHyperslab(H5S_SELECT_SET, count.data(), start.data());
    H5::DataSpace mem_space(rank, count.data());
    c.ds.write(data, mem_type, mem_space, file_space);
  }
  c.rows += rows;
}

struct Series {  // /scalars/<name> or /metrics/<split>/<name>
  Column step, value;
};

// Empty step and value datasets in group `g`.
Series create_series(const H5::Group& g) {
  Series s;
  s.step = create_column(g, "step", H5::PredType::STD_I64LE, {}, kSeriesChunkRows);
  s.value = create_column(g, "value", H5::PredType::IEEE_F64LE, {}, kSeriesChunkRows);
  return s;
}

// Empty step [N] and value [N, rows, cols] float32 datasets (NaN fill) in group `g`.
Series create_matrix_series(const H5::Group& g, hsize_t rows, hsize_t cols) {
  Series s;
  s.step = create_column(g, "step", H5::PredType::STD_I64LE, {}, kSeriesChunkRows);
  s.value = create_column(g, "value", H5::PredType::IEEE_F32LE, {rows, cols}, chunk_rows_for(4, {rows, cols}),
                          std::numeric_limits<float>::quiet_NaN());
  return s;
}

void append_point(Series& s, int64_t step, double value) {
  append_rows(s.step, &step, H5::PredType::NATIVE_INT64, 1);
  append_rows(s.value, &value, H5::PredType::NATIVE_DOUBLE, 1);
}

// Which fields a split has and their widths; fixed by the split's first append.
struct SplitLayout {
  int msg_len = 0;
  int concept_width = 0;         // 0: no concept dataset
  int sender_action_width = -1;  // -1: absent, 0: [N], D: [N, D]
  int receiver_action_width = -1;
  int target_width = -1;

  bool operator==(const SplitLayout& o) const {
    return msg_len == o.msg_len && concept_width == o.concept_width &&
           sender_action_width == o.sender_action_width &&
           receiver_action_width == o.receiver_action_width && target_width == o.target_width;
  }
};

std::string describe_width(int width) {
  if (width < 0) return "absent";
  return width == 0 ? "[N]" : "[N," + std::to_string(width) + "]";
}

std::string describe(const SplitLayout& l) {
  return "msg_len=" + std::to_string(l.msg_len) +
         ", concept=" + (l.concept_width ? describe_width(l.concept_width) : "absent") +
         ", sender_action=" + describe_width(l.sender_action_width) +
         ", receiver_action=" + describe_width(l.receiver_action_width) +
         ", target=" + describe_width(l.target_width);
}

SplitLayout layout_of(const InteractionBatch& b) {
  SplitLayout l;
  l.msg_len = b.msg_len;
  l.concept_width = b.concept_width;
  l.sender_action_width = b.sender_action.empty() ? -1 : b.sender_action_width;
  l.receiver_action_width = b.receiver_action.empty() ? -1 : b.receiver_action_width;
  l.target_width = b.target.empty() ? -1 : b.target_width;
  return l;
}

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

std::string describe_shape(const std::vector<int64_t>& shape) {
  std::string out;
  for (int64_t d : shape) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return "[" + out + "]";
}

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

void check_link_name(const std::string& what, const std::string& name) {
  EMCOMM_CHECK(
      !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
      what + " '" + name + "' is not a valid HDF5 link name (empty, '.', '..' or has '/')");
}

// Checks a batch against its own declared sizes and the message convention.
void check_batch(const std::string& split, const InteractionBatch& b) {
  const std::string where = "interactions '" + split + "': ";
  EMCOMM_CHECK(b.rows >= 0, where + "rows is negative");
  EMCOMM_CHECK(b.msg_len > 0, where + "msg_len must be positive, got " + std::to_string(b.msg_len));
  EMCOMM_CHECK(b.concept_width >= 0, where + "concept_width is negative");
  const size_t rows = static_cast<size_t>(b.rows);
  auto check_size = [&](const char* field, size_t got, size_t want) {
    EMCOMM_CHECK(got == want, where + "field '" + field + "' has " + std::to_string(got) +
                                  " values, expected " + std::to_string(want) +
                                  " (rows=" + std::to_string(b.rows) + ")");
  };
  check_size("step", b.step.size(), rows);
  check_size("episode", b.episode.size(), rows);
  check_size("t", b.t.size(), rows);
  check_size("sender", b.sender.size(), rows);
  check_size("receiver", b.receiver.size(), rows);
  check_size("message", b.message.size(), rows * static_cast<size_t>(b.msg_len));
  check_size("length", b.length.size(), rows);
  check_size("concept", b.concept.size(), rows * static_cast<size_t>(b.concept_width));
  check_size("reward", b.reward.size(), rows);
  auto check_optional = [&](const char* field, const std::vector<int32_t>& v, int width) {
    EMCOMM_CHECK(width >= 0, where + field + " width is negative");
    if (!v.empty()) check_size(field, v.size(), rows * static_cast<size_t>(std::max(width, 1)));
  };
  check_optional("sender_action", b.sender_action, b.sender_action_width);
  check_optional("receiver_action", b.receiver_action, b.receiver_action_width);
  check_optional("target", b.target, b.target_width);
  if (b.cic) {
    const CicBlock& c = *b.cic;
    EMCOMM_CHECK(c.messages > 0, where + "cic.messages must be positive");
    EMCOMM_CHECK(c.action_shape.size() == 1 || c.action_shape.size() == 2,
                 where + "cic.action_shape must be {K} or {A, V}, got " + describe_shape(c.action_shape));
    for (int64_t d : c.action_shape)
      EMCOMM_CHECK(d > 0, where + "cic.action_shape " + describe_shape(c.action_shape) + " has a non-positive size");
    const size_t m = static_cast<size_t>(c.messages);
    check_size("cic.p_message", c.p_message.size(), rows * m);
    check_size("cic.p_action", c.p_action.size(), rows * m * static_cast<size_t>(c.action_size()));
    if (!c.message_set.empty())
      check_size("cic.message_set", c.message_set.size(), m * static_cast<size_t>(b.msg_len));
  }
  for (size_t r = 0; r < rows; ++r) {
    const int32_t len = b.length[r];
    EMCOMM_CHECK(len >= 0 && len <= b.msg_len, where + "row " + std::to_string(r) + " has length " +
                                                   std::to_string(len) + ", outside 0.." +
                                                   std::to_string(b.msg_len));
    const int32_t* m = b.message.data() + r * static_cast<size_t>(b.msg_len);
    for (int j = 0; j < b.msg_len; ++j) {
      EMCOMM_CHECK(j < len ? m[j] >= 0 : m[j] == -1,
                   where + "row " + std::to_string(r) + " message position " + std::to_string(j) +
                       " holds " + std::to_string(m[j]) + " with length " + std::to_string(len) +
                       " (symbols must be >= 0 before length and -1 from length on)");
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Names

int64_t CicBlock::action_size() const {
  return std::accumulate(action_shape.begin(), action_shape.end(), int64_t{1}, std::multiplies<>());
}

std::string scalar_link_name(const std::string& logical) {
  std::string link = logical;
  std::replace(link.begin(), link.end(), '/', ':');
  return link;
}

std::string scalar_logical_name(const std::string& link) {
  std::string logical = link;
  std::replace(logical.begin(), logical.end(), ':', '/');
  return logical;
}

// ---------------------------------------------------------------------------------------
// RunWriter

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
    put_string(root, "format", kFormat);
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
    auto put = [&](const char* name, const void* data, const H5::PredType& mem_type,
                   const H5::PredType& file_type, size_t elem_bytes, int width) {
      auto col = log.columns.find(name);
      if (col == log.columns.end()) {
        if (!group) group.emplace(impl_->file->openGroup("/interactions/" + split));
        const auto tail = width_tail(width);
        col = log.columns
                  .emplace(name,
                           create_column(*group, name, file_type, tail, chunk_rows_for(elem_bytes, tail)))
                  .first;
      }
      append_rows(col->second, data, mem_type, rows);
    };
    const auto& I64 = H5::PredType::STD_I64LE;
    const auto& I32 = H5::PredType::STD_I32LE;
    const auto& nI64 = H5::PredType::NATIVE_INT64;
    const auto& nI32 = H5::PredType::NATIVE_INT32;
    put("step", batch.step.data(), nI64, I64, 8, 0);
    put("episode", batch.episode.data(), nI64, I64, 8, 0);
    put("t", batch.t.data(), nI32, I32, 4, 0);
    put("sender", batch.sender.data(), nI32, I32, 4, 0);
    put("receiver", batch.receiver.data(), nI32, I32, 4, 0);
    put("message", batch.message.data(), nI32, I32, 4, layout.msg_len);
    put("length", batch.length.data(), nI32, I32, 4, 0);
    if (layout.concept_width > 0)
      put("concept", batch.concept.data(), nI32, I32, 4, layout.concept_width);
    if (layout.sender_action_width >= 0)
      put("sender_action", batch.sender_action.data(), nI32, I32, 4, layout.sender_action_width);
    if (layout.receiver_action_width >= 0)
      put("receiver_action", batch.receiver_action.data(), nI32, I32, 4,
          layout.receiver_action_width);
    if (layout.target_width >= 0)
      put("target", batch.target.data(), nI32, I32, 4, layout.target_width);
    put("reward", batch.reward.data(), H5::PredType::NATIVE_FLOAT, H5::PredType::IEEE_F32LE, 4, 0);
    if (batch.cic && !log.cic)
      log.cic = create_cic(impl_->file->createGroup("/interactions/" + split + "/cic"), *batch.cic,
                           layout.msg_len, prior_rows);
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
// Opening an existing run file (RunReader, MetricsAppender)

namespace {

// Says "run file '<path>' <problem>" for every error of an existing run file.
struct FileErrors {
  std::string path;
  const char* doing = "read";  // what HDF5 errors say the file cannot be: "read", "written"

  [[noreturn]] void fail(const std::string& problem) const {
    throw UserError("run file '" + path + "' " + problem);
  }

  // Runs `f`, turning HDF5 errors into a UserError saying what was being read.
  template <class F>
  auto guarded(const std::string& what, F&& f) const -> decltype(f()) {
    try {
      return f();
    } catch (const H5::Exception& e) {
      fail(std::string("cannot be ") + doing + " (" + what + "): " + h5_detail(e));
    } catch (const std::invalid_argument& e) {
      if (dynamic_cast<const UserError*>(&e)) throw;
      fail("has a malformed " + what + ": it " + e.what());
    }
  }
};

// Opens `path` (H5F_ACC_RDONLY or H5F_ACC_RDWR) and checks the root attributes; returns the
// schema version. Every problem is a UserError naming the file.
int open_run_file(H5::H5File& file, const FileErrors& err, unsigned flags) {
  open_h5_file(file, err.path, flags, [&](const std::string& problem) { err.fail(problem); });
  return err.guarded("root attributes", [&] {
    const H5::Group root = file.openGroup("/");
    if (!root.attrExists("format")) err.fail("has no format attribute 'emcomm.run'");
    const std::string format = read_attr_text(root.openAttribute("format"));
    if (format != kFormat)
      err.fail("has no format attribute 'emcomm.run' (its format is '" + format + "')");
    if (!root.attrExists("schema_version")) err.fail("has no schema_version attribute");
    const H5::Attribute version = root.openAttribute("schema_version");
    if (version.getTypeClass() != H5T_INTEGER || version.getSpace().getSimpleExtentNpoints() != 1)
      err.fail("has a schema_version attribute that is not an integer");
    int64_t v = 0;
    version.read(H5::PredType::NATIVE_INT64, &v);
    if (v != kRunSchemaVersion)
      err.fail("has schema_version " + std::to_string(v) + ", this emcomm reads " +
               std::to_string(kRunSchemaVersion));
    return static_cast<int>(v);
  });
}

// The step and value datasets of a series group, checked to be equal-length vectors.
// `kind` ("scalar", "metric") and `where` (its group path) name the series in errors.
std::pair<H5::DataSet, H5::DataSet> open_series(const H5::Group& g, const std::string& kind,
                                                const std::string& where, const FileErrors& err) {
  if (!has_dataset(g, "step") || !has_dataset(g, "value"))
    err.fail("has a " + kind + " " + where + " without step and value datasets");
  H5::DataSet step = g.openDataSet("step"), value = g.openDataSet("value");
  const auto step_dims = dims_of(step), value_dims = dims_of(value);
  if (step_dims.size() != 1 || step_dims != value_dims)
    err.fail("has a " + kind + " " + where + " whose step and value are not equal-length vectors");
  return {step, value};
}

ScalarSeries read_series(const H5::Group& g, const std::string& kind, const std::string& where,
                         const FileErrors& err) {
  const auto [step, value] = open_series(g, kind, where, err);
  ScalarSeries s;
  s.step.resize(dims_of(step)[0]);
  s.value.resize(s.step.size());
  if (!s.step.empty()) {
    step.read(s.step.data(), H5::PredType::NATIVE_INT64);
    value.read(s.value.data(), H5::PredType::NATIVE_DOUBLE);
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// RunReader

struct RunReader::Impl : FileErrors {
  H5::H5File file;
  int schema_version = 0;

  H5::Group split_group(const std::string& split) const {
    const H5::Group root = file.openGroup("/");
    std::vector<std::string> valid;
    if (has_group(root, "interactions")) {
      const H5::Group all = file.openGroup("/interactions");
      if (has_group(all, split)) return all.openGroup(split);
      valid = child_groups(all);
    }
    fail("has no interaction split '" + split + "'; its splits are: " + join(valid));
  }

  // Rows [first, first + count) of `split`, checked against its row count.
  std::pair<int64_t, int64_t> row_range(const RunReader& r, const std::string& split, int64_t first,
                                        int64_t count) const {
    const int64_t total = r.interaction_rows(split);
    if (count < 0) count = total - first;
    if (first < 0 || count < 0 || first + count > total)
      fail("has " + std::to_string(total) + " rows in split '" + split + "'; cannot read rows [" +
           std::to_string(first) + ", " + std::to_string(first + count) + ")");
    return {first, count};
  }
};

RunReader::RunReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->schema_version = open_run_file(impl_->file, *impl_, H5F_ACC_RDONLY);
}

RunReader::~RunReader() = default;

int RunReader::schema_version() const { return impl_->schema_version; }

std::string RunReader::attribute(const std::string& name) const {
  return impl_->guarded("root attribute '" + name + "'", [&] {
    const H5::Group root = impl_->file.openGroup("/");
    if (!root.attrExists(name)) impl_->fail("has no root attribute '" + name + "'");
    return read_attr_text(root.openAttribute(name));
  });
}

std::map<std::string, std::string> RunReader::config() const {
  return impl_->guarded("/config attributes", [&] {
    std::map<std::string, std::string> out;
    const H5::Group root = impl_->file.openGroup("/");
    if (!has_group(root, "config")) impl_->fail("has no /config group");
    const H5::Group cfg = impl_->file.openGroup("/config");
    const int n = cfg.getNumAttrs();
    for (int i = 0; i < n; ++i) {
      const H5::Attribute a = cfg.openAttribute(static_cast<unsigned>(i));
      out[a.getName()] = read_attr_text(a);
    }
    return out;
  });
}

std::string RunReader::config_ini() const {
  return impl_->guarded("/config/ini", [&] {
    const H5::Group root = impl_->file.openGroup("/");
    if (!has_group(root, "config") || !has_dataset(impl_->file.openGroup("/config"), "ini"))
      impl_->fail("has no /config/ini dataset");
    const H5::DataSet ds = impl_->file.openDataSet("/config/ini");
    return read_text(ds, ds.getSpace());
  });
}

std::vector<std::string> RunReader::scalar_names() const {
  return impl_->guarded("/scalars", [&] {
    std::vector<std::string> names;
    const H5::Group root = impl_->file.openGroup("/");
    if (!has_group(root, "scalars")) return names;
    for (const auto& link : child_groups(impl_->file.openGroup("/scalars")))
      names.push_back(scalar_logical_name(link));
    return names;
  });
}

ScalarSeries RunReader::scalar(const std::string& logical_name) const {
  const std::string where = "/scalars/" + scalar_link_name(logical_name);
  return impl_->guarded(where, [&] {
    const H5::Group root = impl_->file.openGroup("/");
    if (!has_group(root, "scalars") ||
        !has_group(impl_->file.openGroup("/scalars"), scalar_link_name(logical_name)))
      impl_->fail("has no scalar '" + logical_name + "'; its scalars are: " + join(scalar_names()));
    return read_series(impl_->file.openGroup(where), "scalar", where, *impl_);
  });
}

std::vector<std::string> RunReader::matrix_names() const {
  return impl_->guarded("/matrices", [&] {
    std::vector<std::string> names;
    if (!has_group(impl_->file.openGroup("/"), "matrices")) return names;
    for (const auto& link : child_groups(impl_->file.openGroup("/matrices")))
      names.push_back(scalar_logical_name(link));
    return names;
  });
}

MatrixSeries RunReader::matrix(const std::string& logical_name) const {
  const std::string where = "/matrices/" + scalar_link_name(logical_name);
  return impl_->guarded(where, [&] {
    const auto names = matrix_names();
    if (std::find(names.begin(), names.end(), logical_name) == names.end())
      impl_->fail("has no matrix '" + logical_name + "'; its matrices are: " + join(names));
    const H5::Group g = impl_->file.openGroup(where);
    if (!has_dataset(g, "step") || !has_dataset(g, "value"))
      impl_->fail("has a matrix " + where + " without step and value datasets");
    const H5::DataSet step = g.openDataSet("step"), value = g.openDataSet("value");
    const auto sd = dims_of(step), vd = dims_of(value);
    if (sd.size() != 1 || vd.size() != 3 || sd[0] != vd[0])
      impl_->fail("has a matrix " + where + " whose step is not [N] and value not [N, rows, cols]");
    MatrixSeries m;
    m.rows = int64_t(vd[1]);
    m.cols = int64_t(vd[2]);
    m.step.resize(sd[0]);
    m.value.resize(sd[0] * vd[1] * vd[2]);
    if (!m.step.empty()) {
      step.read(m.step.data(), H5::PredType::NATIVE_INT64);
      value.read(m.value.data(), H5::PredType::NATIVE_FLOAT);
    }
    return m;
  });
}

std::vector<std::string> RunReader::metric_splits() const {
  return impl_->guarded("/metrics", [&] {
    if (!has_group(impl_->file.openGroup("/"), "metrics")) return std::vector<std::string>{};
    return child_groups(impl_->file.openGroup("/metrics"));
  });
}

std::vector<std::string> RunReader::metric_names(const std::string& split) const {
  return impl_->guarded("/metrics/" + split, [&] {
    std::vector<std::string> names;
    const auto splits = metric_splits();
    if (std::find(splits.begin(), splits.end(), split) == splits.end()) return names;
    for (const auto& link : child_groups(impl_->file.openGroup("/metrics/" + split)))
      names.push_back(scalar_logical_name(link));
    return names;
  });
}

ScalarSeries RunReader::metric(const std::string& split, const std::string& logical_name) const {
  const std::string where = "/metrics/" + split + "/" + scalar_link_name(logical_name);
  return impl_->guarded(where, [&] {
    const auto names = metric_names(split);
    if (std::find(names.begin(), names.end(), logical_name) == names.end())
      impl_->fail("has no metric '" + logical_name + "' for split '" + split +
                  "'; its metrics there are: " + join(names));
    return read_series(impl_->file.openGroup(where), "metric", where, *impl_);
  });
}

std::vector<std::string> RunReader::splits() const {
  return impl_->guarded("/interactions", [&] {
    const H5::Group root = impl_->file.openGroup("/");
    if (!has_group(root, "interactions")) return std::vector<std::string>{};
    return child_groups(impl_->file.openGroup("/interactions"));
  });
}

int64_t RunReader::interaction_rows(const std::string& split) const {
  return impl_->guarded("/interactions/" + split, [&] {
    const H5::Group g = impl_->split_group(split);
    if (!has_dataset(g, "step")) impl_->fail("has no /interactions/" + split + "/step dataset");
    const auto dims = dims_of(g.openDataSet("step"));
    if (dims.size() != 1)
      impl_->fail("has /interactions/" + split + "/step of rank " + std::to_string(dims.size()) +
                  ", expected 1");
    return static_cast<int64_t>(dims[0]);
  });
}

InteractionBatch RunReader::interactions(const std::string& split, int64_t first,
                                         int64_t count) const {
  const int64_t total = interaction_rows(split);
  std::tie(first, count) = impl_->row_range(*this, split, first, count);
  const std::string where = "/interactions/" + split;
  return impl_->guarded(where, [&] {
    const H5::Group g = impl_->split_group(split);
    const hsize_t start_row = static_cast<hsize_t>(first), rows = static_cast<hsize_t>(count);

    // Reads the selected rows of one field; returns false if an optional field is absent.
    // `width` becomes 0 for a rank-1 dataset and D for a rank-2 [N, D] one.
    auto read = [&](const char* name, auto& out, const H5::PredType& mem_type, bool required,
                    std::vector<int> ranks, int& width) {
      if (!has_dataset(g, name)) {
        if (required) impl_->fail("has no " + where + "/" + name + " dataset");
        return false;
      }
      const H5::DataSet ds = g.openDataSet(name);
      const auto dims = dims_of(ds);
      const int rank = static_cast<int>(dims.size());
      if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end())
        impl_->fail("has " + where + "/" + name + " of rank " + std::to_string(rank));
      if (dims[0] < start_row + rows)
        impl_->fail("has " + where + "/" + name + " with " + std::to_string(dims[0]) +
                    " rows, fewer than step's " + std::to_string(total));
      width = rank == 2 ? static_cast<int>(dims[1]) : 0;
      read_rows(ds, start_row, rows, mem_type, out);
      return true;
    };

    const auto& I64 = H5::PredType::NATIVE_INT64;
    const auto& I32 = H5::PredType::NATIVE_INT32;
    InteractionBatch b;
    b.rows = count;
    int unused = 0;
    read("step", b.step, I64, true, {1}, unused);
    read("episode", b.episode, I64, true, {1}, unused);
    read("t", b.t, I32, true, {1}, unused);
    read("sender", b.sender, I32, true, {1}, unused);
    read("receiver", b.receiver, I32, true, {1}, unused);
    read("message", b.message, I32, true, {2}, b.msg_len);
    read("length", b.length, I32, true, {1}, unused);
    read("concept", b.concept, I32, false, {2}, b.concept_width);
    read("sender_action", b.sender_action, I32, false, {1, 2}, b.sender_action_width);
    read("receiver_action", b.receiver_action, I32, false, {1, 2}, b.receiver_action_width);
    read("target", b.target, I32, false, {1, 2}, b.target_width);
    read("reward", b.reward, H5::PredType::NATIVE_FLOAT, true, {1}, unused);
    return b;
  });
}

std::optional<CicBlock> RunReader::cic(const std::string& split, int64_t first, int64_t count) const {
  std::tie(first, count) = impl_->row_range(*this, split, first, count);
  const std::string where = "/interactions/" + split + "/cic";
  return impl_->guarded(where, [&]() -> std::optional<CicBlock> {
    const H5::Group g = impl_->split_group(split);
    if (!g.nameExists("cic")) return std::nullopt;
    if (!has_group(g, "cic")) impl_->fail("has " + where + " that is not a group");
    const H5::Group c = g.openGroup("cic");
    const bool has_pm = has_dataset(c, "p_message"), has_pa = has_dataset(c, "p_action");
    if (!has_pm && !has_pa) return std::nullopt;
    if (!has_pm || !has_pa)
      impl_->fail("has " + where + (has_pm ? "/p_message without p_action" : "/p_action without p_message"));
    const H5::DataSet pm = c.openDataSet("p_message"), pa = c.openDataSet("p_action");
    const auto pm_dims = dims_of(pm), pa_dims = dims_of(pa);
    if (pm_dims.size() != 2 || (pa_dims.size() != 3 && pa_dims.size() != 4) || pa_dims[1] != pm_dims[1] ||
        pm_dims[1] == 0)
      impl_->fail("has " + where + "/p_message " + dims_text(pm_dims) + " and p_action " + dims_text(pa_dims) +
                  "; expected [N, M] and [N, M, K] or [N, M, A, V]");
    const hsize_t end = static_cast<hsize_t>(first + count);
    if (pm_dims[0] < end || pa_dims[0] < end)
      impl_->fail("has " + where + " tables with fewer rows than the split's " +
                  std::to_string(interaction_rows(split)));
    if (pm.getTypeClass() != H5T_FLOAT || pa.getTypeClass() != H5T_FLOAT)
      impl_->fail("has " + where + "/p_message or p_action of a non-float dtype");
    CicBlock b;
    b.messages = static_cast<int64_t>(pm_dims[1]);
    b.action_shape.assign(pa_dims.begin() + 2, pa_dims.end());
    read_rows(pm, static_cast<hsize_t>(first), static_cast<hsize_t>(count), H5::PredType::NATIVE_FLOAT, b.p_message);
    read_rows(pa, static_cast<hsize_t>(first), static_cast<hsize_t>(count), H5::PredType::NATIVE_FLOAT, b.p_action);
    if (has_dataset(c, "messages")) {
      const H5::DataSet md = c.openDataSet("messages");
      const auto m_dims = dims_of(md);
      if (m_dims.size() != 2 || m_dims[0] != pm_dims[1] || md.getTypeClass() != H5T_INTEGER)
        impl_->fail("has " + where + "/messages " + dims_text(m_dims) + "; expected integers [" +
                    std::to_string(pm_dims[1]) + ", L]");
      read_rows(md, 0, m_dims[0], H5::PredType::NATIVE_INT32, b.message_set);
    }
    return b;
  });
}

std::vector<StepRows> RunReader::step_rows(const std::string& split) const {
  const hsize_t total = static_cast<hsize_t>(interaction_rows(split));
  const std::string where = "/interactions/" + split + "/step";
  return impl_->guarded(where, [&] {
    const H5::DataSet ds = impl_->split_group(split).openDataSet("step");
    std::vector<StepRows> out;
    std::vector<int64_t> block;
    for (hsize_t first = 0; first < total; first += kBlockRows) {
      read_rows(ds, first, std::min(kBlockRows, total - first), H5::PredType::NATIVE_INT64, block);
      for (size_t i = 0; i < block.size(); ++i) {
        const int64_t row = static_cast<int64_t>(first + i), step = block[i];
        if (!out.empty() && out.back().step == step) {
          ++out.back().count;
          continue;
        }
        if (!out.empty() && step < out.back().step)
          impl_->fail("has rows out of step order in " + where + ": row " + std::to_string(row) + " has step " +
                      std::to_string(step) + " after step " + std::to_string(out.back().step) +
                      " (rows must be appended in non-decreasing step order)");
        out.push_back({step, row, 1});
      }
    }
    return out;
  });
}

namespace {

// Field rules of an interactions split: dtype class and allowed ranks.
struct FieldRule {
  const char* name;
  H5T_class_t type_class;
  std::vector<int> ranks;
  bool required;
};

const std::vector<FieldRule>& field_rules() {
  static const std::vector<FieldRule> rules = {
      {"step", H5T_INTEGER, {1}, true},
      {"episode", H5T_INTEGER, {1}, true},
      {"t", H5T_INTEGER, {1}, true},
      {"sender", H5T_INTEGER, {1}, true},
      {"receiver", H5T_INTEGER, {1}, true},
      {"message", H5T_INTEGER, {2}, true},
      {"length", H5T_INTEGER, {1}, true},
      {"reward", H5T_FLOAT, {1}, true},
      {"concept", H5T_INTEGER, {2}, false},
      {"sender_action", H5T_INTEGER, {1, 2}, false},
      {"receiver_action", H5T_INTEGER, {1, 2}, false},
      {"target", H5T_INTEGER, {1, 2}, false},
  };
  return rules;
}

// True when the dataset's type matches the class (integers must be signed, as numpy 'i').
bool type_matches(const H5::DataSet& ds, H5T_class_t type_class) {
  if (ds.getTypeClass() != type_class) return false;
  if (type_class == H5T_INTEGER) return ds.getIntType().getSign() == H5T_SGN_2;
  return true;
}

std::string type_name(const H5::DataSet& ds) {
  switch (ds.getTypeClass()) {
    case H5T_INTEGER:
      return (ds.getIntType().getSign() == H5T_SGN_2 ? "int" : "uint") +
             std::to_string(8 * ds.getIntType().getSize());
    case H5T_FLOAT:
      return "float" + std::to_string(8 * ds.getFloatType().getSize());
    case H5T_STRING:
      return "string";
    default:
      return "non-numeric type";
  }
}

// step/value series under `g` (a /scalars or /metrics/<split> group).
void validate_series_group(const H5::Group& g, const std::string& where,
                           std::vector<std::string>& problems) {
  for (const auto& name : children(g)) {
    const std::string path = where + "/" + name;
    if (g.childObjType(name) != H5O_TYPE_GROUP) {
      problems.push_back(path + " is not a group holding step and value");
      continue;
    }
    const H5::Group s = g.openGroup(name);
    const auto kids = children(s);
    if (std::set<std::string>(kids.begin(), kids.end()) != std::set<std::string>{"step", "value"} ||
        !has_dataset(s, "step") || !has_dataset(s, "value")) {
      problems.push_back(path + " must hold exactly step and value");
      continue;
    }
    const H5::DataSet step = s.openDataSet("step"), value = s.openDataSet("value");
    if (dims_of(step) != dims_of(value))
      problems.push_back(path + ": step and value differ in length");
    if (dims_of(step).size() != 1) problems.push_back(path + "/step is not rank 1");
    if (!type_matches(step, H5T_INTEGER))
      problems.push_back(path + "/step has dtype " + type_name(step));
    if (!type_matches(value, H5T_FLOAT))
      problems.push_back(path + "/value has dtype " + type_name(value));
  }
}

// Lengths within 0..L and the -1 padding rule, read in blocks of rows.
void validate_messages(const H5::DataSet& message, const H5::DataSet& length, hsize_t rows,
                       const std::string& where, std::vector<std::string>& problems) {
  const hsize_t width = dims_of(message)[1];
  bool bad_length = false, bad_tail = false, bad_head = false;
  std::vector<int32_t> m, len;
  for (hsize_t first = 0; first < rows; first += kBlockRows) {
    const hsize_t n = std::min(kBlockRows, rows - first);
    read_rows(length, first, n, H5::PredType::NATIVE_INT32, len);
    read_rows(message, first, n, H5::PredType::NATIVE_INT32, m);
    for (hsize_t r = 0; r < n; ++r) {
      const int64_t l = len[r];
      if (l < 0 || l > static_cast<int64_t>(width)) {
        bad_length = true;
        continue;
      }
      for (hsize_t j = 0; j < width; ++j) {
        const int32_t sym = m[r * width + j];
        if (static_cast<int64_t>(j) >= l)
          bad_tail |= sym != -1;
        else
          bad_head |= sym < 0;
      }
    }
  }
  if (bad_length) problems.push_back(where + "/length outside 0.." + std::to_string(width));
  if (bad_tail) problems.push_back(where + "/message has symbols other than -1 after length");
  if (bad_head) problems.push_back(where + "/message has negative symbols before length");
}

// cic/p_message [N, M] and cic/p_action [N, M, K] or [N, M, A, V] (float, both or neither),
// cic/messages [M, L] (integer, optional).
void validate_cic(const H5::Group& split, const std::string& where, hsize_t rows,
                  std::vector<std::string>& problems) {
  const std::string at = where + "/cic";
  if (!has_group(split, "cic")) {
    problems.push_back(at + " is not a group");
    return;
  }
  const H5::Group c = split.openGroup("cic");
  const bool has_pm = has_dataset(c, "p_message"), has_pa = has_dataset(c, "p_action");
  if (has_pm != has_pa) problems.push_back(at + " must hold both p_message and p_action, or neither");
  if (!has_pm || !has_pa) return;
  const H5::DataSet pm = c.openDataSet("p_message"), pa = c.openDataSet("p_action");
  const auto pm_dims = dims_of(pm), pa_dims = dims_of(pa);
  if (pm_dims.size() != 2 || (pa_dims.size() != 3 && pa_dims.size() != 4) || pm_dims[0] != rows ||
      pa_dims[0] != rows || pa_dims[1] != pm_dims[1])
    problems.push_back(at + "/p_message " + dims_text(pm_dims) + " and p_action " + dims_text(pa_dims) +
                       " do not fit " + std::to_string(rows) + " rows ([N, M] and [N, M, K] or [N, M, A, V])");
  for (const auto& [name, ds] : {std::pair{"p_message", pm}, std::pair{"p_action", pa}})
    if (!type_matches(ds, H5T_FLOAT)) problems.push_back(at + "/" + name + " has dtype " + type_name(ds));
  if (has_dataset(c, "messages")) {
    const H5::DataSet md = c.openDataSet("messages");
    const auto m_dims = dims_of(md);
    std::optional<hsize_t> width;  // L, when the split's message dataset has it
    if (has_dataset(split, "message")) {
      const auto dims = dims_of(split.openDataSet("message"));
      if (dims.size() == 2) width = dims[1];
    }
    if (m_dims.size() != 2 || pm_dims.size() != 2 || m_dims[0] != pm_dims[1] || (width && m_dims[1] != *width))
      problems.push_back(at + "/messages " + dims_text(m_dims) + " is not [M, L] for M = p_message's columns and " +
                         "L = message's");
    if (!type_matches(md, H5T_INTEGER)) problems.push_back(at + "/messages has dtype " + type_name(md));
  }
}

void validate_split(const H5::Group& g, const std::string& where,
                    std::vector<std::string>& problems) {
  std::optional<hsize_t> rows;
  for (const auto& rule : field_rules()) {
    if (!has_dataset(g, rule.name)) {
      if (rule.required) problems.push_back(where + "/" + rule.name + " missing");
      continue;
    }
    const H5::DataSet ds = g.openDataSet(rule.name);
    const auto dims = dims_of(ds);
    const std::string path = where + "/" + rule.name;
    if (!type_matches(ds, rule.type_class))
      problems.push_back(path + " has dtype " + type_name(ds));
    const int rank = static_cast<int>(dims.size());
    if (std::find(rule.ranks.begin(), rule.ranks.end(), rank) == rule.ranks.end())
      problems.push_back(path + " has rank " + std::to_string(rank));
    if (dims.empty()) continue;
    if (!rows) rows = dims[0];
    if (dims[0] != *rows)
      problems.push_back(path + " has " + std::to_string(dims[0]) + " rows, others " +
                         std::to_string(*rows));
  }
  if (has_dataset(g, "message") && has_dataset(g, "length")) {
    const H5::DataSet message = g.openDataSet("message"), length = g.openDataSet("length");
    const auto md = dims_of(message), ld = dims_of(length);
    if (md.size() == 2 && ld.size() == 1 && md[0] == ld[0] && md[0] > 0 &&
        type_matches(message, H5T_INTEGER) && type_matches(length, H5T_INTEGER))
      validate_messages(message, length, md[0], where, problems);
  }
  if (g.nameExists("cic")) validate_cic(g, where, rows.value_or(0), problems);
}

// /matrices/<name>: exactly step (integer [N]) and value (float [N, rows, cols]).
void validate_matrix_group(const H5::Group& g, std::vector<std::string>& problems) {
  for (const auto& name : children(g)) {
    const std::string path = "/matrices/" + name;
    if (g.childObjType(name) != H5O_TYPE_GROUP) {
      problems.push_back(path + " is not a group holding step and value");
      continue;
    }
    const H5::Group s = g.openGroup(name);
    const auto kids = children(s);
    if (std::set<std::string>(kids.begin(), kids.end()) != std::set<std::string>{"step", "value"} ||
        !has_dataset(s, "step") || !has_dataset(s, "value")) {
      problems.push_back(path + " must hold exactly step and value");
      continue;
    }
    const H5::DataSet step = s.openDataSet("step"), value = s.openDataSet("value");
    const auto sd = dims_of(step), vd = dims_of(value);
    if (sd.size() != 1) problems.push_back(path + "/step is not rank 1");
    if (vd.size() != 3) problems.push_back(path + "/value is not rank 3 [N, rows, cols]");
    if (sd.size() == 1 && !vd.empty() && sd[0] != vd[0]) problems.push_back(path + ": step and value differ in length");
    if (!type_matches(step, H5T_INTEGER)) problems.push_back(path + "/step has dtype " + type_name(step));
    if (!type_matches(value, H5T_FLOAT)) problems.push_back(path + "/value has dtype " + type_name(value));
  }
}

}  // namespace

std::vector<std::string> RunReader::validate() const {
  std::vector<std::string> problems;
  const H5::H5File& file = impl_->file;
  auto section = [&](const std::string& what, auto&& check) {
    try {
      check();
    } catch (const H5::Exception& e) {
      problems.push_back(what + ": HDF5 error: " + h5_detail(e));
    } catch (const std::invalid_argument& e) {
      problems.push_back(what + ": " + e.what());
    }
  };
  section("root attributes", [&] {
    const H5::Group root = file.openGroup("/");
    if (!root.attrExists("format") || read_attr_text(root.openAttribute("format")) != kFormat)
      problems.push_back("root attribute format is not 'emcomm.run'");
    if (!root.attrExists("schema_version") ||
        root.openAttribute("schema_version").getTypeClass() != H5T_INTEGER ||
        read_attr_text(root.openAttribute("schema_version")) != std::to_string(kRunSchemaVersion))
      problems.push_back("root attribute schema_version is not " +
                         std::to_string(kRunSchemaVersion));
    for (const char* name : {"emcomm_version", "created_utc"})
      if (!root.attrExists(name))
        problems.push_back(std::string("root attribute ") + name + " missing");
  });
  section("/config", [&] {
    const H5::Group root = file.openGroup("/");
    if (!has_group(root, "config") || !has_dataset(file.openGroup("/config"), "ini"))
      problems.push_back("/config/ini missing");
  });
  section("/scalars", [&] {
    if (has_group(file.openGroup("/"), "scalars"))
      validate_series_group(file.openGroup("/scalars"), "/scalars", problems);
  });
  section("/metrics", [&] {
    if (!has_group(file.openGroup("/"), "metrics")) return;
    const H5::Group metrics = file.openGroup("/metrics");
    for (const auto& split : children(metrics)) {
      if (metrics.childObjType(split) != H5O_TYPE_GROUP)
        problems.push_back("/metrics/" + split + " is not a group");
      else
        validate_series_group(metrics.openGroup(split), "/metrics/" + split, problems);
    }
  });
  section("/matrices", [&] {
    if (has_group(file.openGroup("/"), "matrices")) validate_matrix_group(file.openGroup("/matrices"), problems);
  });
  section("/interactions", [&] {
    if (!has_group(file.openGroup("/"), "interactions")) return;
    const H5::Group all = file.openGroup("/interactions");
    for (const auto& split : children(all)) {
      const std::string where = "/interactions/" + split;
      if (all.childObjType(split) != H5O_TYPE_GROUP) {
        problems.push_back(where + " is not a group");
        continue;
      }
      section(where, [&] { validate_split(all.openGroup(split), where, problems); });
    }
  });
  return problems;
}

// ---------------------------------------------------------------------------------------
// MetricsAppender

struct MetricsAppender::Impl : FileErrors {
  H5::H5File file;

  // The group at `path` (below the root), created when absent.
  H5::Group group(const std::string& path) {
    if (!file.nameExists(path)) return file.createGroup(path);
    if (file.childObjType(path) != H5O_TYPE_GROUP) fail("has " + path + " that is not a group");
    return file.openGroup(path);
  }
};

MetricsAppender::MetricsAppender(const std::string& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  open_run_file(impl_->file, *impl_, H5F_ACC_RDWR);
  impl_->doing = "written";
}

MetricsAppender::~MetricsAppender() {
  if (!impl_) return;
  try {
    impl_->file.close();
  } catch (...) {
    // A destructor must not throw; flush() is what is guaranteed on disk.
  }
}

void MetricsAppender::set_metric(const std::string& split, const std::string& name, int64_t step,
                                 double value) {
  set_metric(split, name, ScalarSeries{{step}, {value}});
}

void MetricsAppender::set_metric(const std::string& split, const std::string& name, const ScalarSeries& points) {
  check_link_name("metrics split", split);
  EMCOMM_CHECK(name.find(':') == std::string::npos,
               "metric name '" + name + "' contains ':', which is reserved for '/' in link names");
  EMCOMM_CHECK(points.step.size() == points.value.size(), "metric '" + name + "': steps and values differ in number");
  const std::string link = scalar_link_name(name);
  check_link_name("metric name", link);
  const std::string where = "/metrics/" + split + "/" + link;
  impl_->guarded(where, [&] {
    impl_->group("/metrics");
    const H5::Group parent = impl_->group("/metrics/" + split);
    const bool exists = parent.nameExists(link);
    ScalarSeries s = exists ? read_series(impl_->group(where), "metric", where, *impl_) : ScalarSeries{};
    bool grew = false;
    for (size_t i = 0; i < points.step.size(); ++i) {
      const int64_t step = points.step[i];
      const auto at = std::find(s.step.begin(), s.step.end(), step);
      if (at != s.step.end()) {  // replace
        s.value[at - s.step.begin()] = points.value[i];
        continue;
      }
      // Insert at its place by step when the series is sorted (as the writer leaves it).
      const size_t pos = std::is_sorted(s.step.begin(), s.step.end())
                             ? std::upper_bound(s.step.begin(), s.step.end(), step) - s.step.begin()
                             : s.step.size();
      s.step.insert(s.step.begin() + pos, step);
      s.value.insert(s.value.begin() + pos, points.value[i]);
      grew = true;
    }
    if (exists) {
      // Rewritten in place when the datasets can take it; a series from another tool
      // (contiguous, or float32 values) is replaced by one in the writer's layout.
      const auto [step_ds, value_ds] = open_series(impl_->group(where), "metric", where, *impl_);
      auto extendable = [](const H5::DataSet& ds) {
        hsize_t dims[1], max_dims[1];
        return ds.getSpace().getSimpleExtentDims(dims, max_dims) == 1 && max_dims[0] == H5S_UNLIMITED;
      };
      const bool float64 = value_ds.getTypeClass() == H5T_FLOAT && value_ds.getFloatType().getSize() == 8;
      if (float64 && (!grew || (extendable(step_ds) && extendable(value_ds)))) {
        const hsize_t n[1] = {s.step.size()};
        if (grew) {
          step_ds.extend(n);
          value_ds.extend(n);
        }
        step_ds.write(s.step.data(), H5::PredType::NATIVE_INT64);
        value_ds.write(s.value.data(), H5::PredType::NATIVE_DOUBLE);
        return;
      }
      parent.unlink(link);
    }
    Series created = create_series(parent.createGroup(link));
    append_rows(created.step, s.step.data(), H5::PredType::NATIVE_INT64, s.step.size());
    append_rows(created.value, s.value.data(), H5::PredType::NATIVE_DOUBLE, s.value.size());
  });
}

void MetricsAppender::flush() {
  impl_->guarded("flush", [&] { impl_->file.flush(H5F_SCOPE_GLOBAL); });
}

}  // namespace emcomm

// ---------------------------------------------------------------------------------------
// RunWriter: continuing a run (emcomm train --resume)

namespace emcomm {
namespace {

// How many leading entries of a step dataset are <= `keep` (steps are appended in order).
hsize_t rows_through(const H5::DataSet& step, int64_t keep) {
  std::vector<int64_t> steps;
  read_rows(step, 0, dims_of(step)[0], H5::PredType::NATIVE_INT64, steps);
  return static_cast<hsize_t>(std::find_if(steps.begin(), steps.end(), [&](int64_t s) { return s > keep; }) -
                              steps.begin());
}

// The writer's handle on an existing row dataset, cut to `rows` rows.
Column reopen_column(const H5::Group& g, const std::string& name, hsize_t rows) {
  Column c;
  c.ds = g.openDataSet(name);
  auto dims = dims_of(c.ds);
  c.tail.assign(dims.begin() + 1, dims.end());
  if (dims[0] > rows) {
    dims[0] = rows;
    c.ds.extend(dims.data());  // H5Dset_extent: shrinking drops the rows after `rows`
  }
  c.rows = std::min(rows, dims[0]);
  return c;
}

Series reopen_series(const H5::Group& g, int64_t keep) {
  const hsize_t rows = rows_through(g.openDataSet("step"), keep);
  return {reopen_column(g, "step", rows), reopen_column(g, "value", rows)};
}

// -1: field absent, 0: [N], D: [N, D].
int reopened_width(const std::map<std::string, Column>& columns, const std::string& name) {
  auto it = columns.find(name);
  if (it == columns.end()) return -1;
  return it->second.tail.empty() ? 0 : static_cast<int>(it->second.tail[0]);
}

SplitLog reopen_split(const H5::Group& g, int64_t keep) {
  SplitLog log;
  const hsize_t rows = rows_through(g.openDataSet("step"), keep);
  for (const auto& name : children(g))
    if (g.childObjType(name) == H5O_TYPE_DATASET) log.columns.emplace(name, reopen_column(g, name, rows));
  log.layout.msg_len = reopened_width(log.columns, "message");
  log.layout.concept_width = std::max(reopened_width(log.columns, "concept"), 0);
  log.layout.sender_action_width = reopened_width(log.columns, "sender_action");
  log.layout.receiver_action_width = reopened_width(log.columns, "receiver_action");
  log.layout.target_width = reopened_width(log.columns, "target");
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

RunWriter::RunWriter(const std::string& path, int64_t keep_through_step) : impl_(std::make_unique<Impl>()) {
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

}  // namespace emcomm
