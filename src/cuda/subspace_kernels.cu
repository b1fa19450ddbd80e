#include "subspace_kernels.h"

#include <algorithm>
#include <cmath>

#include "cuda_check.h"
#include "warp_primitives.cuh"

namespace cellshard {

namespace {

// One block a column: each thread sums a strided share of the squares, then
// the warps and the block reduce in a fixed order.
__global__ void residual_norms_kernel(const double* __restrict__ x, const double* __restrict__ y,
                                      const double* __restrict__ theta, int64_t rows,
                                      double* __restrict__ out) {
  const int64_t col = blockIdx.x;
  const double* xc = x + col * rows;
  const double* yc = y + col * rows;
  const double t = theta[col];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) {
    const double e = yc[i] - t * xc[i];
    s += e * e;
  }
  s = block_sum<kWarpsPerBlock>(s);
  if (threadIdx.x == 0) out[col] = sqrt(s);
}

__global__ void scale_matrix_kernel(double* __restrict__ x, int64_t rows, int64_t cols, int64_t ld,
                                    const double* __restrict__ row_scale,
                                    const double* __restrict__ col_scale) {
  for (int64_t e = global_thread_id(); e < rows * cols; e += grid_thread_count()) {
    const int64_t i = e % rows, j = e / rows;
    double f = 1.0;
    if (row_scale) f *= row_scale[i];
    if (col_scale) f *= col_scale[j];
    x[i + j * ld] *= f;
  }
}

__global__ void inverse_sqrt_diagonal_kernel(const double* __restrict__ s, int p,
                                             double* __restrict__ d) {
  for (int64_t j = global_thread_id(); j < p; j += grid_thread_count()) {
    const double v = s[j + j * int64_t(p)];
    d[j] = v > 0.0 ? 1.0 / sqrt(v) : 0.0;
  }
}

__global__ void unit_diagonal_kernel(double* __restrict__ s, int p, double shift,
                                     const double* __restrict__ d) {
  const int64_t pp = int64_t(p) * p;
  for (int64_t e = global_thread_id(); e < pp; e += grid_thread_count()) {
    const int64_t i = e % p, j = e / p;
    s[e] = s[e] * d[i] * d[j] + (i == j ? shift : 0.0);
  }
}

// splitmix64's finaliser: consecutive inputs give independent-looking outputs.
__device__ uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

__global__ void fill_uniform_kernel(double* __restrict__ x, int64_t count, uint64_t seed) {
  for (int64_t i = global_thread_id(); i < count; i += grid_thread_count())
    x[i] = double(mix(seed + uint64_t(i) * 0x9e3779b97f4a7c15ULL) >> 11) * 0x1.0p-52 - 1.0;
}

__global__ void symmetrize_kernel(double* __restrict__ h, int p) {
  const int64_t pp = int64_t(p) * p;
  for (int64_t e = global_thread_id(); e < pp; e += grid_thread_count()) {
    const int64_t i = e % p, j = e / p;
    if (i < j) {
      const double v = 0.5 * (h[i + j * p] + h[j + i * p]);
      h[i + j * p] = v;
      h[j + i * p] = v;
    }
  }
}

__global__ void gather_columns_kernel(int64_t rows, int k, const double* __restrict__ src,
                                      const int* __restrict__ cols, double* __restrict__ dst) {
  for (int64_t e = global_thread_id(); e < rows * k; e += grid_thread_count()) {
    const int64_t j = e / rows, i = e - j * rows;
    dst[e] = src[i + int64_t(cols[j]) * rows];
  }
}

__global__ void set_diagonal_kernel(double* __restrict__ a, int64_t n,
                                    const double* __restrict__ diagonal, double minus) {
  for (int64_t i = global_thread_id(); i < n; i += grid_thread_count())
    a[i * (n + 1)] = diagonal[i] - minus;
}

// The seed through the same finaliser on the host (the kernel adds i's multiple).
uint64_t mix_seed(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void residual_norms(const DeviceContext& ctx, const double* x, const double* y,
                    const double* theta, int64_t rows, int cols, double* out) {
  if (cols <= 0) return;
  residual_norms_kernel<<<cols, kBlockThreads, 0, ctx.stream>>>(x, y, theta, rows, out);
  CS_CUDA_CHECK_LAUNCH("residual_norms_kernel");
}

void scale_matrix(const DeviceContext& ctx, double* x, int64_t rows, int cols, int64_t ld,
                  const double* row_scale, const double* col_scale) {
  if (rows <= 0 || cols <= 0) return;
  scale_matrix_kernel<<<grid_blocks(ctx, rows * cols, kBlockThreads), kBlockThreads, 0,
                        ctx.stream>>>(x, rows, cols, ld, row_scale, col_scale);
  CS_CUDA_CHECK_LAUNCH("scale_matrix_kernel");
}

void unit_diagonal(const DeviceContext& ctx, double* s, int p, double shift, double* d) {
  if (p <= 0) return;
  inverse_sqrt_diagonal_kernel<<<grid_blocks(ctx, p, kBlockThreads), kBlockThreads, 0,
                                 ctx.stream>>>(s, p, d);
  CS_CUDA_CHECK_LAUNCH("inverse_sqrt_diagonal_kernel");
  unit_diagonal_kernel<<<grid_blocks(ctx, int64_t(p) * p, kBlockThreads), kBlockThreads, 0,
                         ctx.stream>>>(s, p, shift, d);
  CS_CUDA_CHECK_LAUNCH("unit_diagonal_kernel");
}

void fill_uniform(const DeviceContext& ctx, double* x, int64_t count, uint64_t seed) {
  if (count <= 0) return;
  fill_uniform_kernel<<<grid_blocks(ctx, count, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
      x, count, mix_seed(seed));
  CS_CUDA_CHECK_LAUNCH("fill_uniform_kernel");
}

void symmetrize(const DeviceContext& ctx, double* h, int p) {
  if (p <= 0) return;
  symmetrize_kernel<<<grid_blocks(ctx, int64_t(p) * p, kBlockThreads), kBlockThreads, 0,
                      ctx.stream>>>(h, p);
  CS_CUDA_CHECK_LAUNCH("symmetrize_kernel");
}

void gather_columns(const DeviceContext& ctx, const double* src, int64_t rows, int k,
                    const int* cols, double* dst) {
  if (rows <= 0 || k <= 0) return;
  gather_columns_kernel<<<grid_blocks(ctx, rows * k, kBlockThreads), kBlockThreads, 0,
                          ctx.stream>>>(rows, k, src, cols, dst);
  CS_CUDA_CHECK_LAUNCH("gather_columns_kernel");
}

void set_diagonal(const DeviceContext& ctx, double* a, int64_t n, const double* diagonal,
                  double minus) {
  if (n <= 0) return;
  set_diagonal_kernel<<<grid_blocks(ctx, n, kBlockThreads), kBlockThreads, 0, ctx.stream>>>(
      a, n, diagonal, minus);
  CS_CUDA_CHECK_LAUNCH("set_diagonal_kernel");
}

}  // namespace cellshard
