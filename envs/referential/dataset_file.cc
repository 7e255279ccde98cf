// The dataset file (docs/dataset-format.md): reader and writer.
#include <H5Cpp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "core/h5_util.h"
#include "envs/referential/dataset.h"

namespace emcomm {
namespace {

constexpr hsize_t kChunkBytes = 256 * 1024;

struct Source {
  std::string path;
  [[noreturn]] void fail(const std::string& problem) const { throw UserError("dataset file '" + path + "' " + problem); }
  [[noreturn]] void bad(const std::string& dataset, const std::string& problem) const {
    fail("dataset '" + dataset + "' " + problem);
  }
};

// Opens `name`, checks its type class and rank; returns its dims.
std::vector<hsize_t> open_checked(const H5::H5File& file, const Source& src, const std::string& name, H5T_class_t cls,
                                  const char* type_text, int rank, H5::DataSet& ds) {
  ds = file.openDataSet(name);
  if (ds.getTypeClass() != cls) src.bad(name, std::string("must hold ") + type_text);
  auto dims = dims_of(ds);
  if (int(dims.size()) != rank)
    src.bad(name, "must have rank " + std::to_string(rank) + ", it is " + dims_text(dims));
  return dims;
}

void check_rows(const Source& src, const std::string& name, hsize_t rows, int64_t n, const std::string& by) {
  if (int64_t(rows) != n)
    src.bad(name, "has " + std::to_string(rows) + " rows but '" + by + "' has " + std::to_string(n) + " (N must agree)");
}

// Strings of a rank-1 string dataset or attribute (variable- or fixed-length).
template <class Obj>
std::vector<std::string> read_strings(const Obj& obj, hsize_t n) {
  const H5::StrType type = obj.getStrType();
  std::vector<std::string> out;
  if (type.isVariableStr()) {
    std::vector<char*> ptrs(n, nullptr);
    H5::StrType mem(H5::PredType::C_S1, H5T_VARIABLE);
    mem.setCset(type.getCset());
    if constexpr (std::is_same_v<Obj, H5::DataSet>) obj.read(ptrs.data(), mem);
    else obj.read(mem, ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5::DataSpace space(1, &n);
    H5Dvlen_reclaim(mem.getId(), space.getId(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = type.getSize();
    std::vector<char> buf(n * len);
    if constexpr (std::is_same_v<Obj, H5::DataSet>) obj.read(buf.data(), type);
    else obj.read(type, buf.data());
    for (hsize_t i = 0; i < n; ++i) {
      const char* p = &buf[i * len];
      out.emplace_back(p, strnlen(p, len));
    }
  }
  return out;
}

Dataset read_file(const H5::H5File& file, const Source& src) {
  const H5::Group root = file.openGroup("/");
  if (!root.attrExists("format")) src.fail(std::string("has no root attribute format='") + kDatasetFormat + "'");
  {
    const H5::Attribute a = root.openAttribute("format");
    std::string format;
    if (a.getTypeClass() == H5T_STRING) a.read(a.getStrType(), format);
    if (format != kDatasetFormat)
      src.fail(std::string("has format '") + format + "', expected '" + kDatasetFormat + "' (is it a dataset file?)");
  }
  if (!root.attrExists("format_version")) src.fail("has no root attribute format_version");
  {
    const H5::Attribute a = root.openAttribute("format_version");
    int64_t v = -1;
    if (a.getTypeClass() != H5T_INTEGER || a.getSpace().getSimpleExtentNpoints() != 1)
      src.fail("has a format_version attribute that is not an integer");
    a.read(H5::PredType::NATIVE_INT64, &v);
    if (v != kDatasetFormatVersion)
      src.fail("has format_version " + std::to_string(v) + "; this emcomm reads version " + std::to_string(kDatasetFormatVersion));
  }
  Dataset ds;
  const bool images = has_dataset(root, "images"), features = has_dataset(root, "features");
  if (images == features)
    src.fail(images ? "has both 'images' and 'features'; a dataset holds exactly one of them"
                    : "has neither an 'images' dataset (uint8 [N,H,W,3]) nor a 'features' dataset (float32 [N,D])");
  H5::DataSet d;
  const std::string objects = images ? "images" : "features";
  if (images) {
    auto dims = open_checked(file, src, "images", H5T_INTEGER, "uint8 pixels", 4, d);
    if (d.getDataType().getSize() != 1 || d.getIntType().getSign() != H5T_SGN_NONE) src.bad("images", "must be uint8");
    if (dims[3] != 3) src.bad("images", "must be [N,H,W,3] (RGB, channels last), it is " + dims_text(dims));
    if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0) src.bad("images", "is empty: " + dims_text(dims));
    ds.rows = int64_t(dims[0]), ds.height = int64_t(dims[1]), ds.width = int64_t(dims[2]);
    ds.images.resize(dims[0] * dims[1] * dims[2] * 3);
    d.read(ds.images.data(), H5::PredType::NATIVE_UINT8);
  } else {
    auto dims = open_checked(file, src, "features", H5T_FLOAT, "floating-point values (float32)", 2, d);
    if (dims[0] == 0 || dims[1] == 0) src.bad("features", "is empty: " + dims_text(dims));
    ds.rows = int64_t(dims[0]), ds.feature_dim = int64_t(dims[1]);
    ds.features.resize(dims[0] * dims[1]);
    if (d.getDataType().getSize() <= sizeof(float)) {
      d.read(ds.features.data(), H5::PredType::NATIVE_FLOAT);
    } else {  // float64 (h5py's default) or wider: read as float32, refusing values it cannot hold
      std::vector<double> v(ds.features.size());
      d.read(v.data(), H5::PredType::NATIVE_DOUBLE);
      for (size_t i = 0; i < v.size(); ++i) {
        if (std::isfinite(v[i]) && std::fabs(v[i]) > double(std::numeric_limits<float>::max())) {
          std::ostringstream value;
          value << v[i];
          src.bad("features", "row " + std::to_string(i / dims[1]) + " holds " + value.str() +
                                  ", beyond float32's range (features are read as float32)");
        }
        ds.features[i] = float(v[i]);
      }
    }
  }
  if (!has_dataset(root, "split")) src.fail("has no 'split' dataset (uint8 [N]: 0 train, 1 val, 2 test)");
  {
    auto dims = open_checked(file, src, "split", H5T_INTEGER, "integers (uint8: 0 train, 1 val, 2 test)", 1, d);
    check_rows(src, "split", dims[0], ds.rows, objects);
    std::vector<int64_t> v(dims[0]);
    d.read(v.data(), H5::PredType::NATIVE_INT64);
    ds.split.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] < 0 || v[i] > 2)
        src.bad("split", "row " + std::to_string(i) + " is " + std::to_string(v[i]) + "; allowed: 0 train, 1 val, 2 test");
      ds.split[i] = uint8_t(v[i]);
    }
  }
  const bool captions = has_dataset(root, "captions"), vocab = has_dataset(root, "vocab");
  if (captions != vocab) src.fail(captions ? "has 'captions' but no 'vocab'" : "has 'vocab' but no 'captions'");
  if (captions) {
    auto dims = open_checked(file, src, "captions", H5T_INTEGER, "integers (int32 vocabulary ids, -1 padded)", 2, d);
    check_rows(src, "captions", dims[0], ds.rows, objects);
    if (dims[1] == 0) src.bad("captions", "has no columns (L = 0)");
    ds.caption_length = int64_t(dims[1]);
    std::vector<int64_t> v(dims[0] * dims[1]);
    d.read(v.data(), H5::PredType::NATIVE_INT64);
    ds.captions.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] < -1 || v[i] > INT32_MAX)
        src.bad("captions", "row " + std::to_string(i / dims[1]) + " position " + std::to_string(i % dims[1]) + " holds id " +
                                std::to_string(v[i]) + ", outside the vocabulary (-1 only pads after the last word)");
      ds.captions[i] = int32_t(v[i]);
    }
    H5::DataSet vd;
    auto vdims = open_checked(file, src, "vocab", H5T_STRING, "strings", 1, vd);
    ds.vocab = read_strings(vd, vdims[0]);
    if (ds.vocab.empty()) src.bad("vocab", "is empty");
  }
  if (has_dataset(root, "concepts")) {
    auto dims = open_checked(file, src, "concepts", H5T_INTEGER, "integers (int32 attribute values)", 2, d);
    check_rows(src, "concepts", dims[0], ds.rows, objects);
    if (dims[1] == 0) src.bad("concepts", "has no columns (A = 0)");
    ds.attributes = int64_t(dims[1]);
    std::vector<int64_t> v(dims[0] * dims[1]);
    d.read(v.data(), H5::PredType::NATIVE_INT64);
    ds.concepts.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] < 0 || v[i] > INT32_MAX)
        src.bad("concepts", "row " + std::to_string(i / dims[1]) + " holds " + std::to_string(v[i]) + "; values must be in [0, 2^31)");
      ds.concepts[i] = int32_t(v[i]);
    }
    if (d.attrExists("names")) {
      const H5::Attribute a = d.openAttribute("names");
      const hsize_t n = hsize_t(a.getSpace().getSimpleExtentNpoints());
      if (a.getTypeClass() != H5T_STRING || n != dims[1])
        src.bad("concepts", "has a 'names' attribute that is not " + std::to_string(dims[1]) + " strings");
      ds.attribute_names = read_strings(a, n);
    }
  }
  return ds;
}

