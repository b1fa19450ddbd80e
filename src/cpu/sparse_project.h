// X * V for one CSR shard on the host (the cells' principal component
// scores), multithreaded over cells.
#pragma once
#include <cstdint>

#include "../core/backend.h"

namespace cellshard {

// out = X * V + 1 shift^T: V is n_cols x k (column-major), shift k entries or
// null, out n_rows x k column-major with leading dimension ld_out. Each
// product is exact in float64 and each out[r, j] a sequential float64 sum
// over the row's values in index order: the GPU's kernel, bit for bit.
void sparse_project(const CsrView& a, const float* values, const float* v, int k,
                    const double* shift, double* out, int64_t ld_out);

}  // namespace cellshard
