#include "sparse_project.h"

#include <vector>

#include "../core/parallel_for.h"
#include "csr_ranges.h"
#include "simd.h"

namespace cellshard {

void sparse_project(const CsrView& a, const float* values, const float* v, int k,
                    const double* shift, double* out, int64_t ld_out) {
  const int64_t n = a.n_cols;
  // V by rows (gene g's k loadings side by side, padded to a multiple of 4),
  // so that each stored value adds one contiguous row into the cell's scores.
  const int64_t kp = (int64_t(k) + 3) / 4 * 4;
  std::vector<double> by_gene(size_t(n * kp), 0.0);
  parallel_ranges(size_t(n), cpu_pieces(n * k, 1 << 16), [&](size_t g0, size_t g1) {
    for (size_t g = g0; g < g1; ++g)
      for (int j = 0; j < k; ++j) by_gene[g * size_t(kp) + size_t(j)] = double(v[int64_t(j) * n + int64_t(g)]);
  });
  for_row_ranges(a, [&](int64_t r0, int64_t r1) {
    std::vector<double4> acc(size_t(kp / 4));
    for (int64_t r = r0; r < r1; ++r) {
      for (double4& x : acc) x = splat4(0.0);
      for (int64_t p = a.indptr[r]; p < a.indptr[r + 1]; ++p) {
        const double4 x = splat4(double(values[p]));
        const double* row = by_gene.data() + int64_t(a.indices[p]) * kp;
        for (size_t j = 0; j < acc.size(); ++j) acc[j] += x * load4(row + 4 * j);
      }
      for (int j = 0; j < k; ++j) {
        const double s = acc[size_t(j / 4)][j % 4];
        out[int64_t(j) * ld_out + r] = shift ? s + shift[j] : s;
      }
    }
  });
}

}  // namespace cellshard
