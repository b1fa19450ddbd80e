// Leading eigenpairs of a symmetric matrix on the host: block Lanczos
// (block_lanczos.h) for the large matrices of PCA, LAPACK where the matrix is
// small, most of the spectrum is wanted, or Lanczos does not converge.
#pragma once
#include <cstdint>
#include <string>

namespace cellshard {

// The k largest eigenvalues of the n x n column-major symmetric `a` (both
// triangles are read; `a` is overwritten), decreasing, into `values` (k), and
// their eigenvectors into `vectors` (n x k, column-major). `method` is
// "auto", "lapack" or "lanczos" (the last still falls back to LAPACK when it
// does not converge); returns the method that gave the answer.
std::string symmetric_top_eigen(double* a, int64_t n, int k, double* values, double* vectors,
                                const std::string& method = "auto");

}  // namespace cellshard
