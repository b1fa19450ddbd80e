// row_subset_sums: per cell, the sum of its values over each gene subset
// (bit k of gene_bits[g]: gene g is in subset k), float64.
#include <algorithm>

#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

// One warp per row; the row is read once per subset (from cache after the
// first pass: subsets are few and rows short). Lanes load 32 values at a
// time and every lane adds them up in row order, as the host does, so the
// sums are the host's bit for bit.
__global__ void row_subset_sums_kernel(int64_t n_rows, const int64_t* __restrict__ indptr,
                                       const int32_t* __restrict__ indices,
                                       const float* __restrict__ values,
                                       const uint32_t* __restrict__ gene_bits, int n_subsets,
                                       double* __restrict__ out) {
  const int lane = lane_id();
  for (int64_t r = global_warp_id(); r < n_rows; r += grid_warp_count()) {
    const int64_t begin = indptr[r], end = indptr[r + 1];
    for (int s = 0; s < n_subsets; ++s) {
      double sum = 0.0;
      for (int64_t base = begin; base < end; base += 32) {
        const int64_t k = base + lane;
        const bool in_subset = k < end && ((gene_bits[indices[k]] >> s) & 1u);
        const double x = in_subset ? double(values[k]) : 0.0;
        const unsigned mask = __ballot_sync(kFullWarp, in_subset);
        for (unsigned m = mask; m; m &= m - 1) sum += __shfl_sync(kFullWarp, x, __ffs(m) - 1);
      }
      if (lane == 0) out[int64_t(s) * n_rows + r] = sum;
    }
  }
}

}  // namespace

void row_subset_sums_on_device(const CsrView& a, const float* values, const uint32_t* gene_bits,
                               int n_subsets, double* out) {
  CS_CHECK(n_subsets >= 0 && n_subsets <= 32, "internal: row_subset_sums takes 0 to 32 subsets");
  if (n_subsets == 0 || a.n_rows == 0) return;
  const size_t n_out = size_t(n_subsets) * size_t(a.n_rows);
  if (a.nnz == 0 || a.n_cols == 0) {  // every row is empty (values may be null)
    std::fill(out, out + n_out, 0.0);
    return;
  }
  CS_CHECK(values != nullptr && gene_bits != nullptr, "internal: row_subset_sums without values");
  const DeviceContext& ctx = use_device(a.device);
  BufferPtr bits = upload_array(a.device, gene_bits, size_t(a.n_cols));
  BufferPtr sums = make_buffer(a.device, n_out * sizeof(double));
  row_subset_sums_kernel<<<grid_blocks(ctx, a.n_rows, kWarpsPerBlock), kBlockThreads, 0,
                           ctx.stream>>>(a.n_rows, a.indptr, a.indices, values,
                                         bits->as<uint32_t>(), n_subsets, sums->as<double>());
  CS_CUDA_CHECK_LAUNCH("row_subset_sums_kernel");
  CS_CUDA_CHECK(
      cudaMemcpyAsync(out, sums->data(), sums->bytes(), cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
}

}  // namespace cellshard
