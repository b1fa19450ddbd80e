// The leading eigenpairs of a large dense symmetric matrix (the Gram or
// covariance matrix of PCA, 5,000 genes and more) on the host, in far fewer
// flops than a full tridiagonal reduction: block Lanczos with full
// reorthogonalisation, and Rayleigh-Ritz on the small block tridiagonal
// matrix. Its answer is checked against the matrix itself before it is used.
#pragma once
#include <cstdint>

namespace cellshard {

struct LanczosOptions {
  int block = 16;            // vectors per block: one pass over the matrix serves them all
  // Converged when every wanted Ritz pair has ||A v - theta v|| <= tolerance x
  // ||A||_2 (the largest Ritz value's magnitude). An eigenvector whose
  // eigenvalue is separated from the others by g is then within an angle of
  // tolerance x ||A|| / g of the exact one.
  double tolerance = 1e-11;
  // A pair within 1% of both neighbours (a flat bulk: the SPEC holds its
  // eigenvalue, not its vector) is converged once its Ritz value's error,
  // estimated as ||r||^2 over its distance to the (k + 1)-th Ritz value, is
  // within value_tolerance x |theta| (spec_locking.h). 0: by the residual
  // alone.
  double value_tolerance = 1e-6;
  int64_t max_basis = 0;     // largest Krylov basis (0: 2/5 of n, at least 3 k + 2 block)
  uint64_t seed = 20240611;  // the random start block (fixed: same answer every run)
};

struct LanczosReport {
  bool converged = false;    // false: the caller must use another method
  int64_t basis = 0;         // Krylov basis size reached
  int dense_checks = 0;      // Rayleigh-Ritz solves with eigenvectors
  double max_residual = 0;   // max ||A v - theta v|| / ||A||, measured on A
};

// The k algebraically largest eigenvalues of the n x n column-major symmetric
// `a` (both triangles), decreasing, into `values` (k), and their unit
// eigenvectors into `vectors` (n x k, column-major). Valid only when the
// report says converged (each residual on A within 10 times its bound).
LanczosReport block_lanczos_top_eigen(const double* a, int64_t n, int k, double* values,
                                      double* vectors, const LanczosOptions& options = {});

}  // namespace cellshard
