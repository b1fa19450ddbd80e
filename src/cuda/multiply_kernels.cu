// multiply: out = X V + 1 shift^T for a host n_cols x k matrix V
// (column-major), out a host n_rows x k matrix (column-major, leading
// dimension ld_out), float64. Output goes through a
// device buffer of bounded size, a block of rows at a time. Two methods:
//
// - Dense enough rows (the highly variable genes of a PCA, typically 10% or
//   more): blocks of rows are densified and cublasDgemm multiplies them by V,
//   on the FP64 tensor cores, at a fraction of the cost of gathering V's rows.
// - Sparse rows: V goes to the device transposed (row g of V contiguous).
//   One warp per row of X: the warp walks the row's values in order and lane
//   j accumulates columns j, j + 32, j + 64, j + 96 of the current pass (128
//   columns a pass), so each out[r, j] is a sequential sum over the row's
//   values in index order, without fused multiply-adds: the host's loop, bit
//   for bit.
// Both give the same bits from run to run.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../core/errors.h"
#include "../core/parallel_for.h"
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
constexpr size_t kOutBlockBytes = size_t(128) << 20;
// Above this fraction of stored values, densifying and cublasDgemm beat the
// gathering kernel (which reads k values of V for every stored value).
constexpr double kDenseDensity = 0.005;

// Rows [r0, r0 + n) of X times columns [j0, j0 + kc) of V (vt: k values per
// gene), into out (column-major n x k, leading dimension n).
__global__ void multiply_kernel(int64_t r0, int64_t n, const int64_t* __restrict__ indptr,
                                const int32_t* __restrict__ indices,
                                const float* __restrict__ values, const double* __restrict__ vt,
                                int k, int j0, int kc, const double* __restrict__ shift,
                                double* __restrict__ out) {
  const int lane = lane_id();
  for (int64_t i = global_warp_id(); i < n; i += grid_warp_count()) {
    const int64_t begin = indptr[r0 + i], end = indptr[r0 + i + 1];
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
      for (int t = 0; t < count; ++t) {
        const int32_t gt = __shfl_sync(kFullWarp, g, t);
        const double x = __shfl_sync(kFullWarp, v, t);
        const double* vrow = vt + int64_t(gt) * k + j0;
#pragma unroll
        for (int c = 0; c < kColsPerLane; ++c) {
          const int j = lane + 32 * c;
          if (j < kc) acc[c] = __dadd_rn(acc[c], __dmul_rn(x, vrow[j]));
        }
      }
    }
#pragma unroll
    for (int c = 0; c < kColsPerLane; ++c) {
      const int j = lane + 32 * c;
      if (j < kc) out[i + int64_t(j0 + j) * n] = shift ? acc[c] + shift[j0 + j] : acc[c];
    }
  }
}

// Adds shift[j] to column j of the column-major rows x k block.
__global__ void add_column_shift_kernel(int64_t rows, int k, const double* __restrict__ shift,
                                        double* block) {
  for (int64_t idx = global_thread_id(); idx < rows * k; idx += grid_thread_count())
    block[idx] += shift[idx / rows];
}

constexpr unsigned kCopyThreads = 8;

// Copies a rows x k column-major block to rows [r0, r0 + rows) of the host
// column-major `out` (leading dimension ld_out), through pinned memory.
void block_to_host(const DeviceContext& ctx, const double* block, int64_t rows, int k,
                   int64_t r0, int64_t ld_out, double* out) {
  const size_t column_bytes = size_t(rows) * sizeof(double);
  double* staging = static_cast<double*>(pinned_staging(ctx.device, column_bytes * size_t(k)));
  CS_CUDA_CHECK(cudaMemcpyAsync(staging, block, column_bytes * size_t(k), cudaMemcpyDeviceToHost,
                                ctx.stream));
  synchronize(ctx);  // before the block is overwritten and the staging read
  // Several threads: the copy into R's fresh (not yet paged-in) memory is
  // bound by page faults, not by one core's copy speed.
  parallel_for(
      size_t(k),
      [&](size_t j) {
        std::memcpy(out + int64_t(j) * ld_out + r0, staging + int64_t(j) * rows, column_bytes);
      },
      kCopyThreads);
}

