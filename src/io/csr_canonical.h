// Putting rows of host CSR into the form the devices expect: gene indices
// ascending within each row, duplicates summed (scipy's sum_duplicates), and
// checking that every index is a valid gene.
#pragma once
#include <cstdint>
#include <vector>

namespace cellshard {

// Position (into indices) of the first entry outside [0, n_cols), or -1.
int64_t first_index_out_of_range(const std::vector<int32_t>& indices, int64_t n_cols);

// Sorts each row by index and sums duplicate indices, compacting the arrays
// in place (indptr[0] must be 0). Returns the number of entries removed.
int64_t canonicalize_rows(std::vector<int64_t>& indptr, std::vector<int32_t>& indices,
                          std::vector<float>& values);

// Number of distinct indices in each row (after summing duplicates).
std::vector<int64_t> distinct_per_row(const std::vector<int64_t>& indptr,
                                      const std::vector<int32_t>& indices);

}  // namespace cellshard
