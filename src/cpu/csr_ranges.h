// How the CPU kernels share one CSR shard among host threads: ranges of rows
// (cells) with about equal numbers of non-zeros, for per-cell work, and
// ranges of genes, for per-gene sums. A gene range is walked row by row, so
// every gene's sum is added in row order whatever the number of threads: the
// results are the same bits as a single-threaded pass.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "../core/backend.h"

namespace cellshard {

// A few pieces per host thread, so that uneven pieces still balance.
size_t cpu_pieces(int64_t work_items, int64_t min_items_per_piece);

// Runs fn(first_row, end_row) over ranges of rows with about equal non-zeros.
void for_row_ranges(const CsrView& a, const std::function<void(int64_t, int64_t)>& fn);

// Runs fn(first_gene, end_gene) over ranges of genes with about equal
// non-zeros (estimated from a sample of rows); each range is run once.
void for_gene_ranges(const CsrView& a, const std::function<void(int32_t, int32_t)>& fn);

// The first position k in [indptr[r], indptr[r + 1]) with indices[k] >= gene
// (rows are sorted by gene).
int64_t first_at_or_after(const CsrView& a, int64_t r, int32_t gene);

}  // namespace cellshard
