#include "csr_canonical.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "../core/parallel_for.h"

namespace cellshard {

// Entries per piece when a check is spread over host threads.
static const size_t kPiece = size_t(1) << 20;

int64_t first_index_out_of_range(const std::vector<int32_t>& indices, int64_t n_cols) {
  return first_index_where(indices.size(), [&](size_t k) {
    return indices[k] < 0 || int64_t(indices[k]) >= n_cols;
  });
}

static bool strictly_increasing(const int32_t* idx, int64_t n) {
  for (int64_t k = 1; k < n; ++k)
    if (idx[k] <= idx[k - 1]) return false;
  return true;
}

// Whether every row already has strictly increasing indices (checked on host threads).
static bool all_rows_canonical(const std::vector<int64_t>& indptr,
                               const std::vector<int32_t>& indices) {
  const size_t n_rows = indptr.size() - 1;
  const size_t pieces = std::max<size_t>(1, std::min(n_rows, indices.size() / kPiece));
  std::vector<char> ok(pieces, 1);
  parallel_for(pieces, [&](size_t p) {
    for (size_t r = n_rows * p / pieces, end = n_rows * (p + 1) / pieces; r < end; ++r)
      if (!strictly_increasing(indices.data() + indptr[r], indptr[r + 1] - indptr[r])) {
        ok[p] = 0;
        return;
      }
  });
  return std::all_of(ok.begin(), ok.end(), [](char c) { return c != 0; });
}

int64_t canonicalize_rows(std::vector<int64_t>& indptr, std::vector<int32_t>& indices,
                          std::vector<float>& values) {
  int64_t n_rows = int64_t(indptr.size()) - 1;
  // The usual case (files written by scipy, anndata or cellshard): nothing to do.
  if (n_rows <= 0 || all_rows_canonical(indptr, indices)) return 0;
  int64_t write = 0;
  std::vector<std::pair<int32_t, float>> row;
  for (int64_t r = 0; r < n_rows; ++r) {
    int64_t lo = indptr[size_t(r)], hi = indptr[size_t(r + 1)];
    indptr[size_t(r)] = write;
    if (strictly_increasing(indices.data() + lo, hi - lo)) {
      // The usual case: already canonical, only shift left if entries were dropped.
      if (write != lo) {
        std::copy(indices.begin() + lo, indices.begin() + hi, indices.begin() + write);
        std::copy(values.begin() + lo, values.begin() + hi, values.begin() + write);
      }
      write += hi - lo;
      continue;
    }
    row.clear();
    for (int64_t k = lo; k < hi; ++k) row.emplace_back(indices[size_t(k)], values[size_t(k)]);
    // Stable, so duplicates are summed in file order (as scipy does).
    std::stable_sort(row.begin(), row.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t k = 0; k < row.size(); ++k) {
      if (k > 0 && row[k].first == row[k - 1].first) {
        values[size_t(write - 1)] += row[k].second;
      } else {
        indices[size_t(write)] = row[k].first;
        values[size_t(write)] = row[k].second;
        ++write;
      }
    }
  }
  int64_t removed = int64_t(indices.size()) - write;
  indptr[size_t(n_rows)] = write;
  indices.resize(size_t(write));
  values.resize(size_t(write));
  return removed;
}

std::vector<int64_t> distinct_per_row(const std::vector<int64_t>& indptr,
                                      const std::vector<int32_t>& indices) {
  int64_t n_rows = int64_t(indptr.size()) - 1;
  std::vector<int64_t> counts(size_t(std::max<int64_t>(n_rows, 0)));
  std::vector<int32_t> row;
  for (int64_t r = 0; r < n_rows; ++r) {
    int64_t lo = indptr[size_t(r)], hi = indptr[size_t(r + 1)];
    if (strictly_increasing(indices.data() + lo, hi - lo)) {
      counts[size_t(r)] = hi - lo;
      continue;
    }
    row.assign(indices.begin() + lo, indices.begin() + hi);
    std::sort(row.begin(), row.end());
    counts[size_t(r)] = int64_t(std::unique(row.begin(), row.end()) - row.begin());
  }
  return counts;
}

}  // namespace cellshard
