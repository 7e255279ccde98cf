// RunReader: opens a run file read-only, checks its root attributes and reads its config,
// series and interaction rows (the fields of interaction_fields(), core/run_schema.h) without
// loading more than the rows asked for. validate() is in core/run_validate.cc.
#include <H5Cpp.h>

#include <algorithm>
#include <tuple>
#include <utility>
#include <variant>

#include "core/run_file.h"
#include "core/run_h5.h"
#include "core/run_schema.h"

namespace emcomm {

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
    return read_dataset_text(ds);
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

    InteractionBatch b;
    b.rows = count;
    for (const auto& f : interaction_fields()) {
      if (!has_dataset(g, f.name)) {
        if (f.required()) impl_->fail("has no " + where + "/" + f.name + " dataset");
        continue;
      }
      const H5::DataSet ds = g.openDataSet(f.name);
      const auto dims = dims_of(ds);
      const int rank = static_cast<int>(dims.size());
      const auto ranks = f.ranks();
      if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end())
        impl_->fail("has " + where + "/" + f.name + " of rank " + std::to_string(rank));
      if (dims[0] < start_row + rows)
        impl_->fail("has " + where + "/" + f.name + " with " + std::to_string(dims[0]) +
                    " rows, fewer than step's " + std::to_string(total));
      if (f.width) b.*f.width = rank == 2 ? static_cast<int>(dims[1]) : 0;
      std::visit([&](auto member) { read_rows(ds, start_row, rows, memory_type(f.dtype()), b.*member); },
                 f.column);
    }
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

std::vector<std::string> RunReader::validate() const { return validate_run_file(impl_->file); }

}  // namespace emcomm
