#include "eigen_order.h"

#include <algorithm>

namespace cellshard {

void eigenpairs_decreasing(const double* w, const double* z, int64_t n, int k, double* values,
                           double* vectors) {
  for (int j = 0; j < k; ++j) {
    const int from = k - 1 - j;
    values[j] = w[from];
    std::copy(z + int64_t(from) * n, z + int64_t(from + 1) * n, vectors + int64_t(j) * n);
  }
}

}  // namespace cellshard
