#include "h5_rows_source.h"

#include <algorithm>

#include "../core/errors.h"
#include "csr_canonical.h"

namespace cellshard {

H5RowsSource::H5RowsSource(std::shared_ptr<const CompressedArrays> arrays, int64_t first_row,
                           int64_t n_rows, int64_t nnz)
    : arrays_(std::move(arrays)), first_(first_row), n_(n_rows), nnz_(nnz) {}

void H5RowsSource::read(int32_t* indices, float* values) const {
  const CompressedArrays& a = *arrays_;
  const int64_t lo = a.indptr[size_t(first_)], hi = a.indptr[size_t(first_ + n_)];
  std::vector<int64_t> ptr(size_t(n_) + 1);
  for (int64_t r = 0; r <= n_; ++r) ptr[size_t(r)] = a.indptr[size_t(first_ + r)] - lo;
  // The usual file (no duplicate entries) reads straight into the caller's arrays.
  if (hi - lo == nnz_) {
    if (!read_compressed_range(a, lo, hi, first_, ptr, indices, values))
      canonicalize_rows(ptr, indices, values);
    if (ptr.back() != nnz_) throw_changed(ptr.back());
    return;
  }
  std::vector<int32_t> i(size_t(hi - lo));
  std::vector<float> v(size_t(hi - lo));
  if (!read_compressed_range(a, lo, hi, first_, ptr, i.data(), v.data()))
    canonicalize_rows(ptr, i.data(), v.data());
  if (ptr.back() != nnz_) throw_changed(ptr.back());
  std::copy(i.begin(), i.begin() + nnz_, indices);
  std::copy(v.begin(), v.begin() + nnz_, values);
}

// The file changed since it was read (another program wrote it): refuse
// rather than hand the kernels arrays of the wrong size.
void H5RowsSource::throw_changed(int64_t entries) const {
  throw Error(describe() + " now holds " + std::to_string(entries) + " entries, not the " +
              std::to_string(nnz_) + " read before: the file changed since it was opened; "
              "read it again");
}

std::string H5RowsSource::describe() const {
  return "cells " + std::to_string(first_ + 1) + "-" + std::to_string(first_ + n_) + " of '" +
         arrays_->group + "' in " + arrays_->file->path();
}

}  // namespace cellshard
