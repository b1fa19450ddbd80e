// An open HDF5 file and the groups and datasets in it. Every failure throws
// cellshard::Error "<who>: <path>: <what>", naming the object and what was
// expected, so a user can tell which file is broken and how.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "h5_handle.h"

namespace cellshard {
namespace h5 {

class File;
class Group;
class Dataset;
struct DirectPlan;  // h5_direct_read.h

// What a name in a file refers to.
enum class Kind { Missing, Group, Dataset, Other };

// The element type of a dataset or attribute, as far as the readers care.
struct TypeInfo {
  H5T_class_t type_class = H5T_NO_CLASS;
  size_t size = 0;             // bytes per element (fixed-length strings: the length)
  bool is_signed = false;      // integers, and the base type of enums
  bool variable_string = false;
  // "int32", "uint8", "float64", "bool", "string", "compound", ...
  std::string describe() const;
  bool is_integer() const;     // integers and integer-based enums (booleans)
  bool is_number() const;      // is_integer() or float
  bool is_string() const { return type_class == H5T_STRING; }
};

// Describes the type behind a datatype identifier.
TypeInfo describe_type(hid_t type);

// Base for groups and datasets: the file they belong to, their full name, and
// their attributes.
class Object {
 public:
  const std::string& name() const { return name_; }
  hid_t id() const { return handle_.get(); }
  const File& file() const { return *file_; }
  // Throws "<who>: <path>: <what>".
  [[noreturn]] void fail(const std::string& what) const;

  bool has_attribute(const std::string& attr) const;
  // A string attribute (scalar or one-element array); fails if absent or not text.
  std::string string_attribute(const std::string& attr) const;
  // A string attribute of any length (an empty numeric array reads as none).
  std::vector<std::string> strings_attribute(const std::string& attr) const;
  // An integer attribute of any length (converted to int64).
  std::vector<int64_t> ints_attribute(const std::string& attr) const;
  // A scalar boolean (h5py's enum of int8) or integer attribute.
  bool bool_attribute(const std::string& attr) const;
  // anndata's "encoding-type" attribute, or "" when the object has none.
  std::string encoding_type() const;

 protected:
  Object(std::shared_ptr<const File> file, std::string name, Handle handle)
      : file_(std::move(file)), name_(std::move(name)), handle_(std::move(handle)) {}
  Handle open_attribute(const std::string& attr) const;
  // Fails if the object's header is damaged (see h5_header_check.h); once.
  void check_header() const;

  std::shared_ptr<const File> file_;
  std::string name_;
  Handle handle_;
  mutable bool header_checked_ = false;
};

class Group : public Object {
 public:
  // Names of the links directly in this group, in creation or name order.
  std::vector<std::string> members() const;

 private:
  friend class File;
  using Object::Object;
};

class Dataset : public Object {
 public:
  const std::vector<hsize_t>& dims() const { return dims_; }
  int rank() const { return int(dims_.size()); }
  const TypeInfo& type() const { return type_; }
  // Entries of a 1-D dataset; fails for other ranks.
  int64_t length() const;
  // Fails unless the elements are numbers (integers only when asked).
  void require_numbers(bool integers_only) const;
  // Fails when the dataset claims far more data than the file stores (a
  // corrupted dataspace), before anything of that size is allocated.
  void check_plausible_size() const;

  // Entries [offset, offset + count) of a 1-D numeric dataset, converted to T
  // (int8 .. int64, uint8 .. uint64, float, double).
  template <class T>
  void read(T* out, hsize_t offset, hsize_t count) const;
  // The whole of a 1-D numeric dataset (after check_plausible_size()).
  template <class T>
  std::vector<T> read_all() const {
    check_plausible_size();
    std::vector<T> v(static_cast<size_t>(length()));
    read(v.data(), 0, v.size());
    return v;
  }
  // Rows [row, row + n) of a 2-D numeric dataset, row-major, converted to T.
  template <class T>
  void read_rows(T* out, hsize_t row, hsize_t n) const;
  // Every entry of a 1-D (or scalar) string dataset, fixed or variable length.
  std::vector<std::string> read_strings() const;

 private:
  friend class File;
  Dataset(std::shared_ptr<const File> file, std::string name, Handle handle);
  void read_block(hid_t mem_type, void* out, const hsize_t* start, const hsize_t* count,
                  int rank) const;
  template <class T>
  void read_converted(T* out, const hsize_t* start, const hsize_t* count, int rank,
                      size_t n) const;

  std::vector<hsize_t> dims_;
  TypeInfo type_;
  // Where the bytes lie, for reads that bypass H5Dread (worked out on first use).
  friend const DirectPlan& direct_plan(const Dataset& ds);
  mutable std::shared_ptr<const DirectPlan> direct_;
};

class File : public std::enable_shared_from_this<File> {
 public:
  // Opens an existing file read-only. `who` starts every message ("readH5AD").
  static std::shared_ptr<File> open(const std::string& who, const std::string& path);
  // Creates (truncates) a file for writing; messages name `shown_path` when
  // given (the final name of a file written under a temporary one).
  static std::shared_ptr<File> create(const std::string& who, const std::string& path,
                                      const std::string& shown_path = "");

  const std::string& path() const { return path_; }
  const std::string& who() const { return who_; }
  hid_t id() const { return handle_.get(); }
  [[noreturn]] void fail(const std::string& what) const;

  // What `name` ("X/indptr") is; Missing also when a parent is missing.
  Kind kind(const std::string& name) const;
  bool exists(const std::string& name) const { return kind(name) != Kind::Missing; }
  // Open, failing with "group 'obs' is missing" / "'X' is not a group".
  Group group(const std::string& name) const;
  Dataset dataset(const std::string& name) const;
  // Closes the file now, reporting a failure to flush (for writers).
  void close();

 private:
  File(std::string who, std::string path, Handle handle)
      : who_(std::move(who)), path_(std::move(path)), handle_(std::move(handle)) {}
  std::string who_, path_;
  Handle handle_;
};

// The HDF5 memory type for a C++ number type.
template <class T>
hid_t native_type();

// How a 1-D dataset is chunked, from its creation property list: entries per
// chunk (0 when it is not chunked in one dimension), how many filters its
// chunks pass through (-1 when HDF5 cannot say), and whether there is exactly
// one and it is deflate (gzip).
struct ChunkLayout {
  hsize_t entries = 0;
  int n_filters = -1;
  bool deflate_only = false;
};
ChunkLayout chunk_layout(hid_t dcpl);

}  // namespace h5
}  // namespace cellshard
