// map_values: out = clip(op(in * row_factor[r]) * col_factor[g] + col_offset[g], lo, hi),
// in float64, rounded to float32 at the end.
#include "../core/errors.h"
#include "cuda_check.h"
#include "device_context.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

struct MapParams {
  const double* row_factor;  // device, n_rows, or null (1)
  const double* col_factor;  // device, n_cols, or null (1)
  const double* col_offset;  // device, n_cols, or null (0)
  int op;                    // ValueMap::Op as an int
  double log_divisor;
  double lo, hi;
};

// One warp per row (the row factor is read once per row). The clip is
// written as comparisons so that a NaN stays NaN, as std::min/std::max
// leave it on the host.
__global__ void map_values_kernel(int64_t n_rows, const int64_t* __restrict__ indptr,
                                  const int32_t* __restrict__ indices, const float* in, float* out,
                                  MapParams p) {
  const int lane = lane_id();
  for (int64_t r = global_warp_id(); r < n_rows; r += grid_warp_count()) {
    const int64_t begin = indptr[r], end = indptr[r + 1];
    if (begin == end) continue;
    const double rf = p.row_factor ? p.row_factor[r] : 1.0;
    for (int64_t k = begin + lane; k < end; k += 32) {
      double x = double(in[k]) * rf;
      if (p.op == int(ValueMap::Op::Log1p)) x = log1p(x) / p.log_divisor;
      else if (p.op == int(ValueMap::Op::Expm1)) x = expm1(x);
      const int32_t g = indices[k];
      // Separate roundings (no fused multiply-add), as on the host.
      if (p.col_factor) x = __dmul_rn(x, p.col_factor[g]);
      if (p.col_offset) x = __dadd_rn(x, p.col_offset[g]);
      if (x < p.lo) x = p.lo;
      if (x > p.hi) x = p.hi;
      out[k] = float(x);
    }
  }
}

}  // namespace

void map_values_on_device(const CsrView& a, const float* in, float* out, const ValueMap& map) {
  if (a.nnz == 0 || a.n_rows == 0) return;
  CS_CHECK(in != nullptr && out != nullptr, "internal: map_values without values");
  const DeviceContext& ctx = use_device(a.device);
  BufferPtr row_factor = upload_array(a.device, map.row_factor, size_t(a.n_rows));
  BufferPtr col_factor = upload_array(a.device, map.col_factor, size_t(a.n_cols));
  BufferPtr col_offset = upload_array(a.device, map.col_offset, size_t(a.n_cols));
  MapParams p;
  p.row_factor = device_ptr<double>(row_factor);
  p.col_factor = device_ptr<double>(col_factor);
  p.col_offset = device_ptr<double>(col_offset);
  p.op = int(map.op);
  p.log_divisor = map.log_divisor;
  p.lo = map.lo;
  p.hi = map.hi;
  map_values_kernel<<<grid_blocks(ctx, a.n_rows, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
      a.n_rows, a.indptr, a.indices, in, out, p);
  CS_CUDA_CHECK_LAUNCH("map_values_kernel");
  synchronize(ctx);  // before the factor arrays are freed
}

}  // namespace cellshard