H5::DSetCreatPropList chunked(const std::vector<hsize_t>& dims, size_t elem_bytes) {
  H5::DSetCreatPropList plist;
  std::vector<hsize_t> chunk = dims;
  hsize_t row_bytes = elem_bytes;
  for (size_t i = 1; i < dims.size(); ++i) row_bytes *= dims[i];
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], kChunkBytes / std::max<hsize_t>(row_bytes, 1)));
  plist.setChunk(int(chunk.size()), chunk.data());
  plist.setShuffle();
  plist.setDeflate(4);
  return plist;
}

void write_array(H5::H5File& f, const std::string& name, const std::vector<hsize_t>& dims, const H5::PredType& file_type,
                 const H5::PredType& mem_type, const void* data) {
  H5::DataSpace space(int(dims.size()), dims.data());
  H5::DataSet ds = f.createDataSet(name, file_type, space, chunked(dims, file_type.getSize()));
  ds.write(data, mem_type);
}

void write_string_attr(H5::H5Object& obj, const std::string& name, const std::string& value) {
  H5::DataSpace scalar(H5S_SCALAR);
  obj.createAttribute(name, utf8_string_type(), scalar).write(utf8_string_type(), value);
}

}  // namespace

Dataset read_dataset(const std::string& path) {
  Source src{path};
  H5::H5File file;
  open_h5_file(file, path, H5F_ACC_RDONLY, [&](const std::string& problem) { src.fail(problem); });
  Dataset ds;
  try {
    ds = read_file(file, src);
  } catch (const H5::Exception& e) {
    src.fail("cannot be read: " + h5_detail(e));
  }
  ds.validate("dataset file '" + path + "'");
  return ds;
}

