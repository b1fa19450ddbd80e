// One pass over all shards for each pipeline kernel: runs the kernel on a
// thread per device. Per-gene results are accumulated on each device in
// float64 and summed across devices with NCCL (core/device_partials.h); only
// the totals come to the host. Per-cell results go straight to host arrays.
#pragma once
#include <cstdint>
#include <vector>

#include "dense_shards.h"
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

// Per-gene sums and counts of values > 0 (arrays of n_cols), as col_stats.
struct GeneTotals {
  double* sum = nullptr;
  int64_t* n_positive = nullptr;
};

// The QC pass per cell: sums and counts of values > 0 (as row_stats; both
// null: not wanted) and the sums over gene subsets (into subset_out,
// out[k * n_cells + c]), from one read of each shard where the backend can;
// with `genes` set, the per-gene totals too, from the same pass (a shard kept
// off its device crosses the link once for all of QC).
void cell_qc(const ShardedMatrix& m, const std::vector<uint32_t>& gene_bits, int n_subsets,
             double* sums, int64_t* n_positive, double* subset_out, GeneTotals genes = {});

// Per-cell sums of the n largest values, for each n: out[j * n_cells + c].
void top_sums(const ShardedMatrix& m, const std::vector<int>& ns, double* out);

// Genes above `fraction` of some cell's total (row_total has n_cells entries).
std::vector<uint8_t> dominant_genes(const ShardedMatrix& m, const double* row_total,
                                    double fraction);

// The k leading eigenpairs of X^T X (zero_center = false) or of the
// covariance X^T X / n - mu mu^T (true) of X = D + 1 b^T, where D is `d` (the
// stored values as offsets from the per-gene background b; empty b: zero) and
// `col_sums` its column sums (from column_moments). The n_cols x n_cols
// matrix is built and decomposed on the first device and never leaves it.
// In an MPI job, n counts the cells of every rank and rank 0 decomposes and
// broadcasts the eigenpairs.
struct Eigenpairs {
  std::vector<double> values;   // k, decreasing
  std::vector<double> vectors;  // n_cols x k, column-major; each column's largest-magnitude
                                // entry positive (largest_loading_positive)
  std::vector<double> shift;    // k: the scores' offsets, b^T V, or (b - mu)^T V when centred
  double gram_seconds = 0;      // building the matrix (Gram pass, all-reduce, corrections)
  double eigen_seconds = 0;     // the eigensolver
};
Eigenpairs covariance_eigen(const ShardedMatrix& d, const std::vector<double>& background,
                            const std::vector<double>& col_sums, bool zero_center, int k);

// X * V + 1 shift^T (V: n_cols x k column-major, read where it lies; shift:
// k entries or null), each shard's rows left on its device. V's entries are
// rounded to float32 first, the precision of the stored values: the GPU's
// projection is bound by reading a row of V for every stored value (L2), so
// this halves its bytes, and every backend multiplies the same numbers.
DenseShardsPtr multiply_matrix(const ShardedMatrix& m, const double* v, int k,
                               const double* shift);

}  // namespace cellshard
