#include "lapack_eigen.h"

#define USE_FC_LEN_T
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/eigen_order.h"
#include "../core/errors.h"

namespace cellshard {

void lapack_top_eigen(double* a, int64_t n, int k, double* values, double* vectors) {
  CS_CHECK(n >= 1 && n <= INT32_MAX && k >= 1 && k <= n, "internal: eigenpairs out of range");
  const int ni = int(n), il = ni - k + 1, iu = ni;
  const double unused = 0.0, abstol = 0.0;  // 0: LAPACK's default accuracy
  int found = 0, info = 0;
  std::vector<double> w(static_cast<size_t>(n)), z(static_cast<size_t>(n) * size_t(k));
  std::vector<int> support(2 * size_t(k));
  // Workspace query, then the decomposition.
  int lwork = -1, liwork = -1, iwork_size = 0;
  double work_size = 0;
  F77_CALL(dsyevr)("V", "I", "L", &ni, a, &ni, &unused, &unused, &il, &iu, &abstol, &found,
                   w.data(), z.data(), &ni, support.data(), &work_size, &lwork, &iwork_size,
                   &liwork, &info FCONE FCONE FCONE);
  CS_CHECK(info == 0, "LAPACK dsyevr workspace query failed (info " + std::to_string(info) + ")");
  lwork = int(work_size);
  liwork = iwork_size;
  std::vector<double> work(size_t(std::max(lwork, 1)));
  std::vector<int> iwork(size_t(std::max(liwork, 1)));
  F77_CALL(dsyevr)("V", "I", "L", &ni, a, &ni, &unused, &unused, &il, &iu, &abstol, &found,
                   w.data(), z.data(), &ni, support.data(), work.data(), &lwork, iwork.data(),
                   &liwork, &info FCONE FCONE FCONE);
  if (info != 0 || found != k)
    throw Error("the eigendecomposition for PCA did not converge (LAPACK dsyevr info " +
                std::to_string(info) + ")");
  eigenpairs_decreasing(w.data(), z.data(), n, k, values, vectors);
}

std::vector<double> lapack_band_eigenvalues(std::vector<double>& ab, int64_t n, int kd) {
  CS_CHECK(n >= 1 && n <= INT32_MAX && kd >= 0 && ab.size() >= size_t(kd + 1) * size_t(n),
           "internal: band matrix of the wrong size");
  const int ni = int(n), ldab = kd + 1, ldq = 1;
  const size_t nn = static_cast<size_t>(n);
  std::vector<double> d(nn), e(std::max<size_t>(nn - 1, 1)), work(nn);
  double unused_q = 0;
  int info = 0;
  F77_CALL(dsbtrd)("N", "L", &ni, &kd, ab.data(), &ldab, d.data(), e.data(), &unused_q, &ldq,
                   work.data(), &info FCONE FCONE);
  CS_CHECK(info == 0, "LAPACK dsbtrd failed (info " + std::to_string(info) + ")");
  F77_CALL(dsterf)(&ni, d.data(), e.data(), &info);
  if (info != 0)
    throw Error("the band eigenvalues did not converge (LAPACK dsterf info " + std::to_string(info) + ")");
  return d;
}

std::vector<double> lapack_band_eigenvectors(const std::vector<double>& ab, int64_t n, int kd,
                                             const std::vector<double>& values, double norm) {
  CS_CHECK(n >= 1 && n <= INT32_MAX && kd >= 0 && ab.size() >= size_t(kd + 1) * size_t(n),
           "internal: band matrix of the wrong size");
  const int ni = int(n), kl = kd, ku = kd, ldlu = 2 * kd + kd + 1, one = 1;
  const size_t nn = static_cast<size_t>(n), k = values.size();
  std::vector<double> out(nn * k), lu(size_t(ldlu) * nn);
  std::vector<int> pivots(nn);
  const double cluster_gap = 1e-3 * norm;
  for (size_t v = 0; v < k; ++v) {
    // T - theta I in general band storage: A(i, j) at row kl + ku + i - j of column j.
    // A shift by a few units of rounding keeps the factor non-singular.
    const double theta = values[v] + 4e-16 * norm;
    std::fill(lu.begin(), lu.end(), 0.0);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = j; i <= std::min(n - 1, j + kd); ++i) {
        const double x = ab[size_t(j * (kd + 1) + (i - j))] - (i == j ? theta : 0.0);
        lu[size_t(j * ldlu + kl + ku + i - j)] = x;   // A(i, j)
        lu[size_t(i * ldlu + kl + ku + j - i)] = x;   // A(j, i)
      }
    int info = 0;
    F77_CALL(dgbtrf)(&ni, &ni, &kl, &ku, lu.data(), &ldlu, pivots.data(), &info);
    CS_CHECK(info >= 0, "LAPACK dgbtrf failed (info " + std::to_string(info) + ")");
    if (info > 0) lu[size_t((info - 1) * ldlu + kl + ku)] = 1e-300;  // exactly singular: nudge
    double* x = out.data() + v * nn;
    for (size_t i = 0; i < nn; ++i) x[i] = 1.0 / std::sqrt(double(n)) * ((i * 7 + v) % 5 + 1);
    for (int pass = 0; pass < 2; ++pass) {
      F77_CALL(dgbtrs)("N", &ni, &kl, &ku, &one, lu.data(), &ldlu, pivots.data(), x, &ni,
                       &info FCONE);
      // Orthogonal to the vectors of the same cluster (values within cluster_gap).
      for (size_t u = v; u-- > 0 && std::fabs(values[u] - values[v]) <= cluster_gap;) {
        const double* y = out.data() + u * nn;
        double h = 0;
        for (size_t i = 0; i < nn; ++i) h += x[i] * y[i];
        for (size_t i = 0; i < nn; ++i) x[i] -= h * y[i];
      }
      double len = 0;
      for (size_t i = 0; i < nn; ++i) len += x[i] * x[i];
      len = std::sqrt(len);
      for (size_t i = 0; i < nn; ++i) x[i] /= len;
    }
  }
  return out;
}

}  // namespace cellshard
