// multiply: out = X V + 1 shift^T for a host n_cols x k matrix V
// (column-major), out an n_rows x k matrix on the shard's device
// (column-major, leading dimension ld_out), float64. The scores stay on the
// GPU: R reads them block by block when asked (a 1.4M-cell PCA is 1.1 GB,
// whose copy into a fresh R matrix cost more than the product). Two methods:
//
// - Dense rows: blocks of rows are densified and cublasDgemm multiplies them
//   by V, on the FP64 tensor cores.
// - Sparse rows (the seed pipeline's 5,000 HVGs, 3.5% stored: 0.025 s
//   against the dense method's 0.076 s on an H100, with V in float64): V
//   goes to the device transposed (row g of V contiguous, float32, each row
//   padded to 32 bytes).
//   One warp per row of X: the warp walks the row's values in order and lane
//   j accumulates columns j, j + 32, j + 64, j + 96 of the current pass (128
//   columns a pass), so each out[r, j] is a sequential sum over the row's
//   values in index order: the host's loop, bit for bit (a value times a
//   loading, two floats, is exact in float64, so a fused multiply-add rounds
//   where the host's multiply then add does). The kernel reads V's row for
//   every stored value (from L2; 2e11 bytes at the seed share with V in
//   float64, halved by float32 rows), and waits on those reads: a warp loads
//   the rows of 4 values before using the first. Seed share, H100
//   (bench/pca_methods.R, session 13): 0.020 s loading one at a time, 0.021
//   two, 0.018 four, the same bits. A shared-memory copy of the frequent
//   genes' rows made it slower (0.029 s with none copied, 0.037-0.043 s with
//   64-192 KiB), probably because the extra shuffle and branch per value
//   kept one value's loads from overlapping the next's; without the branch
//   (each row read through a generic pointer, shared or global, 1,024-thread
//   blocks) 0.018 s against 0.015 whether 128 or 534 genes were copied, and
//   with a predicated ld.shared and ld.global.nc a value in its place 0.031
//   (session 24): the kernel's shape costs, not L2's bytes. So did all of V in
//   shared memory, a panel of genes at a time for a block of 96 rows (0.032-
//   0.034 s against 0.017, BENCHMARKS.md, session 17): each block copies and
//   widens all of V, and waits at every panel.
// Both give the same bits from run to run.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../core/errors.h"
#include "cublas_handles.h"
#include "cuda_check.h"
#include "dense_rows.h"
#include "device_memory.h"
#include "device_context.h"
#include "pipeline_device.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

constexpr int kColsPerLane = 4;
constexpr int kColsPerPass = 32 * kColsPerLane;
// Stored values whose rows of V a warp loads at once (the kernel's Ahead);
// CELLSHARD_MULTIPLY_AHEAD = 1 | 2 | 4 overrides it (benchmarks, tests).
constexpr int kLoadsAhead = 4;
// Seconds of each method, from bench/pca_methods.R on an H100 (1,430,154 x
// 5,000 at 3.51%, k = 100: sparse 0.025 s with V in float64, 0.020 s in
// float32 (bench/pca_parts.R), 0.018 s loading 4 rows of V at once; dense
// 0.076 s). The gathering
// kernel reads V's row for every stored value, once per pass of 128 columns;
// the dense method writes and reads every element of the densified rows
// (about 6e-12 s an element at the copy bandwidth) and multiplies it by k
// columns (the rest of the 0.076 s). Crossover: near 13% stored at k = 100.
constexpr double kSparseSecondsPerValuePass = 0.8e-10;
constexpr double kDenseSecondsPerElement = 6.0e-12;
constexpr double kDenseSecondsPerElementColumn = 4.6e-14;

// Adds the warp's values t .. t + U - 1 of this round (lane u holds value u's
// gene g and value v) to acc: the rows of V of all U are requested before the
// first is used (the loads' latency, not the arithmetic, bounds the kernel);
// the sums still take the values one by one, in order.
template <int U>
__device__ __forceinline__ void add_values(int t, int32_t g, double v,
                                           const float* __restrict__ vt, int stride, int j0,
                                           int kc, double (&acc)[kColsPerLane]) {
  const int lane = lane_id();
  double x[U];
  float w[U][kColsPerLane];
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int32_t gt = __shfl_sync(kFullWarp, g, t + u);
    x[u] = __shfl_sync(kFullWarp, v, t + u);
    const float* vrow = vt + int64_t(gt) * stride + j0;
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      w[u][c] = j < kc ? vrow[j] : 0.0f;
    }
  }
