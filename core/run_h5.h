// HDF5 helpers of the run file only (core/run_*.cc, core/metrics_appender.cc): the storage
// constants, extendable columns and series, reading rows and text, and opening an existing
// run file with errors that name it. Helpers shared with other files are in core/h5_util.h.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"
#include "core/h5_util.h"
#include "core/run_file.h"

namespace emcomm {

inline constexpr const char* kRunFormat = "emcomm.run";
inline constexpr hsize_t kChunkBytes = 32 * 1024;  // target chunk size of interaction datasets
inline constexpr hsize_t kSeriesChunkRows = 1024;  // scalars and metrics: short, slowly growing
inline constexpr unsigned kDeflateLevel = 4;
inline constexpr hsize_t kBlockRows = 1 << 16;     // validate() and step_rows() read rows in blocks

std::string join(const std::vector<std::string>& items);  // "a, b"; "(none)" when empty
std::string utc_now_iso8601();

std::vector<std::string> children(const H5::Group& g);  // link names, in name order
bool has_group(const H5::Group& g, const std::string& name);
std::vector<std::string> child_groups(const H5::Group& g);

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

// A string from an attribute or dataset holding a string (variable or fixed length, any
// character set) or a single number; std::invalid_argument when it holds neither.
std::string read_attr_text(const H5::Attribute& a);
std::string read_dataset_text(const H5::DataSet& ds);

// ---------------------------------------------------------------------------------------
// Writer side: extendable columns and series.

struct Column {
  H5::DataSet ds;
  std::vector<hsize_t> tail;  // dims after the first: {} for [N], {D} for [N, D], {M, K}, ...
  hsize_t rows = 0;
};

// The tail of a [N] (width 0) or [N, width] field.
std::vector<hsize_t> width_tail(int width);
// Rows per chunk of a dataset of `elem_bytes` elements and this tail: about kChunkBytes.
hsize_t chunk_rows_for(size_t elem_bytes, const std::vector<hsize_t>& tail);
// An empty [0, tail...] dataset, chunked, shuffled + gzip-compressed (when available),
// extendable along the first dimension. `fill` (float datasets only) is what unwritten
// elements read back as.
Column create_column(const H5::Group& g, const std::string& name, const H5::PredType& file_type,
                     const std::vector<hsize_t>& tail, hsize_t chunk_rows,
                     std::optional<float> fill = std::nullopt);
// Extends the column by `rows` rows and writes them from `data`; a null `data` leaves the
// new rows unwritten (they read back as the fill value and take no space on disk).
void append_rows(Column& c, const void* data, const H5::PredType& mem_type, hsize_t rows);
// The writer's handle on an existing row dataset, cut to `rows` rows (H5Dset_extent).
Column reopen_column(const H5::Group& g, const std::string& name, hsize_t rows);

struct Series {  // /scalars/<name> or /metrics/<split>/<name>
  Column step, value;
};
Series create_series(const H5::Group& g);  // empty step (int64) and value (float64) datasets
// Empty step [N] (int64) and value [N, rows, cols] (float32, NaN fill) datasets: /matrices/<name>.
Series create_matrix_series(const H5::Group& g, hsize_t rows, hsize_t cols);
void append_point(Series& s, int64_t step, double value);

// EMCOMM_CHECK that `name` can be an HDF5 link name; `what` names it in the error.
void check_link_name(const std::string& what, const std::string& name);

// ---------------------------------------------------------------------------------------
// Existing run files (RunReader, MetricsAppender, RunWriter continuing a run).

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
int open_run_file(H5::H5File& file, const FileErrors& err, unsigned flags);

// The step and value datasets of a series group, checked to be equal-length vectors.
// `kind` ("scalar", "metric") and `where` (its group path) name the series in errors.
std::pair<H5::DataSet, H5::DataSet> open_series(const H5::Group& g, const std::string& kind,
                                                const std::string& where, const FileErrors& err);
ScalarSeries read_series(const H5::Group& g, const std::string& kind, const std::string& where,
                         const FileErrors& err);

// One line per way the open file breaks the schema (RunReader::validate(), run_validate.cc).
std::vector<std::string> validate_run_file(const H5::H5File& file);

}  // namespace emcomm
