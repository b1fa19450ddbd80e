// Eigensolvers (LAPACK, cuSOLVER) return the requested eigenpairs in
// ascending order, near enough: cuSOLVER's syevdx, taking the eigenvalues of
// each block of a split tridiagonal matrix apart, can give two equal ones a
// rounding out of order (a matrix with eigenvalues repeated 30 times,
// tests/cuda). The pipeline wants them decreasing.
#pragma once
#include <cstdint>

namespace cellshard {

// From w (k eigenvalues, ascending or nearly) and z (n x k column-major
// eigenvectors, in the same order), writes values (k) and vectors (n x k) in
// decreasing order (exactly reversed where w is ascending).
void eigenpairs_decreasing(const double* w, const double* z, int64_t n, int k, double* values,
                           double* vectors);

// Flips the sign of each of the k columns of `vectors` (n x k, column-major)
// whose largest-magnitude entry (the first, on ties) is negative, so that the
// basis is the same whatever signs the eigensolver gave.
void largest_loading_positive(int64_t n, int k, double* vectors);

}  // namespace cellshard
