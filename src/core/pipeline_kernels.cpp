// Picks the pipeline kernels for a device.
#include "pipeline_kernels.h"

#include "../cpu/cpu_pipeline_kernels.h"
#include "backend.h"
#ifdef CELLSHARD_CUDA
#include "../cuda/cuda_pipeline_kernels.h"
#endif

namespace cellshard {

void PipelineKernels::row_qc(const CsrView& a, const float* values, const uint32_t* gene_bits,
                             int n_subsets, AxisStats stats, double* subset_sums) {
  if (stats.sums) backend_for(a.device).row_stats(a, values, stats);
  if (n_subsets > 0) row_subset_sums(a, values, gene_bits, n_subsets, subset_sums);
}

PipelineKernels& pipeline_kernels_for(int device) {
  if (device == kHost) return cpu_pipeline_kernels();
#ifdef CELLSHARD_CUDA
  return cuda_pipeline_kernels();
#else
  throw_no_cuda_backend(device);
#endif
}

}  // namespace cellshard
