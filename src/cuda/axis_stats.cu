#include "axis_stats.h"

#include <vector>

#include "../core/buffer.h"
#include "cuda_check.h"
#include "device_context.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

// One warp per row: lanes read the row's values with coalesced loads and
// combine their partial sums in float64.
__global__ void row_stats_kernel(int64_t n_rows, const int64_t* __restrict__ indptr,
                                 const float* __restrict__ values, double* __restrict__ sums,
                                 int64_t* __restrict__ n_positive) {
  const int lane = lane_id();
  for (int64_t r = global_warp_id(); r < n_rows; r += grid_warp_count()) {
    const int64_t begin = indptr[r], end = indptr[r + 1];
    double sum = 0.0;
    long long pos = 0;
    for (int64_t k = begin + lane; k < end; k += 32) {
      const float v = values[k];
      sum += double(v);
      pos += v > 0.0f;
    }
    sum = warp_sum(sum);
    pos = warp_sum(pos);
    if (lane == 0) {
      sums[r] = sum;
      n_positive[r] = pos;
    }
  }
}

}  // namespace

void row_stats_on_device(const CsrView& a, const float* values, AxisStats out) {
  if (a.n_rows == 0) return;
  if (a.nnz == 0) {  // also covers a shard whose value buffer is empty (null)
    for (int64_t r = 0; r < a.n_rows; ++r) {
      out.sums[r] = 0.0;
      out.n_positive[r] = 0;
    }
    return;
  }
  CS_CHECK(values != nullptr, "internal: row_stats without values");
  const DeviceContext& ctx = use_device(a.device);
  BufferPtr sums = make_buffer(a.device, size_t(a.n_rows) * sizeof(double));
  BufferPtr pos = make_buffer(a.device, size_t(a.n_rows) * sizeof(int64_t));
  row_stats_kernel<<<grid_blocks(ctx, a.n_rows, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      a.n_rows, a.indptr, values, sums->as<double>(), pos->as<int64_t>());
  CS_CUDA_CHECK_LAUNCH("row_stats_kernel");
  CS_CUDA_CHECK(cudaMemcpyAsync(out.sums, sums->data(), sums->bytes(), cudaMemcpyDeviceToHost,
                                ctx.stream));
  CS_CUDA_CHECK(cudaMemcpyAsync(out.n_positive, pos->data(), pos->bytes(),
                                cudaMemcpyDeviceToHost, ctx.stream));
  synchronize(ctx);
}

}  // namespace cellshard
