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
  bool float_after_op;
};

// 32-entry chunks of a row that a warp loads before it maps any (see
// row_qc_kernels.cu: one chunk at a time leaves the kernel latency-bound).
constexpr int kChunks = 4;

// One warp per row (the row factor is read once per row); the operation and
// whether per-gene terms exist are template arguments, so that a plain
// scaling reads no gene indices. The clip is written as comparisons so that a
// NaN stays NaN, as std::min/std::max leave it on the host.
template <int kOp, bool kGeneTerms>
__global__ void map_values_kernel(int64_t n_rows, const int64_t* __restrict__ indptr,
                                  const int32_t* __restrict__ indices, const float* in, float* out,
                                  MapParams p) {
  const int lane = lane_id();
  const bool divide = p.log_divisor != 1.0;  // x / 1 is x: skip the division
  for (int64_t r = global_warp_id(); r < n_rows; r += grid_warp_count()) {
    const int64_t begin = indptr[r], end = indptr[r + 1];
    if (begin == end) continue;
    const double rf = p.row_factor ? p.row_factor[r] : 1.0;
    for (int64_t base = begin; base < end; base += 32 * kChunks) {  // the same on every lane
      float v[kChunks];
      int32_t g[kChunks];
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int64_t k = base + 32 * c + lane;
        v[c] = k < end ? in[k] : 0.0f;
        if (kGeneTerms) g[c] = k < end ? indices[k] : 0;
      }
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int64_t k = base + 32 * c + lane;
        if (k >= end) continue;
        double x = double(v[c]) * rf;
        if (kOp == int(ValueMap::Op::Log1p)) {
          x = log1p(x);
          if (divide) x = x / p.log_divisor;
        } else if (kOp == int(ValueMap::Op::Expm1)) {
          x = expm1(x);
        }
        if (p.float_after_op) x = double(float(x));
        // Separate roundings (no fused multiply-add), as on the host.
        if (kGeneTerms && p.col_factor) x = __dmul_rn(x, p.col_factor[g[c]]);
        if (kGeneTerms && p.col_offset) x = __dadd_rn(x, p.col_offset[g[c]]);
        if (x < p.lo) x = p.lo;
        if (x > p.hi) x = p.hi;
        out[k] = float(x);
      }
    }
  }
}

template <int kOp>
void launch_map(const DeviceContext& ctx, const CsrView& a, const float* in, float* out,
                const MapParams& p) {
  const unsigned blocks = grid_blocks(ctx, a.n_rows, kWarpsPerBlock);
  if (p.col_factor || p.col_offset)
    map_values_kernel<kOp, true><<<blocks, kBlockThreads, 0, ctx.stream>>>(a.n_rows, a.indptr,
                                                                             a.indices, in, out, p);
  else
    map_values_kernel<kOp, false><<<blocks, kBlockThreads, 0, ctx.stream>>>(a.n_rows, a.indptr,
                                                                              a.indices, in, out, p);
  CS_CUDA_CHECK_LAUNCH("map_values_kernel");
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
  p.float_after_op = map.float_after_op;
  switch (map.op) {
    case ValueMap::Op::Log1p: launch_map<int(ValueMap::Op::Log1p)>(ctx, a, in, out, p); break;
    case ValueMap::Op::Expm1: launch_map<int(ValueMap::Op::Expm1)>(ctx, a, in, out, p); break;
    default: launch_map<int(ValueMap::Op::None)>(ctx, a, in, out, p); break;
  }
  synchronize(ctx);  // before the factor arrays are freed
}

}  // namespace cellshard
