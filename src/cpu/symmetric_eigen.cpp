#include "symmetric_eigen.h"

#include "../core/errors.h"
#include "block_lanczos.h"
#include "lapack_eigen.h"

namespace cellshard {

std::string symmetric_top_eigen(double* a, int64_t n, int k, double* values, double* vectors,
                                const std::string& method) {
  CS_CHECK(method == "auto" || method == "lapack" || method == "lanczos",
           "internal: unknown eigensolver " + method);
  // Lanczos pays off when its basis (typically 10 k for the flat spectra of
  // single-cell data) stays well below n; below 1,000 genes LAPACK takes
  // well under a second anyway.
  const bool lanczos = method == "lanczos" || (method == "auto" && n >= 1000 && int64_t(k) * 20 <= n);
  if (lanczos) {
    LanczosReport report = block_lanczos_top_eigen(a, n, k, values, vectors);
    if (report.converged) return "lanczos";
  }
  lapack_top_eigen(a, n, k, values, vectors);
  return "lapack";
}

}  // namespace cellshard
