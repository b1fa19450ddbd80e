// Whole-matrix operations written once over shards: each runs the backend's
// per-shard kernel on a thread per device, then combines on the host in float64.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "sharded_matrix.h"

namespace cellshard {

// Runs fn(s) for every shard s, one thread per device (shards of one device in
// order); waits for all, then rethrows the first exception.
void for_each_shard(const std::vector<int>& shard_devices, const std::function<void(size_t)>& fn);

// Devices of the shards of an index, in shard order.
std::vector<int> shard_devices(const ShardedIndex& index);

// Per-cell sums and counts of values > 0 (arrays of n_rows).
void row_stats(const ShardedMatrix& m, double* sums, int64_t* n_positive);
// Per-gene sums and counts of values > 0 (arrays of n_cols), summed over shards.
void col_stats(const ShardedMatrix& m, double* sums, int64_t* n_positive);

// The matrix of the given cells (global 0-based, any order, repeats allowed)
// and genes. Layers sharing one index that are subset with the same cells and
// genes get results sharing one new index (the last index built is remembered).
// With `cell_totals` (a filter, which normalisation follows), a result whose
// shards stream keeps its cells' row_stats(), counted in the subset's own
// passes, so that they cost no pass later.
MatrixPtr subset(const ShardedMatrix& m, const std::vector<int64_t>& rows, const GeneMap& genes,
                 bool cell_totals = false);

// subset() of every cell: each shard keeps its cells, only genes change, with
// no work per cell on the host (the HVG subset of millions of cells).
MatrixPtr subset_genes(const ShardedMatrix& m, const GeneMap& genes);

// Moves cells so that shards follow `placement` (same total of cells). When
// the shards already do, the result shares the index and the values.
MatrixPtr rebalance(const ShardedMatrix& m, const Placement& placement);

// Gene map for a list of 0-based gene numbers (any order, repeats allowed).
GeneMap make_gene_map(int64_t n_source_genes, const std::vector<int64_t>& keep);
GeneMap identity_gene_map(int64_t n_genes);

// The whole matrix as host CSR (cells x genes).
struct HostCsr {
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  std::vector<int64_t> indptr;
  std::vector<int32_t> indices;
  std::vector<float> values;
};
HostCsr to_host(const ShardedMatrix& m);

// Uploads host CSR to shards placed by `placement` (rows must add up).
MatrixPtr from_host(const HostCsr& csr, const Placement& placement);

// A new layer over the same index as `like`, with values from host (nnz floats, cell order).
MatrixPtr with_host_values(const ShardedMatrix& like, const std::vector<float>& values);

}  // namespace cellshard
