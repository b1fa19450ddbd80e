// Small kernels on dense column-major blocks for the subspace eigensolver
// (chefsi_on_device.cu): what cuBLAS has no single call for. All run on the
// context's stream; none synchronises.
#pragma once
#include <cstdint>

#include "device_context.h"

namespace cellshard {

// out[j] = ||y_j - theta[j] x_j|| for the columns j < cols of x and y (rows x
// cols, leading dimension rows): the residual norms of Ritz pairs when y = A x.
// Deterministic (a fixed summation order).
void residual_norms(const DeviceContext& ctx, const double* x, const double* y,
                    const double* theta, int64_t rows, int cols, double* out);

// x[i, j] *= (row_scale ? row_scale[i] : 1) * (col_scale ? col_scale[j] : 1)
// for the rows x cols matrix x with leading dimension ld.
void scale_matrix(const DeviceContext& ctx, double* x, int64_t rows, int cols, int64_t ld,
                  const double* row_scale, const double* col_scale);

// For the symmetric p x p Gram matrix s (both triangles): d[j] = 1 / sqrt(s_jj)
// (0 where s_jj is not positive), then s = D s D + shift I: its diagonal is
// 1 + shift (shift where s_jj is not positive: with no shift, Cholesky fails).
void unit_diagonal(const DeviceContext& ctx, double* s, int p, double shift, double* d);

// x[i] uniform in [-1, 1) for i < count, a hash of (seed, i): the same
// numbers for the same seed on every run and device.
void fill_uniform(const DeviceContext& ctx, double* x, int64_t count, uint64_t seed);

// h = (h + h^T) / 2 for the p x p h.
void symmetrize(const DeviceContext& ctx, double* h, int p);

// dst[:, j] = src[:, cols[j]] for j < k (rows x k and rows x ..., column-major,
// leading dimension rows; cols on the device).
void gather_columns(const DeviceContext& ctx, const double* src, int64_t rows, int k,
                    const int* cols, double* dst);

// a[i, i] = diagonal[i] - minus for i < n (a: n x n, leading dimension n):
// A - minus I from a saved copy of A's diagonal; minus = 0 puts A back
// exactly.
void set_diagonal(const DeviceContext& ctx, double* a, int64_t n, const double* diagonal,
                  double minus);

}  // namespace cellshard
