// One pass over all shards for each pipeline kernel: runs the kernel on a
// thread per device and combines the per-shard results on the host in
// float64, in shard order (so the result does not depend on thread timing).
#pragma once
#include <cstdint>
#include <vector>

#include "pipeline_kernels.h"
#include "sharded_matrix.h"

namespace cellshard {

// A new layer over the same index with mapped values (row_factor indexed by
// global cell number; col_factor / col_offset by gene).
MatrixPtr map_layer(const ShardedMatrix& m, const ValueMap& map);

// Per-gene moments of f(x) over all cells: arrays of n_cols.
void column_moments(const ShardedMatrix& m, const MomentOptions& options, double* sum,
                    double* sum_sq, int64_t* n_positive);

// Per-cell sums over gene subsets: out[k * n_cells + c].
void subset_sums(const ShardedMatrix& m, const std::vector<uint32_t>& gene_bits, int n_subsets,
                 double* out);

// Per-cell sums of the n largest values, for each n: out[j * n_cells + c].
void top_sums(const ShardedMatrix& m, const std::vector<int>& ns, double* out);

// Genes above `fraction` of some cell's total (row_total has n_cells entries).
std::vector<uint8_t> dominant_genes(const ShardedMatrix& m, const double* row_total,
                                    double fraction);

// X^T X over all cells (n_cols x n_cols, column-major).
std::vector<double> gram_matrix(const ShardedMatrix& m);

// X * V (V: n_cols x k column-major) -> n_cells x k column-major.
std::vector<double> multiply_matrix(const ShardedMatrix& m, const std::vector<double>& v, int k);

}  // namespace cellshard
