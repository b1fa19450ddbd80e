// Which contiguous cells of a file this process reads. In an MPI job each
// rank reads only its own share of the cells (readH5AD and friends pass the
// rank and the number of ranks), so no rank reads the whole matrix; without
// MPI there is one part, the whole file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/operations.h"

namespace cellshard {

// Part `part` of `parts`, or an explicit range (first, count >= 0), which
// wins: the layers of an h5ad file take the cells that X's share took.
struct RowShare {
  int part = 0;
  int parts = 1;
  int64_t first = -1;
  int64_t count = -1;
};

struct RowRange {
  int64_t first = 0;
  int64_t count = 0;
};

// The rows of `share` among the file's n_rows. With `prefix` (the n_rows + 1
// prefix sums of non-zeros per row) the parts hold about equal non-zeros,
// else equal numbers of rows; contiguous, in rank order, at least one row
// each. `who` starts error messages.
RowRange share_rows(const RowShare& share, int64_t n_rows, const std::vector<int64_t>* prefix,
                    const std::string& who);

// Rows [range.first, range.first + range.count) of a host CSR matrix.
HostCsr slice_rows(HostCsr csr, const RowRange& range);

}  // namespace cellshard
