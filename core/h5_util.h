// Small HDF5 helpers shared by the run file (core/run_*.cc) and the dataset file
// (envs/referential/dataset_file.cc).
#pragma once

#include <H5Cpp.h>

#include <functional>
#include <string>
#include <vector>

namespace emcomm {

// Variable-length UTF-8 strings.
H5::StrType utf8_string_type();
// What went wrong in an HDF5 call: the exception's function and message plus the most specific
// message on HDF5's error stack. Must be called right after the failing call.
std::string h5_detail(const H5::Exception& e);
bool has_child(const H5::Group& g, const std::string& name, H5O_type_t type);
bool has_dataset(const H5::Group& g, const std::string& name);
std::vector<hsize_t> dims_of(const H5::DataSet& ds);
std::string dims_text(const std::vector<hsize_t>& dims);  // "[3, 4]"
// Opens an existing HDF5 file (H5F_ACC_RDONLY or H5F_ACC_RDWR). Each problem (missing, not a
// regular file, not HDF5, locked, unwritable, corrupt) is reported by calling `fail` with a
// phrase that completes "<kind> '<path>' ..."; `fail` must throw.
void open_h5_file(H5::H5File& file, const std::string& path, unsigned flags,
                  const std::function<void(const std::string&)>& fail);

}  // namespace emcomm
