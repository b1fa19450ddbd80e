#include "row_share.h"

#include "../core/errors.h"

namespace cellshard {

RowRange share_rows(const RowShare& share, int64_t n_rows, const std::vector<int64_t>* prefix,
                    const std::string& who) {
  if (share.count >= 0) {
    if (share.first < 0 || share.first + share.count > n_rows)
      throw Error(who + ": cells " + std::to_string(share.first + 1) + ".." +
                  std::to_string(share.first + share.count) + " asked for, but the matrix has " +
                  std::to_string(n_rows));
    return {share.first, share.count};
  }
  CS_CHECK(share.parts >= 1 && share.part >= 0 && share.part < share.parts,
           "internal: bad share of the cells");
  if (share.parts == 1) return {0, n_rows};
  if (n_rows < share.parts)
    throw Error(who + ": the matrix has " + std::to_string(n_rows) + " cells, fewer than the " +
                std::to_string(share.parts) + " MPI ranks; every rank needs at least one cell");
  const std::vector<int> one_device(1, kHost);
  Placement p = prefix ? balanced_placement(*prefix, one_device, size_t(share.parts))
                       : even_placement(n_rows, one_device, size_t(share.parts));
  RowRange r;
  for (int k = 0; k < share.part; ++k) r.first += p.rows[size_t(k)];
  r.count = p.rows[size_t(share.part)];
  return r;
}

HostCsr slice_rows(HostCsr csr, const RowRange& range) {
  CS_CHECK(range.first >= 0 && range.first + range.count <= csr.n_rows, "internal: rows out of range");
  if (range.first == 0 && range.count == csr.n_rows) return csr;
  HostCsr out;
  out.n_rows = range.count;
  out.n_cols = csr.n_cols;
  const int64_t lo = csr.indptr[size_t(range.first)];
  const int64_t hi = csr.indptr[size_t(range.first + range.count)];
  out.indptr.resize(size_t(range.count) + 1);
  for (int64_t r = 0; r <= range.count; ++r)
    out.indptr[size_t(r)] = csr.indptr[size_t(range.first + r)] - lo;
  out.indices.assign(csr.indices.begin() + lo, csr.indices.begin() + hi);
  out.values.assign(csr.values.begin() + lo, csr.values.begin() + hi);
  return out;
}

}  // namespace cellshard
