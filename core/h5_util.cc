#include "core/h5_util.h"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace emcomm {
namespace {

// The most specific message on HDF5's error stack (e.g. "unable to lock file, errno = 11"),
// or "" when the stack is empty. Must be called right after the failing call.
std::string innermost_h5_error() {
  std::string innermost;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* err, void* out) -> herr_t {
        if (err->desc && *err->desc) *static_cast<std::string*>(out) = err->desc;
        return 0;
      },
      &innermost);
  return innermost;
}

}  // namespace

H5::StrType utf8_string_type() {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  return type;
}

std::string h5_detail(const H5::Exception& e) {
  const std::string func = e.getFuncName();
  std::string detail = e.getDetailMsg();
  const std::string cause = innermost_h5_error();
  if (!cause.empty() && cause != detail) detail += " (" + cause + ")";
  return func.empty() ? detail : func + ": " + detail;
}

bool has_child(const H5::Group& g, const std::string& name, H5O_type_t type) {
  return g.nameExists(name) && g.childObjType(name) == type;
}

bool has_dataset(const H5::Group& g, const std::string& name) {
  return has_child(g, name, H5O_TYPE_DATASET);
}

std::string dims_text(const std::vector<hsize_t>& dims) {
  std::string out;
  for (hsize_t d : dims) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return "[" + out + "]";
}

std::vector<hsize_t> dims_of(const H5::DataSet& ds) {
  const H5::DataSpace space = ds.getSpace();
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(space.getSimpleExtentNdims(), 0)));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  return dims;
}

void open_h5_file(H5::H5File& file, const std::string& path, unsigned flags,
                  const std::function<void(const std::string&)>& fail) {
  H5::Exception::dontPrint();
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("does not exist");
  if (!fs::is_regular_file(path, ec)) fail("is not a regular file");
#if H5_VERSION_GE(1, 12, 0)
  const htri_t is_hdf5 = H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
#endif
  if (is_hdf5 <= 0) fail("is not an HDF5 file");
  try {
    file.openFile(path, flags);
  } catch (const H5::Exception& e) {
    const std::string detail = h5_detail(e);
    if (detail.find("unable to lock file") != std::string::npos) {
      if (flags == H5F_ACC_RDWR)
        fail("is locked by another process that has it open (a run still writing it, or a reader); "
             "it can be written once that process closes it: " + detail);
      fail("is locked, probably by a run still writing it (set HDF5_USE_FILE_LOCKING=FALSE to read it anyway): " +
           detail);
    }
    if (flags == H5F_ACC_RDWR && (detail.find("ermission denied") != std::string::npos ||
                                  detail.find("errno = 13") != std::string::npos))
      fail("cannot be opened for writing (permission denied): " + detail);
    fail("is an HDF5 file that cannot be opened (truncated or corrupt?): " + detail);
  }
}

}  // namespace emcomm
