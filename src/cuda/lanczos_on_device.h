// The leading eigenpairs of the PCA matrix (n_genes x n_genes, on the GPU)
// by block Lanczos with full reorthogonalisation: the Krylov basis and every
// product with the matrix stay on the device (cuBLAS), only the small block
// tridiagonal matrix is solved densely (syevdx, on the device). The same algorithm as the CPU
// backend's (cpu/block_lanczos.h), and like it checked on the matrix itself
// before its answer is used; eigen_solver.cu falls back to cuSOLVER's syevdx
// when it does not converge.
#pragma once
#include <cstdint>

#include "../cpu/block_lanczos.h"
#include "device_context.h"

namespace cellshard {

// The k largest eigenvalues of the symmetric n x n column-major `a` (device,
// both triangles, not changed), decreasing, into `values` (host, k) and their
// unit eigenvectors into `vectors` (host, n x k). Valid only when the report
// says converged (max ||A v - theta v|| <= 10 x tolerance x ||A||, and the
// vectors orthonormal to 1e-8).
LanczosReport lanczos_top_eigen_on_device(const DeviceContext& ctx, const double* a, int64_t n,
                                          int k, double* values, double* vectors,
                                          const LanczosOptions& options);

// The k largest eigenpairs of the symmetric n x n `a` (device, lower triangle
// read, overwritten) by cuSOLVER's syevdx: values (host, k, decreasing) and
// vectors (host, n x k). Defined in eigen_solver.cu.
void syevdx_top_eigen(int device, double* a, int64_t n, int k, double* values, double* vectors);

}  // namespace cellshard
