#include "csr_canonical.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <numeric>
#include <utility>

#include "../core/parallel_for.h"

namespace cellshard {

// Entries per piece when a check is spread over host threads.
static const size_t kPiece = size_t(1) << 20;

static bool strictly_increasing(const int32_t* idx, int64_t n) {
  for (int64_t k = 1; k < n; ++k)
    if (idx[k] <= idx[k - 1]) return false;
  return true;
}

static bool finite(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x7f800000u) != 0x7f800000u;
}

EntryCheck check_entry_range(const std::vector<int64_t>& indptr, const int32_t* indices,
                             const float* values, int64_t n_cols, int64_t begin, int64_t end,
                             bool with_previous) {
  EntryCheck f;
  if (begin >= end) return f;
  const uint32_t limit = uint32_t(std::min<int64_t>(n_cols, INT32_MAX));
  // The row that holds entry `begin`, then row by row: comparisons without
  // branches, so that the loops vectorise.
  size_t r = size_t(std::upper_bound(indptr.begin(), indptr.end(), begin) - indptr.begin()) - 1;
  bool in_range = true, is_finite = true, increasing = true;
  for (int64_t k = begin; k < end;) {
    while (indptr[r + 1] <= k) ++r;
    const int64_t stop = std::min(indptr[r + 1], end);
    if (k > indptr[r] && (k > begin || with_previous)) increasing &= indices[k] > indices[k - 1];
    for (int64_t j = k + 1; j < stop; ++j) increasing &= indices[j] > indices[j - 1];
    for (int64_t j = k; j < stop; ++j) {
      in_range &= uint32_t(indices[j]) < limit;
      is_finite &= finite(values[j]);
    }
    k = stop;
  }
  f.canonical = increasing;
  // Rare: find where the range went wrong.
  for (int64_t k = begin; k < end && (!in_range || !is_finite); ++k) {
    if (!in_range && f.index_out_of_range < 0 && uint32_t(indices[k]) >= limit) f.index_out_of_range = k;
    if (!is_finite && f.not_finite < 0 && !finite(values[k])) f.not_finite = k;
    if ((in_range || f.index_out_of_range >= 0) && (is_finite || f.not_finite >= 0)) break;
  }
  return f;
}

EntryCheck first_of(const std::vector<EntryCheck>& in_order) {
  EntryCheck all;
  for (const EntryCheck& f : in_order) {
    if (all.index_out_of_range < 0) all.index_out_of_range = f.index_out_of_range;
    if (all.not_finite < 0) all.not_finite = f.not_finite;
    all.canonical = all.canonical && f.canonical;
  }
  return all;
}

EntryCheck check_entries(const std::vector<int64_t>& indptr, const int32_t* indices,
                         const float* values, int64_t n_cols) {
  const int64_t n = indptr.back();
  const size_t pieces = std::max<size_t>(1, size_t(n) / kPiece);
  std::vector<EntryCheck> found(pieces);
  parallel_for(pieces, [&](size_t p) {
    found[p] = check_entry_range(indptr, indices, values, n_cols, n * int64_t(p) / int64_t(pieces),
                                 n * int64_t(p + 1) / int64_t(pieces));
  });
  return first_of(found);
}

// Whether every row already has strictly increasing indices (checked on host threads).
static bool all_rows_canonical(const std::vector<int64_t>& indptr, const int32_t* indices) {
  const size_t n_rows = indptr.size() - 1;
  const size_t pieces = std::max<size_t>(1, std::min(n_rows, size_t(indptr.back()) / kPiece));
  std::vector<char> ok(pieces, 1);
  parallel_for(pieces, [&](size_t p) {
    for (size_t r = n_rows * p / pieces, end = n_rows * (p + 1) / pieces; r < end; ++r)
      if (!strictly_increasing(indices + indptr[r], indptr[r + 1] - indptr[r])) {
        ok[p] = 0;
        return;
      }
  });
  return std::all_of(ok.begin(), ok.end(), [](char c) { return c != 0; });
}

int64_t canonicalize_rows(std::vector<int64_t>& indptr, int32_t* indices, float* values) {
  int64_t n_rows = int64_t(indptr.size()) - 1;
  // The usual case (files written by scipy, anndata or cellshard): nothing to do.
  if (n_rows <= 0 || all_rows_canonical(indptr, indices)) return 0;
  const int64_t n = indptr.back();
  int64_t write = 0;
  std::vector<std::pair<int32_t, float>> row;
  for (int64_t r = 0; r < n_rows; ++r) {
    int64_t lo = indptr[size_t(r)], hi = indptr[size_t(r + 1)];
    indptr[size_t(r)] = write;
    if (strictly_increasing(indices + lo, hi - lo)) {
      // The usual case: already canonical, only shift left if entries were dropped.
      if (write != lo) {
        std::copy(indices + lo, indices + hi, indices + write);
        std::copy(values + lo, values + hi, values + write);
      }
      write += hi - lo;
      continue;
    }
    row.clear();
    for (int64_t k = lo; k < hi; ++k) row.emplace_back(indices[k], values[k]);
    // Stable, so duplicates are summed in file order (as scipy does).
    std::stable_sort(row.begin(), row.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t k = 0; k < row.size(); ++k) {
      if (k > 0 && row[k].first == row[k - 1].first) {
        values[write - 1] += row[k].second;
      } else {
        indices[write] = row[k].first;
        values[write] = row[k].second;
        ++write;
      }
    }
  }
  indptr[size_t(n_rows)] = write;
  return n - write;
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
