// X^T X of one CSR shard on the host, multithreaded.
#pragma once
#include "../core/backend.h"

namespace cellshard {

// Adds X^T X (n_cols x n_cols, column-major, float64) of the shard into
// `gram`, which must be symmetric (zeros or earlier shards' sums): both
// triangles are updated. Each entry adds its cells in order, so the result
// does not depend on the number of threads.
void sparse_gram(const CsrView& a, const float* values, double* gram);

}  // namespace cellshard
