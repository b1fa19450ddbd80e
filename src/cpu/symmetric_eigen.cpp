#include "symmetric_eigen.h"

#include <cstdlib>

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
    LanczosOptions options;
    // Benchmarks (bench/pca_settings_ab.R): 0 converges the bulk by residuals.
    if (const char* value = std::getenv("CELLSHARD_LANCZOS_VALUE_TOLERANCE")) {
      const double t = std::atof(value);
      if (t >= 0 && t < 1) options.value_tolerance = t;
    }
    LanczosReport report = block_lanczos_top_eigen(a, n, k, values, vectors, options);
    if (report.converged) return "lanczos";
  }
  lapack_top_eigen(a, n, k, values, vectors);
  return "lapack";
}

}  // namespace cellshard
