// Building host CSR over cells from entries in another order (coordinates
// from a MatrixMarket file, or a CSC matrix): a counting sort by cell, then
// each row canonicalised (genes ascending, duplicates summed).
#pragma once
#include <cstdint>
#include <vector>

#include "../core/operations.h"

namespace cellshard {

// Entries (rows[k], cols[k], values[k]); every coordinate must already be in
// range. The input vectors are consumed (cleared) to keep peak memory down.
HostCsr csr_from_coordinates(int64_t n_rows, int64_t n_cols, std::vector<int32_t>& rows,
                             std::vector<int32_t>& cols, std::vector<float>& values);

}  // namespace cellshard
