#include "sparse_gram.h"

#include <algorithm>
#include <vector>

#include "../core/parallel_for.h"

namespace cellshard {

namespace {

// One block of cells small enough to stay in cache, transposed: for each
// gene, where it is stored in the block's rows (its position and the end of
// its row), in row order.
struct BlockColumns {
  std::vector<int64_t> start;  // n_cols + 1
  std::vector<int64_t> pos;    // position in the shard's arrays
  std::vector<int64_t> row_end;
};

void transpose_block(const CsrView& a, int64_t r0, int64_t r1, BlockColumns& t) {
  const size_t n = size_t(a.n_cols);
  t.start.assign(n + 1, 0);
  for (int64_t k = a.indptr[r0]; k < a.indptr[r1]; ++k) ++t.start[size_t(a.indices[k]) + 1];
  for (size_t g = 0; g < n; ++g) t.start[g + 1] += t.start[g];
  const size_t nnz = size_t(a.indptr[r1] - a.indptr[r0]);
  t.pos.resize(nnz);
  t.row_end.resize(nnz);
  std::vector<int64_t> fill(t.start.begin(), t.start.end() - 1);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k) {
      const size_t at = size_t(fill[size_t(a.indices[k])]++);
      t.pos[at] = k;
      t.row_end[at] = a.indptr[r + 1];
    }
}

// Copies the lower triangle onto the upper one, in tiles (a transpose).
void mirror_lower(double* g, int64_t n) {
  constexpr int64_t kTile = 64;
  const int64_t tiles = (n + kTile - 1) / kTile;
  parallel_for(size_t(tiles), [&](size_t tj) {
    const int64_t j0 = int64_t(tj) * kTile, j1 = std::min(n, j0 + kTile);
    for (int64_t i0 = j0; i0 < n; i0 += kTile) {
      const int64_t i1 = std::min(n, i0 + kTile);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = std::max(i0, j + 1); i < i1; ++i) g[i * n + j] = g[j * n + i];
    }
  });
}

}  // namespace

void sparse_gram(const CsrView& a, const float* values, double* gram) {
  const int64_t n = a.n_cols;
  if (a.nnz == 0 || n == 0) return;
  // Blocks of about 256k non-zeros (2 MB of indices and values): the rows a
  // gene's column revisits stay in cache while its Gram column (n doubles) is
  // being added to.
  constexpr int64_t kBlockNnz = int64_t(1) << 18;
  constexpr int32_t kGenesPerTask = 16;
  BlockColumns t;
  for (int64_t r0 = 0; r0 < a.n_rows;) {
    int64_t r1 = r0 + 1;
    while (r1 < a.n_rows && a.indptr[r1 + 1] - a.indptr[r0] <= kBlockNnz) ++r1;
    transpose_block(a, r0, r1, t);
    // The lower triangle: gene j's column gets, from each cell that has j,
    // x_j times the cell's values of genes >= j (rows are sorted by gene).
    parallel_for(size_t((n + kGenesPerTask - 1) / kGenesPerTask), [&](size_t task) {
      const int64_t j0 = int64_t(task) * kGenesPerTask, j1 = std::min(n, j0 + kGenesPerTask);
      for (int64_t j = j0; j < j1; ++j) {
        double* column = gram + j * n;
        for (int64_t e = t.start[size_t(j)]; e < t.start[size_t(j) + 1]; ++e) {
          const int64_t p = t.pos[size_t(e)], end = t.row_end[size_t(e)];
          const double x = double(values[p]);
          for (int64_t q = p; q < end; ++q) column[a.indices[q]] += x * double(values[q]);
        }
      }
    });
    r0 = r1;
  }
  mirror_lower(gram, n);
}

}  // namespace cellshard