void write_dataset(const std::string& path, const Dataset& ds) {
  ds.validate("dataset to write to '" + path + "'");
  H5::Exception::dontPrint();
  const std::string tmp = path + ".partial";
  try {
    H5::H5File f(tmp, H5F_ACC_TRUNC);
    H5::Group root = f.openGroup("/");
    write_string_attr(root, "format", kDatasetFormat);
    const int64_t version = kDatasetFormatVersion;
    root.createAttribute("format_version", H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_INT64, &version);
    const hsize_t N = hsize_t(ds.rows);
    if (ds.pixels())
      write_array(f, "images", {N, hsize_t(ds.height), hsize_t(ds.width), 3}, H5::PredType::STD_U8LE,
                  H5::PredType::NATIVE_UINT8, ds.images.data());
    else
      write_array(f, "features", {N, hsize_t(ds.feature_dim)}, H5::PredType::IEEE_F32LE, H5::PredType::NATIVE_FLOAT,
                  ds.features.data());
    write_array(f, "split", {N}, H5::PredType::STD_U8LE, H5::PredType::NATIVE_UINT8, ds.split.data());
    H5::DataSet split = f.openDataSet("split");
    write_string_attr(split, "encoding", "0=train,1=val,2=test");
    if (ds.has_captions()) {
      write_array(f, "captions", {N, hsize_t(ds.caption_length)}, H5::PredType::STD_I32LE, H5::PredType::NATIVE_INT32,
                  ds.captions.data());
      std::vector<const char*> words;
      for (const auto& w : ds.vocab) words.push_back(w.c_str());
      const hsize_t V = words.size();
      f.createDataSet("vocab", utf8_string_type(), H5::DataSpace(1, &V)).write(words.data(), utf8_string_type());
    }
    if (ds.has_concepts()) {
      write_array(f, "concepts", {N, hsize_t(ds.attributes)}, H5::PredType::STD_I32LE, H5::PredType::NATIVE_INT32,
                  ds.concepts.data());
      if (!ds.attribute_names.empty()) {
        std::vector<const char*> names;
        for (const auto& n : ds.attribute_names) names.push_back(n.c_str());
        const hsize_t A = names.size();
        f.openDataSet("concepts").createAttribute("names", utf8_string_type(), H5::DataSpace(1, &A)).write(utf8_string_type(), names.data());
      }
    }
    f.close();
  } catch (const H5::Exception& e) {
    std::remove(tmp.c_str());
    throw UserError("cannot write dataset file '" + path + "': " + h5_detail(e));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw UserError("cannot write dataset file '" + path + "': " + ec.message());
  }
}

}  // namespace emcomm
