// Reading numbers and text out of datasets, by hyperslab, with HDF5 doing the
// type conversion (any integer or float type into the C type asked for).
#include <cstring>

#include "../core/errors.h"
#include "h5_direct_read.h"
#include "h5_file.h"
#include "h5_strings.h"
#include "h5_vlen_strings.h"

namespace cellshard {
namespace h5 {

template <> hid_t native_type<int8_t>() { return H5T_NATIVE_INT8; }
template <> hid_t native_type<int16_t>() { return H5T_NATIVE_INT16; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<uint16_t>() { return H5T_NATIVE_UINT16; }
template <> hid_t native_type<uint32_t>() { return H5T_NATIVE_UINT32; }
template <> hid_t native_type<uint64_t>() { return H5T_NATIVE_UINT64; }
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

ChunkLayout chunk_layout(hid_t dcpl) {
  ChunkLayout c;
  hsize_t dim = 0;
  if (H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_chunk(dcpl, 1, &dim) != 1) return c;
  c.entries = dim;
  c.n_filters = H5Pget_nfilters(dcpl);
  if (c.n_filters == 1) {
    unsigned flags = 0, config = 0;
    size_t n_values = 0;
    char name[64];
    c.deflate_only = H5Pget_filter2(dcpl, 0, &flags, &n_values, nullptr, sizeof name, name,
                                    &config) == H5Z_FILTER_DEFLATE;
  }
  return c;
}

Dataset::Dataset(std::shared_ptr<const File> file, std::string name, Handle handle)
    : Object(std::move(file), std::move(name), std::move(handle)) {
  Handle space(H5Dget_space(id()));
  int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0 || rank > 32) fail("cannot read the shape of dataset '" + name_ + "'");
  dims_.resize(size_t(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims_.data(), nullptr) < 0)
    fail("cannot read the shape of dataset '" + name_ + "'");
  Handle type(H5Dget_type(id()));
  if (!type.valid()) fail("cannot read the type of dataset '" + name_ + "'");
  type_ = describe_type(type.get());
}

int64_t Dataset::length() const {
  if (rank() != 1)
    fail("dataset '" + name_ + "' should be one-dimensional, but has " + std::to_string(rank()) +
         " dimensions");
  if (dims_[0] > hsize_t(INT64_MAX)) fail("dataset '" + name_ + "' has an impossible length");
  return int64_t(dims_[0]);
}

void Dataset::require_numbers(bool integers_only) const {
  bool ok = integers_only ? type_.is_integer() : type_.is_number();
  if (!ok)
    fail("dataset '" + name_ + "' holds " + type_.describe() + ", expected " +
         (integers_only ? "integers" : "numbers"));
}

void Dataset::check_plausible_size() const {
  double elements = 1;
  for (hsize_t d : dims_) elements *= double(d);
  double elem = type_.variable_string ? 16.0 : double(type_.size);
  double claimed = elements * elem;
  double stored = double(H5Dget_storage_size(id()));
  // Compression rarely exceeds ~1000x (gzip's limit); anything far beyond,
  // above a small allowance, is a corrupted dataspace, not real data.
  if (claimed > double(64u << 20) && claimed > 4096.0 * stored)
    fail("dataset '" + name_ + "' claims " + std::to_string(int64_t(elements)) +
         " entries but the file stores only " + format_bytes(stored) + " for it (corrupt file?)");
}

void Dataset::read_block(hid_t mem_type, void* out, const hsize_t* start, const hsize_t* count,
                         int rank) const {
  for (int d = 0; d < rank; ++d)
    if (start[d] + count[d] < start[d] || start[d] + count[d] > dims_[size_t(d)])
      fail("internal: read past the end of dataset '" + name_ + "'");
  Handle file_space(H5Dget_space(id()));
  Handle mem_space(H5Screate_simple(rank, count, nullptr));
  if (!file_space.valid() || !mem_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0)
    fail("cannot select a range of dataset '" + name_ + "'");
  if (H5Dread(id(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out) < 0) {
    std::string why = last_error_message();
    fail("cannot read dataset '" + name_ + "' (HDF5: " + (why.empty() ? "read failed" : why) +
         "; truncated or corrupt file?)");
  }
}

template <class T>
void Dataset::read_converted(T* out, const hsize_t* start, const hsize_t* count, int rank,
                             size_t n) const {
  if (!type_.is_number())
    fail("dataset '" + name_ + "' holds " + type_.describe() + ", expected numbers");
  if (n == 0) return;
  if (type_.type_class == H5T_ENUM) {
    // Enums (h5py's booleans) are read as their raw integers, then converted.
    Handle file_type(H5Dget_type(id()));
    Handle mem(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND));
    if (!mem.valid()) fail("cannot read the type of dataset '" + name_ + "'");
    std::vector<unsigned char> raw(n * type_.size);
    read_block(mem.get(), raw.data(), start, count, rank);
    convert_raw_integers(raw.data(), n, type_.size, type_.is_signed, out);
    return;
  }
  read_block(native_type<T>(), out, start, count, rank);
}

template <class T>
void Dataset::read(T* out, hsize_t offset, hsize_t count) const {
  length();  // checks the rank
  if (read_direct(*this, out, offset, count)) return;
  hsize_t start[1] = {offset}, cnt[1] = {count};
  read_converted(out, start, cnt, 1, size_t(count));
}

template <class T>
void Dataset::read_rows(T* out, hsize_t row, hsize_t n) const {
  if (rank() != 2)
    fail("dataset '" + name_ + "' should be two-dimensional, but has " + std::to_string(rank()) +
         " dimensions");
  hsize_t start[2] = {row, 0}, cnt[2] = {n, dims_[1]};
  read_converted(out, start, cnt, 2, size_t(n * dims_[1]));
}

std::vector<std::string> Dataset::read_strings() const {
  if (!type_.is_string())
    fail("dataset '" + name_ + "' holds " + type_.describe() + ", expected text");
  if (rank() > 1) fail("dataset '" + name_ + "' should be a one-dimensional array of text");
  check_plausible_size();
  size_t n = rank() == 0 ? 1 : size_t(dims_[0]);
  std::vector<std::string> out;
  if (read_vlen_strings_checked(*this, &out)) return out;
  Handle file_type(H5Dget_type(id()));
  auto read = [&](hid_t mem, void* buf) {
    return H5Dread(id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  if (!read_string_elements(file_type.get(), n, read, &out))
    fail("cannot read the text of dataset '" + name_ + "' (HDF5: " + last_error_message() + ")");
  return out;
}

#define CS_H5_INSTANTIATE(T)                                                  \
  template void Dataset::read<T>(T*, hsize_t, hsize_t) const;                 \
  template void Dataset::read_rows<T>(T*, hsize_t, hsize_t) const;
CS_H5_INSTANTIATE(int8_t)
CS_H5_INSTANTIATE(int16_t)
CS_H5_INSTANTIATE(int32_t)
CS_H5_INSTANTIATE(int64_t)
CS_H5_INSTANTIATE(uint8_t)
CS_H5_INSTANTIATE(uint16_t)
CS_H5_INSTANTIATE(uint32_t)
CS_H5_INSTANTIATE(uint64_t)
CS_H5_INSTANTIATE(float)
CS_H5_INSTANTIATE(double)
#undef CS_H5_INSTANTIATE

}  // namespace h5
}  // namespace cellshard
