// Putting rows of host CSR into the form the devices expect: gene indices
// ascending within each row, duplicates summed (scipy's sum_duplicates), and
// checking that every index is a valid gene.
#pragma once
#include <cstdint>
#include <vector>

namespace cellshard {

// What one pass over the entries of host CSR rows found.
struct EntryCheck {
  int64_t index_out_of_range = -1;  // first entry whose index is outside [0, n_cols), or -1
  int64_t not_finite = -1;          // first entry whose value is NaN or infinite, or -1
  bool canonical = true;            // every row's indices strictly increase
};

// Checks the indptr.back() entries of `indices` and `values` (rows given by
// indptr, which starts at 0) on host threads, each entry read once.
EntryCheck check_entries(const std::vector<int64_t>& indptr, const int32_t* indices,
                         const float* values, int64_t n_cols);

// The same for entries [begin, end) only, on the calling thread. `canonical`
// covers the rows' order within the range and, `with_previous`, against the
// entry before it when that one is in the same row.
EntryCheck check_entry_range(const std::vector<int64_t>& indptr, const int32_t* indices,
                             const float* values, int64_t n_cols, int64_t begin, int64_t end,
                             bool with_previous = true);

// The checks of consecutive ranges, in order, as one: the first bad entries.
EntryCheck first_of(const std::vector<EntryCheck>& in_order);

// Sorts each row by index and sums duplicate indices, compacting the arrays
// in place (indptr[0] must be 0; indices and values hold indptr.back()
// entries). Returns the number of entries removed; the arrays' first
// indptr.back() entries (updated) are the result.
int64_t canonicalize_rows(std::vector<int64_t>& indptr, int32_t* indices, float* values);

// Number of distinct indices in each row (after summing duplicates).
std::vector<int64_t> distinct_per_row(const std::vector<int64_t>& indptr,
                                      const std::vector<int32_t>& indices);

}  // namespace cellshard
