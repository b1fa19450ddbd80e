#include "block_tridiagonal.h"

#include <algorithm>
#include <cmath>

namespace cellshard {

double BlockTridiagonal::at(int64_t i, int64_t j) const {
  const int64_t bi = i / b, bj = j / b;
  if (bi == bj) return diag[size_t(bi)][size_t((j % b) * b + i % b)];
  if (bi == bj + 1) return coupling[size_t(bj)][size_t((j % b) * b + i % b)];  // R_bj(i, j)
  return 0.0;
}

std::vector<double> BlockTridiagonal::dense() const {
  const int64_t m = size();
  std::vector<double> t(size_t(m * m), 0.0);
  for (int64_t j = 0; j < m; ++j)
    for (int64_t i = j; i < std::min(m, j + 2 * b); ++i)
      t[size_t(j * m + i)] = t[size_t(i * m + j)] = at(i, j);
  return t;
}

std::vector<double> BlockTridiagonal::band() const {
  const int64_t m = size();
  std::vector<double> ab(size_t((b + 1) * m), 0.0);
  for (int64_t j = 0; j < m; ++j)
    for (int64_t i = j; i < std::min(m, j + b + 1); ++i) ab[size_t(j * (b + 1) + (i - j))] = at(i, j);
  return ab;
}

std::vector<double> BlockTridiagonal::ritz_residuals(const std::vector<double>& y, int k) const {
  const int64_t m = size();
  const std::vector<double>& r = coupling.back();
  std::vector<double> out(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) {
    const double* yl = y.data() + int64_t(i) * m + (m - b);
    double s = 0;
    for (int row = 0; row < b; ++row) {
      double v = 0;
      for (int c = row; c < b; ++c) v += r[size_t(c * b + row)] * yl[c];
      s += v * v;
    }
    out[size_t(i)] = std::sqrt(s);
  }
  return out;
}

double BlockTridiagonal::ritz_residual(const std::vector<double>& y, int k) const {
  double worst = 0;
  for (double r : ritz_residuals(y, k)) worst = std::max(worst, r);
  return worst;
}

}  // namespace cellshard
