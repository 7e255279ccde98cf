// validate_run_file(): checks an open run file against schema_version 2 (docs/hdf5-format.md)
// and says, one line each, every way it breaks it. The interaction fields are checked from
// interaction_fields() (core/run_schema.h): required ones first, then the optional ones.
#include <H5Cpp.h>

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "core/run_h5.h"
#include "core/run_schema.h"

namespace emcomm {
namespace {

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

// step/value series under `g`: a /scalars or /metrics/<split> group (value [N], value_rank 1),
// or /matrices (value [N, rows, cols], value_rank 3).
void validate_series_group(const H5::Group& g, const std::string& where, std::vector<std::string>& problems,
                           size_t value_rank = 1) {
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
    const auto sd = dims_of(step), vd = dims_of(value);
    if (value_rank == 1) {
      if (sd != vd) problems.push_back(path + ": step and value differ in length");
      if (sd.size() != 1) problems.push_back(path + "/step is not rank 1");
    } else {
      if (sd.size() != 1) problems.push_back(path + "/step is not rank 1");
      if (vd.size() != value_rank) problems.push_back(path + "/value is not rank 3 [N, rows, cols]");
      if (sd.size() == 1 && !vd.empty() && sd[0] != vd[0]) problems.push_back(path + ": step and value differ in length");
    }
    if (!type_matches(step, H5T_INTEGER)) problems.push_back(path + "/step has dtype " + type_name(step));
    if (!type_matches(value, H5T_FLOAT)) problems.push_back(path + "/value has dtype " + type_name(value));
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
  // Required fields first: the first one present sets the row count the others must have.
  std::vector<const InteractionField*> order;
  for (const bool required : {true, false})
    for (const auto& f : interaction_fields())
      if (f.required() == required) order.push_back(&f);
  for (const InteractionField* f : order) {
    const std::string path = where + "/" + f->name;
    if (!has_dataset(g, f->name)) {
      if (f->required()) problems.push_back(path + " missing");
      continue;
    }
    const H5::DataSet ds = g.openDataSet(f->name);
    const auto dims = dims_of(ds);
    if (!type_matches(ds, type_class(f->dtype())))
      problems.push_back(path + " has dtype " + type_name(ds));
    const int rank = static_cast<int>(dims.size());
    const auto ranks = f->ranks();
    if (std::find(ranks.begin(), ranks.end(), rank) == ranks.end())
      problems.push_back(path + " has rank " + std::to_string(rank));
    if (dims.empty()) continue;
    if (!rows) rows = dims[0];
    if (dims[0] != *rows)
      problems.push_back(path + " has " + std::to_string(dims[0]) + " rows, others " +
                         std::to_string(*rows));
  }
  // The message convention (MinusOne::kPadding).
  if (has_dataset(g, "message") && has_dataset(g, "length")) {
    const H5::DataSet message = g.openDataSet("message"), length = g.openDataSet("length");
    const auto md = dims_of(message), ld = dims_of(length);
    if (md.size() == 2 && ld.size() == 1 && md[0] == ld[0] && md[0] > 0 &&
        type_matches(message, H5T_INTEGER) && type_matches(length, H5T_INTEGER))
      validate_messages(message, length, md[0], where, problems);
  }
  if (g.nameExists("cic")) validate_cic(g, where, rows.value_or(0), problems);
}

}  // namespace

std::vector<std::string> validate_run_file(const H5::H5File& file) {
  std::vector<std::string> problems;
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
    if (!root.attrExists("format") || read_attr_text(root.openAttribute("format")) != kRunFormat)
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
  section("/matrices", [&] {
    if (has_group(file.openGroup("/"), "matrices"))
      validate_series_group(file.openGroup("/matrices"), "/matrices", problems, /*value_rank=*/3);
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

}  // namespace emcomm
