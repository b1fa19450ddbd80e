// Blocks of CSR rows written out densely in float64, for the kernels that
// hand the arithmetic to cuBLAS (the Gram matrix, and the projection onto
// the principal axes when the rows are dense enough).
#pragma once
#include <cstdint>

#include "../core/backend.h"
#include "device_context.h"

namespace cellshard {

// Rows per dense block of a shard: about 1 GiB of float64, at least one row.
int64_t dense_block_rows(const CsrView& a);

// Writes rows [r0, r0 + rows) of `a` into `dense` (rows x n_cols, row-major,
// i.e. a column-major n_cols x rows matrix), zeros included. Queued on ctx's stream.
void densify_rows(const DeviceContext& ctx, const CsrView& a, const float* values, int64_t r0,
                  int64_t rows, double* dense);

}  // namespace cellshard
