// Eigensolvers (LAPACK, cuSOLVER) return the requested eigenpairs in
// ascending order; the pipeline wants them decreasing.
#pragma once
#include <cstdint>

namespace cellshard {

// From w (k ascending eigenvalues) and z (n x k column-major eigenvectors, in
// the same order), writes values (k) and vectors (n x k) in decreasing order.
void eigenpairs_decreasing(const double* w, const double* z, int64_t n, int k, double* values,
                           double* vectors);

}  // namespace cellshard
