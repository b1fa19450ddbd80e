// Leading eigenpairs of a symmetric matrix on the host (LAPACK dsyevr, which
// computes only the requested ones).
#pragma once
#include <cstdint>

namespace cellshard {

// The k largest eigenvalues of the n x n column-major symmetric `a` (its lower
// triangle is read; `a` is overwritten), decreasing, into `values` (k), and
// their eigenvectors into `vectors` (n x k, column-major).
void symmetric_top_eigen(double* a, int64_t n, int k, double* values, double* vectors);

}  // namespace cellshard
