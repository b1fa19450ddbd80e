#include "eigen_order.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cellshard {

void eigenpairs_decreasing(const double* w, const double* z, int64_t n, int k, double* values,
                           double* vectors) {
  std::vector<int> order(static_cast<size_t>(k));
  for (int j = 0; j < k; ++j) order[size_t(j)] = k - 1 - j;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[a] > w[b]; });
  for (int j = 0; j < k; ++j) {
    const int from = order[size_t(j)];
    values[j] = w[from];
    std::copy(z + int64_t(from) * n, z + int64_t(from + 1) * n, vectors + int64_t(j) * n);
  }
}

void largest_loading_positive(int64_t n, int k, double* vectors) {
  for (int j = 0; j < k; ++j) {
    double* column = vectors + int64_t(j) * n;
    int64_t largest = 0;
    for (int64_t i = 1; i < n; ++i)
      if (std::fabs(column[i]) > std::fabs(column[largest])) largest = i;
    if (column[largest] < 0)
      for (int64_t i = 0; i < n; ++i) column[i] = -column[i];
  }
}

}  // namespace cellshard
