#include "chunk_plan.h"

#include <algorithm>
#include <limits>

namespace cellshard {

std::vector<int64_t> plan_chunks(const std::vector<int64_t>& row_prefix,
                                 const std::vector<int64_t>& shard_first_rows,
                                 const ChunkLimits& limits) {
  int64_t n_rows = int64_t(row_prefix.size()) - 1;
  int64_t max_nnz = std::max<int64_t>(1, limits.max_nnz);
  int64_t max_rows = std::max<int64_t>(1, limits.max_rows);
  std::vector<int64_t> starts{0};
  size_t shard = 0;
  int64_t row = 0;
  while (row < n_rows) {
    while (shard + 1 < shard_first_rows.size() && shard_first_rows[shard + 1] <= row) ++shard;
    int64_t shard_end = shard + 1 < shard_first_rows.size() ? shard_first_rows[shard + 1] : n_rows;
    int64_t limit_end = std::min(shard_end, row + max_rows);
    // Last row end whose non-zeros still fit, found by binary search.
    int64_t base = row_prefix[size_t(row)];
    int64_t budget = max_nnz > std::numeric_limits<int64_t>::max() - base
                         ? std::numeric_limits<int64_t>::max()
                         : base + max_nnz;
    auto first = row_prefix.begin() + row + 1, last = row_prefix.begin() + limit_end + 1;
    int64_t end = int64_t(std::upper_bound(first, last, budget) - row_prefix.begin()) - 1;
    end = std::max(end, row + 1);
    starts.push_back(end);
    row = end;
  }
  return starts;
}

}  // namespace cellshard
