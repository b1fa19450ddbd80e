#include "csr_ranges.h"

#include <algorithm>

#include "../core/parallel_for.h"

namespace cellshard {

size_t cpu_pieces(int64_t work_items, int64_t min_items_per_piece) {
  const int64_t by_size = std::max<int64_t>(1, work_items / std::max<int64_t>(1, min_items_per_piece));
  return size_t(std::min<int64_t>(by_size, 4 * int64_t(host_threads())));
}

void for_row_ranges(const CsrView& a, const std::function<void(int64_t, int64_t)>& fn) {
  if (a.n_rows == 0) return;
  // Cut points by non-zeros (plus one per row, so that empty rows also count).
  const int64_t work = a.nnz + a.n_rows;
  const size_t pieces = std::min<size_t>(cpu_pieces(work, 1 << 16), size_t(a.n_rows));
  std::vector<int64_t> cut(pieces + 1, a.n_rows);
  cut[0] = 0;
  for (size_t p = 1; p < pieces; ++p) {
    const int64_t target = work * int64_t(p) / int64_t(pieces);
    // First row r whose start (indptr[r] + r) reaches the target.
    int64_t lo = cut[p - 1], hi = a.n_rows;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (a.indptr[mid] + mid < target) lo = mid + 1; else hi = mid;
    }
    cut[p] = lo;
  }
  parallel_for(pieces, [&](size_t p) {
    if (cut[p] < cut[p + 1]) fn(cut[p], cut[p + 1]);
  });
}

void for_gene_ranges(const CsrView& a, const std::function<void(int32_t, int32_t)>& fn) {
  if (a.n_cols == 0) return;
  const size_t pieces = std::min<size_t>(cpu_pieces(a.nnz, 1 << 18), size_t(a.n_cols));
  if (pieces <= 1) {
    fn(0, int32_t(a.n_cols));
    return;
  }
  // Non-zeros per gene in up to 512 evenly spaced rows (plus one per gene, so
  // that genes never seen still get spread out).
  std::vector<int64_t> seen(size_t(a.n_cols) + 1, 1);
  const int64_t step = std::max<int64_t>(1, a.n_rows / 512);
  for (int64_t r = 0; r < a.n_rows; r += step)
    for (int64_t k = a.indptr[r]; k < a.indptr[r + 1]; ++k) ++seen[size_t(a.indices[k])];
  int64_t total = 0;
  for (int64_t g = 0; g < a.n_cols; ++g) total += seen[size_t(g)];
  std::vector<int32_t> cut{0};
  int64_t acc = 0;
  for (int64_t g = 0; g < a.n_cols; ++g) {
    acc += seen[size_t(g)];
    if (acc * int64_t(pieces) >= total * int64_t(cut.size()) && cut.size() < pieces)
      cut.push_back(int32_t(g + 1));
  }
  cut.push_back(int32_t(a.n_cols));
  parallel_for(cut.size() - 1, [&](size_t p) {
    if (cut[p] < cut[p + 1]) fn(cut[p], cut[p + 1]);
  });
}

int64_t first_at_or_after(const CsrView& a, int64_t r, int32_t gene) {
  const int32_t* begin = a.indices + a.indptr[r];
  const int32_t* end = a.indices + a.indptr[r + 1];
  if (begin == end || *begin >= gene) return a.indptr[r];
  return a.indptr[r] + (std::lower_bound(begin, end, gene) - begin);
}

}  // namespace cellshard
