// MetricsAppender: adds /metrics/<split>/<name> points to an existing run file (what
// `emcomm analyze` writes back), replacing the value of a step that already has one.
#include <H5Cpp.h>

#include <algorithm>

#include "core/errors.h"
#include "core/run_file.h"
#include "core/run_h5.h"

namespace emcomm {

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
