#include "h5_writer.h"

#include <zlib.h>

#include <algorithm>

#include "../core/errors.h"
#include "../core/parallel_for.h"

namespace cellshard {
namespace h5 {

static Handle utf8_text_type() {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  H5Tset_strpad(t.get(), H5T_STR_NULLTERM);
  return t;
}

// h5py's boolean: an enum of int8 with FALSE = 0 and TRUE = 1.
static Handle bool_type() {
  Handle t(H5Tenum_create(H5T_NATIVE_INT8));
  int8_t no = 0, yes = 1;
  H5Tenum_insert(t.get(), "FALSE", &no);
  H5Tenum_insert(t.get(), "TRUE", &yes);
  return t;
}

Writer::Writer(std::shared_ptr<File> file, int compression)
    : file_(std::move(file)), compression_(std::max(0, std::min(9, compression))) {}

void Writer::fail_write(const std::string& object) const {
  std::string why = last_error_message();
  file_->fail("cannot write '" + object + "'" + (why.empty() ? "" : " (HDF5: " + why + ")"));
}

void Writer::group(const std::string& name, const std::string& encoding_type,
                   const std::string& encoding_version) {
  Handle g(H5Gcreate2(file_->id(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail_write(name);
  if (!encoding_type.empty()) encoding(name, encoding_type, encoding_version);
}

void Writer::encoding(const std::string& object, const std::string& type,
                      const std::string& version) {
  string_attribute(object, "encoding-type", type);
  string_attribute(object, "encoding-version", version);
}

void Writer::attribute(const std::string& object, const std::string& attr, hid_t type,
                       hid_t space, const void* data) {
  Handle a(H5Acreate_by_name(file_->id(), object.c_str(), attr.c_str(), type, space, H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a.get(), type, data) < 0) fail_write(object + "' attribute '" + attr);
}

void Writer::string_attribute(const std::string& object, const std::string& attr,
                              const std::string& value) {
  Handle type = utf8_text_type();
  Handle space(H5Screate(H5S_SCALAR));
  const char* p = value.c_str();
  attribute(object, attr, type.get(), space.get(), &p);
}

void Writer::strings_attribute(const std::string& object, const std::string& attr,
                               const std::vector<std::string>& values) {
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  if (values.empty()) {
    double none = 0;
    attribute(object, attr, H5T_IEEE_F64LE, space.get(), &none);
    return;
  }
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  Handle type = utf8_text_type();
  attribute(object, attr, type.get(), space.get(), ptrs.data());
}

void Writer::int64s_attribute(const std::string& object, const std::string& attr,
                              const std::vector<int64_t>& values) {
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  Handle type(H5Tcopy(H5T_STD_I64LE));
  // Written from native int64 memory; HDF5 converts if the machine is big-endian.
  Handle a(H5Acreate_by_name(file_->id(), object.c_str(), attr.c_str(), type.get(), space.get(),
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a.get(), H5T_NATIVE_INT64, values.data()) < 0)
    fail_write(object + "' attribute '" + attr);
}

void Writer::bool_attribute(const std::string& object, const std::string& attr, bool value) {
  Handle type = bool_type();
  Handle space(H5Screate(H5S_SCALAR));
  int8_t v = value ? 1 : 0;
  attribute(object, attr, type.get(), space.get(), &v);
}

Handle Writer::create_dataset(const std::string& name, hid_t file_type, size_t n,
                              size_t elem_bytes) {
  return create_dataset(name, file_type, std::vector<hsize_t>{hsize_t(n)}, elem_bytes);
}

Handle Writer::create_dataset(const std::string& name, hid_t file_type,
                              const std::vector<hsize_t>& dims, size_t elem_bytes) {
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  Handle plist(H5Pcreate(H5P_DATASET_CREATE));
  size_t total = 1, row_bytes = elem_bytes;
  for (hsize_t d : dims) total *= size_t(d);
  for (size_t k = 1; k < dims.size(); ++k) row_bytes *= size_t(dims[k]);
  if (compression_ > 0 && total > 0) {
    // About 1 MiB per chunk: large enough for gzip, small enough for slicing.
    // Chunks hold whole rows (of the trailing dimensions), so a slice of rows
    // (cells of obsm) reads only its chunks.
    std::vector<hsize_t> chunk(dims);
    chunk[0] = std::min<hsize_t>(dims[0], std::max<size_t>(1, (size_t(1) << 20) / row_bytes));
    H5Pset_chunk(plist.get(), int(chunk.size()), chunk.data());
    H5Pset_deflate(plist.get(), unsigned(compression_));
  }
  Handle d(H5Dcreate2(file_->id(), name.c_str(), file_type, space.get(), H5P_DEFAULT, plist.get(),
                      H5P_DEFAULT));
  if (!d.valid()) fail_write(name);
  return d;
}

// The little-endian file type matching a native number type (as h5py writes).
template <class T> static hid_t file_type_of();
template <> hid_t file_type_of<int8_t>() { return H5T_STD_I8LE; }
template <> hid_t file_type_of<int16_t>() { return H5T_STD_I16LE; }
template <> hid_t file_type_of<int32_t>() { return H5T_STD_I32LE; }
template <> hid_t file_type_of<int64_t>() { return H5T_STD_I64LE; }
template <> hid_t file_type_of<float>() { return H5T_IEEE_F32LE; }
template <> hid_t file_type_of<double>() { return H5T_IEEE_F64LE; }

template <class T>
void Writer::create(const std::string& name, size_t n) {
  create_dataset(name, file_type_of<T>(), n, sizeof(T));
}

// Entries [offset, offset + n) of the open 1-D dataset `d` through HDF5's
// own write (its filters, its chunk cache).
template <class T>
static bool write_through_hdf5(hid_t d, const T* data, hsize_t offset, hsize_t n) {
  if (n == 0) return true;
  Handle fspace(H5Dget_space(d));
  Handle mspace(H5Screate_simple(1, &n, nullptr));
  return fspace.valid() &&
         H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &offset, nullptr, &n, nullptr) >= 0 &&
         H5Dwrite(d, native_type<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, data) >= 0;
}

// Entries per chunk of a 1-D dataset stored in chunks that HDF5 deflates, or
// 0 for any other storage.
static hsize_t deflated_chunk_entries(hid_t d) {
  Handle plist(H5Dget_create_plist(d));
  if (!plist.valid()) return 0;
  const ChunkLayout c = chunk_layout(plist.get());
  return c.deflate_only ? c.entries : 0;
}

template <class T>
void Writer::write_range(const std::string& name, const T* data, size_t offset, size_t n) {
  if (n == 0) return;
  Handle d(H5Dopen2(file_->id(), name.c_str(), H5P_DEFAULT));
  if (!d.valid()) fail_write(name);
  // The chunks that the range covers whole are deflated on host threads (as
  // HDF5's filter would, with zlib at the same level) and written as they
  // are; HDF5 deflates on one thread, 0.04 GB/s of matrix on the GPU machine.
  // The partial chunks at either end, and the dataset's last chunk when it is
  // short, go through HDF5.
  const hsize_t chunk = compression_ > 0 ? deflated_chunk_entries(d.get()) : 0;
  Handle space(H5Dget_space(d.get()));
  hsize_t length = 0;
  if (!space.valid() || H5Sget_simple_extent_dims(space.get(), &length, nullptr) != 1)
    fail_write(name);
  const hsize_t end = hsize_t(offset + n);
  const hsize_t first = chunk ? (hsize_t(offset) + chunk - 1) / chunk : 0;
  const hsize_t last = chunk ? std::min(end, length - length % chunk) / chunk : 0;  // exclusive
  if (last <= first) {  // no whole chunk
    if (!write_through_hdf5(d.get(), data, hsize_t(offset), hsize_t(n))) fail_write(name);
    return;
  }
  const hsize_t head_end = first * chunk, tail_start = last * chunk;
  if (!write_through_hdf5(d.get(), data, hsize_t(offset), head_end - hsize_t(offset)) ||
      !write_through_hdf5(d.get(), data + (tail_start - offset), tail_start, end - tail_start))
    fail_write(name);
  const size_t chunk_bytes = size_t(chunk) * sizeof(T);
  const size_t n_chunks = size_t(last - first);
  // A batch of chunks at a time keeps the compressed copies small.
  const size_t batch = std::max<size_t>(1, size_t(4) * host_threads());
  std::vector<std::vector<Bytef>> packed(std::min(batch, n_chunks));
  std::vector<int> status(packed.size());
  for (size_t b0 = 0; b0 < n_chunks; b0 += batch) {
    const size_t b1 = std::min(n_chunks, b0 + batch);
    parallel_for(b1 - b0, [&](size_t i) {
      const Bytef* src = reinterpret_cast<const Bytef*>(data + ((first + b0 + i) * chunk - offset));
      std::vector<Bytef>& out = packed[i];
      out.resize(compressBound(uLong(chunk_bytes)));
      uLongf size = uLongf(out.size());
      status[i] = compress2(out.data(), &size, src, uLong(chunk_bytes), compression_);
      out.resize(size);
    });
    for (size_t i = 0; i < b1 - b0; ++i) {
      const hsize_t at = (first + b0 + i) * chunk;
      if (status[i] != Z_OK ||
          H5Dwrite_chunk(d.get(), H5P_DEFAULT, 0, &at, packed[i].size(), packed[i].data()) < 0)
        fail_write(name);
    }
  }
}

template <class T>
void Writer::numbers(const std::string& name, const T* data, size_t n) {
  Handle d = create_dataset(name, file_type_of<T>(), n, sizeof(T));
  if (n > 0 && H5Dwrite(d.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail_write(name);
}

void Writer::matrix(const std::string& name, const double* data, size_t rows, size_t cols) {
  Handle d = create_dataset(name, H5T_IEEE_F64LE, {hsize_t(rows), hsize_t(cols)}, sizeof(double));
  if (rows * cols > 0 && H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail_write(name);
}

void Writer::booleans(const std::string& name, const std::vector<uint8_t>& values) {
  Handle type = bool_type();
  Handle d = create_dataset(name, type.get(), values.size(), 1);
  std::vector<int8_t> v(values.begin(), values.end());
  for (auto& x : v) x = x != 0;
  if (!v.empty() && H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
    fail_write(name);
}

void Writer::strings(const std::string& name, const std::vector<std::string>& values) {
  Handle type = utf8_text_type();
  Handle d = create_dataset(name, type.get(), values.size(), 16);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!ptrs.empty() && H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail_write(name);
}

#define CS_H5_WRITER_INSTANTIATE(T)                                                   \
  template void Writer::numbers<T>(const std::string&, const T*, size_t);            \
  template void Writer::create<T>(const std::string&, size_t);                        \
  template void Writer::write_range<T>(const std::string&, const T*, size_t, size_t);
CS_H5_WRITER_INSTANTIATE(int8_t)
CS_H5_WRITER_INSTANTIATE(int16_t)
CS_H5_WRITER_INSTANTIATE(int32_t)
CS_H5_WRITER_INSTANTIATE(int64_t)
CS_H5_WRITER_INSTANTIATE(float)
CS_H5_WRITER_INSTANTIATE(double)
#undef CS_H5_WRITER_INSTANTIATE

}  // namespace h5
}  // namespace cellshard
