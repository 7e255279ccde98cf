#include "core/run_h5.h"

#include <limits>

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace emcomm {

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

namespace {

// Attributes and datasets take their read() arguments in different orders.
void read_raw(const H5::Attribute& a, const H5::DataType& t, void* out) { a.read(t, out); }
void read_raw(const H5::DataSet& d, const H5::DataType& t, void* out) { d.read(out, t); }
void read_str(const H5::Attribute& a, const H5::DataType& t, std::string& out) { a.read(t, out); }
void read_str(const H5::DataSet& d, const H5::DataType& t, std::string& out) { d.read(out, t); }

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

bool deflate_available() {
  static const bool available = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
  return available;
}

hsize_t elems_of(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  return n;
}

}  // namespace

std::string read_attr_text(const H5::Attribute& a) { return read_text(a, a.getSpace()); }
std::string read_dataset_text(const H5::DataSet& ds) { return read_text(ds, ds.getSpace()); }

// ---------------------------------------------------------------------------------------
// Columns and series

std::vector<hsize_t> width_tail(int width) {
  return width ? std::vector<hsize_t>{static_cast<hsize_t>(width)} : std::vector<hsize_t>{};
}

hsize_t chunk_rows_for(size_t elem_bytes, const std::vector<hsize_t>& tail) {
  return std::max<hsize_t>(1, kChunkBytes / (elem_bytes * std::max<hsize_t>(1, elems_of(tail))));
}

Column create_column(const H5::Group& g, const std::string& name, const H5::PredType& file_type,
                     const std::vector<hsize_t>& tail, hsize_t chunk_rows, std::optional<float> fill) {
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

Series create_series(const H5::Group& g) {
  Series s;
  s.step = create_column(g, "step", H5::PredType::STD_I64LE, {}, kSeriesChunkRows);
  s.value = create_column(g, "value", H5::PredType::IEEE_F64LE, {}, kSeriesChunkRows);
  return s;
}

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

void check_link_name(const std::string& what, const std::string& name) {
  EMCOMM_CHECK(
      !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..",
      what + " '" + name + "' is not a valid HDF5 link name (empty, '.', '..' or has '/')");
}

// ---------------------------------------------------------------------------------------
// Existing run files

int open_run_file(H5::H5File& file, const FileErrors& err, unsigned flags) {
  open_h5_file(file, err.path, flags, [&](const std::string& problem) { err.fail(problem); });
  return err.guarded("root attributes", [&] {
    const H5::Group root = file.openGroup("/");
    if (!root.attrExists("format")) err.fail("has no format attribute 'emcomm.run'");
    const std::string format = read_attr_text(root.openAttribute("format"));
    if (format != kRunFormat)
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

}  // namespace emcomm