#pragma unroll
  for (int u = 0; u < U; ++u)
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c)
      if (lane + 32 * c < kc) acc[c] = fma(x[u], double(w[u][c]), acc[c]);  // exact product
}

// Rows of X times columns [j0, j0 + kc) of V (vt: gene g's k values at g *
// stride), into out (column-major, leading dimension ld); Ahead values' rows
// of V loaded at once.
template <int Ahead>
__global__ void multiply_kernel(int64_t n, const int64_t* __restrict__ indptr,
                                const int32_t* __restrict__ indices,
                                const float* __restrict__ values, const float* __restrict__ vt,
                                int stride, int j0, int kc, const double* __restrict__ shift,
                                double* __restrict__ out, int64_t ld) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t begin = indptr[i], end = indptr[i + 1];
    double acc[kColsPerLane];
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) acc[c] = 0.0;
    for (int64_t base = begin; base < end; base += 32) {
      int32_t g = 0;
      double v = 0.0;
      if (base + lane < end) {
        g = indices[base + lane];
        v = double(values[base + lane]);
      }
      const int count = int(min(int64_t(32), end - base));
      int t = 0;
      for (; t + Ahead <= count; t += Ahead) add_values<Ahead>(t, g, v, vt, stride, j0, kc, acc);
      for (; t < count; ++t) add_values<1>(t, g, v, vt, stride, j0, kc, acc);
    }
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      if (j < kc) out[i + int64_t(j0 + j) * ld] = shift ? acc[c] + shift[j0 + j] : acc[c];
    }
  }
}

// vt[g * stride + j] = v[j * n_cols + g] for j < k, 0 for k <= j < stride:
// V (n_cols x k, column-major) with each gene's row contiguous.
__global__ void transpose_loadings_kernel(int64_t n_cols, int k, int stride,
                                          const float* __restrict__ v, float* __restrict__ vt) {
  for (int64_t idx = global_thread_id(); idx < n_cols * stride; idx += grid_thread_count()) {
    const int64_t g = idx / stride;
    const int j = int(idx - g * stride);
    vt[idx] = j < k ? v[int64_t(j) * n_cols + g] : 0.0f;
  }
}

// Adds shift[j] to column j of the column-major rows x k block (leading
// dimension ld); with `fill`, sets it to shift[j] (0 without a shift).
__global__ void column_shift_kernel(int64_t rows, int k, const double* __restrict__ shift,
                                    bool fill, double* block, int64_t ld) {
  for (int64_t idx = global_thread_id(); idx < rows * k; idx += grid_thread_count()) {
    const int64_t j = idx / rows, i = idx - j * rows;
    const double add = shift ? shift[j] : 0.0;
    double& x = block[i + j * ld];
    x = fill ? add : x + add;
  }
}

void shift_columns(const DeviceContext& ctx, int64_t rows, int k, const double* shift, bool fill,
                   double* out, int64_t ld) {
  column_shift_kernel<<<grid_blocks(ctx, rows * k, kBlockThreads), kBlockThreads, 0,
                        ctx.stream>>>(rows, k, shift, fill, out, ld);
  CS_CUDA_CHECK_LAUNCH("column_shift_kernel");
}

void multiply_dense(const DeviceContext& ctx, const CsrView& a, const float* values,
                    const float* v, int k, const double* shift, double* out, int64_t ld_out) {
  const int64_t n = a.n_cols;
  const std::vector<double> v_double(v, v + size_t(n) * size_t(k));
  BufferPtr dv = upload_array(a.device, v_double.data(), v_double.size());
  BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
  const int64_t block_rows = dense_block_rows(a);
  BufferPtr dense = make_buffer(a.device, size_t(block_rows) * size_t(n) * sizeof(double));
  CublasLease blas(ctx);
  const double one = 1.0, zero = 0.0;
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += block_rows) {
    const int64_t rows = std::min(block_rows, a.n_rows - r0);
    densify_rows(ctx, a, values, r0, rows, dense->as<double>());
    // out rows [r0, r0 + rows) (rows x k) = dense^T (rows x n) * V (n x k)
    CS_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), k, int(n), &one,
                                dense->as<double>(), int(n), dv->as<double>(), int(n), &zero,
                                out + r0, int(ld_out)));
    if (d_shift) shift_columns(ctx, rows, k, d_shift->as<double>(), false, out + r0, ld_out);
  }
  synchronize(ctx);  // `dense` goes back to the pool when this returns
}

