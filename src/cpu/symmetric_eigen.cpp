#include "symmetric_eigen.h"

#define USE_FC_LEN_T
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif

#include <algorithm>
#include <string>
#include <vector>

#include "../core/eigen_order.h"
#include "../core/errors.h"

namespace cellshard {

void symmetric_top_eigen(double* a, int64_t n, int k, double* values, double* vectors) {
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

}  // namespace cellshard
