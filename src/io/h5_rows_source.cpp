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
  std::vector<int32_t> i;
  std::vector<float> v;
  read_compressed_range(a, lo, hi, first_, ptr, &i, &v);
  canonicalize_rows(ptr, i, v);
  // The file changed since it was read (another program wrote it): refuse
  // rather than hand the kernels arrays of the wrong size.
  if (int64_t(i.size()) != nnz_)
    throw Error(describe() + " now holds " + std::to_string(i.size()) + " entries, not the " +
                std::to_string(nnz_) + " read before: the file changed since it was opened; "
                "read it again");
  std::copy(i.begin(), i.end(), indices);
  std::copy(v.begin(), v.end(), values);
}

std::string H5RowsSource::describe() const {
  return "cells " + std::to_string(first_ + 1) + "-" + std::to_string(first_ + n_) + " of '" +
         arrays_->group + "' in " + arrays_->file->path();
}

}  // namespace cellshard
