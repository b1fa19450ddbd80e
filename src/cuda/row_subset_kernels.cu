// row_subset_sums: per cell, the sum of its values over each gene subset
// (bit k of gene_bits[g]: gene g is in subset k), float64, added in row
// order as the host does: the QC pass without the row statistics
// (row_qc_kernels.cu).
#include "pipeline_device.h"
#include "row_qc.h"

namespace cellshard {

void row_subset_sums_on_device(const CsrView& a, const float* values, const uint32_t* gene_bits,
                               int n_subsets, double* out) {
  row_qc_on_device(a, values, gene_bits, n_subsets, AxisStats{}, out);
}

}  // namespace cellshard
