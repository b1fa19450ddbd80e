#include "host_csr_assembly.h"

#include "csr_canonical.h"

namespace cellshard {

HostCsr csr_from_coordinates(int64_t n_rows, int64_t n_cols, std::vector<int32_t>& rows,
                             std::vector<int32_t>& cols, std::vector<float>& values) {
  HostCsr csr;
  csr.n_rows = n_rows;
  csr.n_cols = n_cols;
  csr.indptr.assign(size_t(n_rows) + 1, 0);
  for (int32_t r : rows) ++csr.indptr[size_t(r) + 1];
  for (int64_t r = 0; r < n_rows; ++r) csr.indptr[size_t(r + 1)] += csr.indptr[size_t(r)];
  size_t nnz = rows.size();
  csr.indices.resize(nnz);
  csr.values.resize(nnz);
  std::vector<int64_t> next(csr.indptr.begin(), csr.indptr.end() - 1);
  for (size_t k = 0; k < nnz; ++k) {
    int64_t at = next[size_t(rows[k])]++;
    csr.indices[size_t(at)] = cols[k];
    csr.values[size_t(at)] = values[k];
  }
  std::vector<int32_t>().swap(rows);
  std::vector<int32_t>().swap(cols);
  std::vector<float>().swap(values);
  canonicalize_rows(csr.indptr, csr.indices.data(), csr.values.data());
  csr.indices.resize(size_t(csr.indptr.back()));
  csr.values.resize(size_t(csr.indptr.back()));
  return csr;
}

}  // namespace cellshard