void multiply_sparse(const DeviceContext& ctx, const CsrView& a, const float* values,
                     const float* v, int k, const double* shift, double* out, int64_t ld_out) {
  BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
  // Row g of V contiguous on the device, each row starting a 32-byte sector:
  // V goes up as it is and is transposed there (on the host, a fresh 2 MB
  // array and its strided writes took 1-2 ms of the seed share's projection).
  const int64_t n_cols = a.n_cols;
  const int stride = (k + 7) / 8 * 8;
  BufferPtr v_columns = upload_array(a.device, v, size_t(n_cols) * size_t(k));
  BufferPtr vt = make_buffer(a.device, size_t(n_cols) * size_t(stride) * sizeof(float));
  transpose_loadings_kernel<<<grid_blocks(ctx, n_cols * stride, kBlockThreads), kBlockThreads, 0,
                              ctx.stream>>>(n_cols, k, stride, v_columns->as<float>(),
                                            vt->as<float>());
  CS_CUDA_CHECK_LAUNCH("transpose_loadings_kernel");
  int ahead = kLoadsAhead;
  if (const char* env = std::getenv("CELLSHARD_MULTIPLY_AHEAD")) ahead = std::atoi(env);
  const auto kernel = ahead == 1 ? multiply_kernel<1> : ahead == 2 ? multiply_kernel<2>
                                                                   : multiply_kernel<4>;
  for (int j0 = 0; j0 < k; j0 += kColsPerPass) {
    const int kc = std::min(kColsPerPass, k - j0);
    kernel<<<grid_blocks(ctx, a.n_rows, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
        a.n_rows, a.indptr, a.indices, values, vt->as<float>(), stride, j0, kc,
        device_ptr<double>(d_shift), out, ld_out);
    CS_CUDA_CHECK_LAUNCH("multiply_kernel");
  }
  synchronize(ctx);  // V and the shift go back to the pool when this returns
}

}  // namespace

bool multiply_uses_dense_rows(const CsrView& a, int k) {
  if (a.n_cols > int64_t(INT32_MAX)) return false;
  if (const char* force = std::getenv("CELLSHARD_MULTIPLY_METHOD")) {  // benchmarks
    if (std::strcmp(force, "sparse") == 0) return false;
    if (std::strcmp(force, "dense") == 0) return true;
  }
  const double passes = double((k + kColsPerPass - 1) / kColsPerPass);
  const double sparse = double(a.nnz) * passes * kSparseSecondsPerValuePass;
  const double dense = double(a.n_rows) * double(a.n_cols) *
                       (kDenseSecondsPerElement + double(k) * kDenseSecondsPerElementColumn);
  return dense < sparse;
}

void multiply_on_device(const CsrView& a, const float* values, const float* v, int k,
                        const double* shift, double* out, int64_t ld_out) {
  CS_CHECK(k >= 0, "internal: multiply by a matrix with a negative number of columns");
  CS_CHECK(ld_out >= a.n_rows, "internal: multiply's output is too short");
  if (k == 0 || a.n_rows == 0) return;
  const DeviceContext& ctx = use_device(a.device);
  if (a.nnz == 0 || a.n_cols == 0) {
    BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
    shift_columns(ctx, a.n_rows, k, device_ptr<double>(d_shift), true, out, ld_out);
    synchronize(ctx);
    return;
  }
  CS_CHECK(values != nullptr && v != nullptr, "internal: multiply without values");
  if (multiply_uses_dense_rows(a, k)) {
    multiply_dense(ctx, a, values, v, k, shift, out, ld_out);
  } else {
    multiply_sparse(ctx, a, values, v, k, shift, out, ld_out);
  }
}

}  // namespace cellshard