void multiply_dense(const DeviceContext& ctx, const CsrView& a, const float* values,
                    const double* v, int k, const double* shift, double* out, int64_t ld_out) {
  const int64_t n = a.n_cols;
  BufferPtr dv = upload_array(a.device, v, size_t(n) * size_t(k));
  BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
  const int64_t block_rows = dense_block_rows(a);
  BufferPtr dense = make_buffer(a.device, size_t(block_rows) * size_t(n) * sizeof(double));
  BufferPtr block = make_buffer(a.device, size_t(block_rows) * size_t(k) * sizeof(double));
  CublasLease blas(ctx);
  const double one = 1.0, zero = 0.0;
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += block_rows) {
    const int64_t rows = std::min(block_rows, a.n_rows - r0);
    densify_rows(ctx, a, values, r0, rows, dense->as<double>());
    // block (rows x k) = dense^T (rows x n) * V (n x k)
    CS_CUBLAS_CHECK(cublasDgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, int(rows), k, int(n), &one,
                                dense->as<double>(), int(n), dv->as<double>(), int(n), &zero,
                                block->as<double>(), int(rows)));
    if (d_shift) {
      add_column_shift_kernel<<<grid_blocks(ctx, rows * k, kBlockThreads), kBlockThreads, 0,
                                ctx.stream>>>(rows, k, d_shift->as<double>(), block->as<double>());
      CS_CUDA_CHECK_LAUNCH("add_column_shift_kernel");
    }
    block_to_host(ctx, block->as<double>(), rows, k, r0, ld_out, out);
  }
}

void multiply_sparse(const DeviceContext& ctx, const CsrView& a, const float* values,
                     const double* v, int k, const double* shift, double* out, int64_t ld_out) {
  BufferPtr d_shift = upload_array(a.device, shift, size_t(k));
  // Row g of V contiguous on the device.
  const size_t n_cols = size_t(a.n_cols);
  std::vector<double> host_vt(n_cols * size_t(k));
  for (size_t j = 0; j < size_t(k); ++j)
    for (size_t g = 0; g < n_cols; ++g) host_vt[g * size_t(k) + j] = v[j * n_cols + g];
  BufferPtr vt = upload_array(a.device, host_vt.data(), host_vt.size());

  const int64_t block_rows = std::max<int64_t>(
      1, std::min<int64_t>(a.n_rows, int64_t(kOutBlockBytes / (size_t(k) * sizeof(double)))));
  BufferPtr block = make_buffer(a.device, size_t(block_rows) * size_t(k) * sizeof(double));
  for (int64_t r0 = 0; r0 < a.n_rows; r0 += block_rows) {
    const int64_t rows = std::min(block_rows, a.n_rows - r0);
    for (int j0 = 0; j0 < k; j0 += kColsPerPass) {
      const int kc = std::min(kColsPerPass, k - j0);
      multiply_kernel<<<grid_blocks(ctx, rows, kWarpsPerBlock), kBlockThreads, 0, ctx.stream>>>(
          r0, rows, a.indptr, a.indices, values, vt->as<double>(), k, j0, kc,
          device_ptr<double>(d_shift), block->as<double>());
      CS_CUDA_CHECK_LAUNCH("multiply_kernel");
    }
    block_to_host(ctx, block->as<double>(), rows, k, r0, ld_out, out);
  }
}

}  // namespace

bool multiply_uses_dense_rows(const CsrView& a) {
  return a.n_cols <= int64_t(INT32_MAX) &&
         double(a.nnz) >= kDenseDensity * double(a.n_rows) * double(a.n_cols);
}

void multiply_on_device(const CsrView& a, const float* values, const double* v, int k,
                        const double* shift, double* out, int64_t ld_out) {
  CS_CHECK(k >= 0, "internal: multiply by a matrix with a negative number of columns");
  CS_CHECK(ld_out >= a.n_rows, "internal: multiply's output is too short");
  if (k == 0 || a.n_rows == 0) return;
  if (a.nnz == 0 || a.n_cols == 0) {
    for (int j = 0; j < k; ++j)
      std::fill(out + int64_t(j) * ld_out, out + int64_t(j) * ld_out + a.n_rows,
                shift ? shift[j] : 0.0);
    return;
  }
  CS_CHECK(values != nullptr && v != nullptr, "internal: multiply without values");
  const DeviceContext& ctx = use_device(a.device);
  if (multiply_uses_dense_rows(a)) {
    multiply_dense(ctx, a, values, v, k, shift, out, ld_out);
  } else {
    multiply_sparse(ctx, a, values, v, k, shift, out, ld_out);
  }
}

}  // namespace cellshard
