// Row statistics of one CSR shard on a GPU (see Backend::row_stats): device
// inputs, host outputs.
#pragma once
#include "../core/backend.h"

namespace cellshard {

// Per-row sum and count of values > 0, written to host arrays of a.n_rows.
void row_stats_on_device(const CsrView& a, const float* values, AxisStats out);

}  // namespace cellshard
