#include "dense_rows.h"

#include <algorithm>

#include "cuda_check.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

constexpr size_t kDenseBlockBytes = size_t(1) << 30;  // few, large cuBLAS calls

// Writes rows [r0, r0 + n) into dense (already zero), row i at dense + i * n_cols.
__global__ void densify_rows_kernel(int64_t r0, int64_t n, int64_t n_cols,
                                    const int64_t* __restrict__ indptr,
                                    const int32_t* __restrict__ indices,
                                    const float* __restrict__ values, double* __restrict__ dense) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t begin = indptr[r0 + i], end = indptr[r0 + i + 1];
    double* row = dense + i * n_cols;
    for (int64_t k = begin + lane; k < end; k += 32) row[indices[k]] = double(values[k]);
  }
}

}  // namespace

int64_t dense_block_rows(const CsrView& a) {
  const int64_t by_memory = int64_t(kDenseBlockBytes / (size_t(std::max<int64_t>(a.n_cols, 1)) *
                                                        sizeof(double)));
  return std::max<int64_t>(1, std::min<int64_t>({a.n_rows, by_memory, int64_t(INT32_MAX)}));
}

void densify_rows(const DeviceContext& ctx, const CsrView& a, const float* values, int64_t r0,
                  int64_t rows, double* dense) {
  CS_CUDA_CHECK(cudaMemsetAsync(dense, 0, size_t(rows) * size_t(a.n_cols) * sizeof(double),
                                ctx.stream));
  densify_rows_kernel<<<grid_blocks(ctx, rows, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      r0, rows, a.n_cols, a.indptr, a.indices, values, dense);
  CS_CUDA_CHECK_LAUNCH("densify_rows_kernel");
}

}  // namespace cellshard
