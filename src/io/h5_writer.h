// Writing groups, datasets and attributes the way h5py / anndata write them
// (variable-length UTF-8 text, booleans as h5py's enum of int8), with every
// failure reported as "<who>: <path>: cannot write '<object>' (HDF5: ...)".
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "h5_file.h"

namespace cellshard {
namespace h5 {

class Writer {
 public:
  // `compression`: gzip level 1..9 for datasets, 0 for none.
  Writer(std::shared_ptr<File> file, int compression);
  const File& file() const { return *file_; }

  // A new group; with an anndata encoding when `encoding_type` is not empty.
  void group(const std::string& name, const std::string& encoding_type = "",
             const std::string& encoding_version = "");
  // anndata's encoding-type / encoding-version attributes on an existing object.
  void encoding(const std::string& object, const std::string& type, const std::string& version);

  void string_attribute(const std::string& object, const std::string& attr,
                        const std::string& value);
  // An array of text; an empty array is written as float64[0], as anndata does.
  void strings_attribute(const std::string& object, const std::string& attr,
                         const std::vector<std::string>& values);
  void int64s_attribute(const std::string& object, const std::string& attr,
                        const std::vector<int64_t>& values);
  void bool_attribute(const std::string& object, const std::string& attr, bool value);

  // A 1-D dataset of n entries of T (int8/16/32/64, float, double), written whole.
  template <class T>
  void numbers(const std::string& name, const T* data, size_t n);
  // A 2-D float64 dataset of rows x cols, from row-major values (numpy's C
  // order, as anndata writes obsm / varm arrays).
  void matrix(const std::string& name, const double* data, size_t rows, size_t cols);
  // A 1-D dataset of booleans (h5py's enum), from 0/1 bytes.
  void booleans(const std::string& name, const std::vector<uint8_t>& values);
  // A 1-D dataset of variable-length UTF-8 text.
  void strings(const std::string& name, const std::vector<std::string>& values);

  // For streaming: create a 1-D dataset of n entries of T, then fill ranges.
  template <class T>
  void create(const std::string& name, size_t n);
  template <class T>
  void write_range(const std::string& name, const T* data, size_t offset, size_t n);

 private:
  [[noreturn]] void fail_write(const std::string& object) const;
  Handle create_dataset(const std::string& name, hid_t file_type, size_t n, size_t elem_bytes);
  // Any rank; chunks of whole trailing rows, about 1 MiB each, when compressed.
  Handle create_dataset(const std::string& name, hid_t file_type,
                        const std::vector<hsize_t>& dims, size_t elem_bytes);
  void attribute(const std::string& object, const std::string& attr, hid_t type, hid_t space,
                 const void* data);

  std::shared_ptr<File> file_;
  int compression_;
};

}  // namespace h5
}  // namespace cellshard
