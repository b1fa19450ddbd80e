// LAPACK's symmetric eigensolvers, through the LAPACK R was built with.
#pragma once
#include <cstdint>
#include <vector>

namespace cellshard {

// The k largest eigenvalues of the n x n column-major symmetric `a` (its lower
// triangle is read; `a` is overwritten), decreasing, into `values` (k), and
// their eigenvectors into `vectors` (n x k, column-major), by dsyevr, which
// computes only the requested ones (after a full tridiagonal reduction).
void lapack_top_eigen(double* a, int64_t n, int k, double* values, double* vectors);

// All eigenvalues, ascending, of the symmetric band matrix with kd
// sub-diagonals given in LAPACK's lower band storage (ab: (kd + 1) x n,
// ab[j * (kd + 1) + (i - j)] = A(i, j) for j <= i <= j + kd; overwritten).
// Band reduction (dsbtrd) then dsterf: O(n^2 kd) flops.
std::vector<double> lapack_band_eigenvalues(std::vector<double>& ab, int64_t n, int kd);

// Eigenvectors of the same band matrix (lower band storage, not changed) for
// the given eigenvalues (accurate ones, e.g. from lapack_band_eigenvalues), by
// inverse iteration with banded LU (dgbtrf / dgbtrs): O(n kd^2) per vector.
// `norm` is the matrix's 2-norm; vectors whose eigenvalues lie within
// 1e-3 x norm of each other are made orthogonal (as LAPACK's dstein does).
// Returns n x values.size(), column-major.
std::vector<double> lapack_band_eigenvectors(const std::vector<double>& ab, int64_t n, int kd,
                                             const std::vector<double>& values, double norm);

}  // namespace cellshard
