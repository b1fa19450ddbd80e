// The per-cell pass of QC on a GPU: one read of each row gives its sum, its
// count of values > 0 and its sums over gene subsets. Backend::row_stats,
// PipelineKernels::row_subset_sums and PipelineKernels::row_qc all run it.
#pragma once
#include <cstdint>

#include "../core/backend.h"

namespace cellshard {

// For each row r of the shard: stats.sums[r], stats.n_positive[r] (host;
// skipped when stats.sums is null) and subset_sums[k * n_rows + r] (host,
// k < n_subsets; gene_bits is host, n_cols, bit k: gene in subset k).
// Sums are float64: the row sum adds each lane's stride of the row, then the
// lanes as a tree; a subset sum adds the row's values in order, as the host does.
void row_qc_on_device(const CsrView& a, const float* values, const uint32_t* gene_bits,
                      int n_subsets, AxisStats stats, double* subset_sums);

}  // namespace cellshard
