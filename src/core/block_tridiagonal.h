// The block tridiagonal T = Q^T A Q of block Lanczos (CPU in
// src/cpu/block_lanczos.cpp, GPU in src/cuda/lanczos_on_device.cu): diagonal
// blocks D_j and the upper triangular R_j that couple block j + 1 to block j
// (A Q_j = Q_{j-1} R_{j-1}^T + Q_j D_j + Q_{j+1} R_j). Host memory, small.
#pragma once
#include <cstdint>
#include <vector>

namespace cellshard {

struct BlockTridiagonal {
  int b;
  std::vector<std::vector<double>> diag, coupling;  // b x b each, column-major

  int64_t size() const { return int64_t(diag.size()) * b; }
  double at(int64_t i, int64_t j) const;  // i >= j
  // T (m x m) dense, both triangles.
  std::vector<double> dense() const;
  // T in LAPACK lower band storage with b sub-diagonals.
  std::vector<double> band() const;
  // ||R_last y_last|| of each column y of Y (m x k), y_last its last block:
  // the residual norm ||A Q y - theta Q y|| of each Ritz pair.
  std::vector<double> ritz_residuals(const std::vector<double>& y, int k) const;
  // The largest of them.
  double ritz_residual(const std::vector<double>& y, int k) const;
};

}  // namespace cellshard
