// flag_dominant_genes: flags genes with a value above `fraction` of its
// cell's total in some cell (normalize_total's exclude_highly_expressed).
#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

// One warp per row. Several rows may flag one gene: they all write 1.
__global__ void flag_dominant_kernel(int64_t n_rows, const int64_t* __restrict__ indptr,
                                     const int32_t* __restrict__ indices,
                                     const float* __restrict__ values,
                                     const double* __restrict__ row_total, double fraction,
                                     double* flags) {
  const int lane = lane_id();
  for (int64_t r = global_warp_id(); r < n_rows; r += grid_warp_count()) {
    const int64_t begin = indptr[r], end = indptr[r + 1];
    if (begin == end) continue;
    const double limit = fraction * row_total[r];
    for (int64_t k = begin + lane; k < end; k += 32)
      if (double(values[k]) > limit) flags[indices[k]] = 1.0;
  }
}

}  // namespace

void flag_dominant_genes_on_device(const CsrView& a, const float* values, const double* row_total,
                                   double fraction, double* flags) {
  if (a.nnz == 0 || a.n_rows == 0 || a.n_cols == 0) return;  // nothing to flag
  CS_CHECK(values != nullptr && row_total != nullptr,
           "internal: flag_dominant_genes without values");
  const DeviceContext& ctx = use_device(a.device);
  BufferPtr totals = upload_array(a.device, row_total, size_t(a.n_rows));
  flag_dominant_kernel<<<grid_blocks(ctx, a.n_rows, kWarpsPerBlock), kBlockThreads, 0,
                         ctx.stream>>>(a.n_rows, a.indptr, a.indices, values,
                                       totals->as<double>(), fraction, flags);
  CS_CUDA_CHECK_LAUNCH("flag_dominant_kernel");
  synchronize(ctx);
}

}  // namespace cellshard
